"""Domain errors. Each carries its outcome: a stable code, an HTTP status,
whether a retry can help, and a message that tells the user what to do.

They are raised anywhere (services, engines, the job layer) and translated at
one boundary each: the API's error envelope (pressroom.api.errors) and the
task execution pattern (pressroom.tasks.base). docs/api.md lists the codes.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PressroomError(Exception):
    """Base of every error a user can cause or see."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False
    default_message: ClassVar[str] = "Something went wrong on the server."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


# -- request and input errors (4xx, never retried) -----------------------------
class ValidationError(PressroomError):
    code = "VALIDATION_ERROR"
    http_status = 400
    default_message = "The request is not valid; see details."


class MissingFileError(PressroomError):
    code = "MISSING_FILE"
    http_status = 400
    default_message = "No file was uploaded; send it as the multipart field 'file'."


class EmptyFileError(PressroomError):
    code = "EMPTY_FILE"
    http_status = 400
    default_message = "The uploaded file is empty."


class TooManyFilesError(PressroomError):
    code = "TOO_MANY_FILES"
    http_status = 400
    default_message = "Too many files in one request."


class InvalidJobIdError(PressroomError):
    code = "INVALID_JOB_ID"
    http_status = 400
    default_message = "job_id must be 1-64 characters of letters, digits, '-' or '_'."


class FileTooLargeError(PressroomError):
    code = "FILE_TOO_LARGE"
    http_status = 413
    default_message = "The upload is larger than this server accepts."


class UnsupportedFileTypeError(PressroomError):
    code = "UNSUPPORTED_FILE_TYPE"
    http_status = 415
    default_message = "The file is not a PDF (its content does not start like one)."


class DamagedPDFError(PressroomError):
    code = "PDF_DAMAGED"
    http_status = 422
    default_message = "The PDF is damaged or truncated and could not be read."


class EncryptedPDFError(PressroomError):
    code = "PDF_ENCRYPTED"
    http_status = 422
    default_message = "The PDF is password-protected; send its password or an unlocked copy."


class JobNotFoundError(PressroomError):
    code = "JOB_NOT_FOUND"
    http_status = 404
    default_message = "No job with this id."


class JobConflictError(PressroomError):
    code = "JOB_ID_CONFLICT"
    http_status = 409
    default_message = "A different job already uses this job_id; choose another id."


class JobNotReadyError(PressroomError):
    code = "JOB_NOT_READY"
    http_status = 409
    default_message = "The job has not completed; its result cannot be downloaded yet."


class NoResultFileError(PressroomError):
    code = "NO_RESULT_FILE"
    http_status = 404
    default_message = "This job has no file to download."


class ResultExpiredError(PressroomError):
    code = "RESULT_EXPIRED"
    http_status = 410
    default_message = "The result was deleted after its retention time; submit the job again."


class InvalidTransitionError(PressroomError):
    code = "INVALID_TRANSITION"
    http_status = 409
    default_message = "The job cannot move to that state from its current one."


class NotFoundError(PressroomError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "No such endpoint."


class MethodNotAllowedError(PressroomError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405
    default_message = "This endpoint does not accept that method."


# -- service-side errors -------------------------------------------------------
class ServiceUnavailableError(PressroomError):
    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    retryable = True
    default_message = "A backing service is unavailable; try again shortly."


class BrokerUnavailableError(ServiceUnavailableError):
    code = "BROKER_UNAVAILABLE"
    default_message = "The job queue is unavailable; nothing was queued, try again shortly."


class StorageError(PressroomError):
    code = "STORAGE_ERROR"
    http_status = 507
    retryable = True
    default_message = "The file could not be stored (storage full or unavailable)."


class EngineTimeoutError(PressroomError):
    code = "ENGINE_TIMEOUT"
    http_status = 504
    retryable = True
    default_message = "A processing engine took too long on this file."


class EngineError(PressroomError):
    code = "ENGINE_FAILED"
    http_status = 422
    default_message = "The processing engine could not handle this file."


class EngineMissingError(PressroomError):
    code = "ENGINE_MISSING"
    http_status = 503
    default_message = "A required program is not installed on the server."


class BulkAllFailedError(PressroomError):
    """A bulk job in which not one file could be processed."""

    code = "BULK_ALL_FAILED"
    http_status = 422
    default_message = "None of the files could be processed."


class InputMissingError(PressroomError):
    code = "INPUT_MISSING"
    http_status = 410
    default_message = "The job's input file is gone; submit the job again."


class WorkerLostError(PressroomError):
    code = "WORKER_LOST"
    http_status = 500
    default_message = "The worker running this job stopped too many times; the job was abandoned."


class ForkServerLostError(WorkerLostError):
    """The worker's fork server (pressroom.engines.forkserver), and with it
    the child running the job's engine, stopped: not the file's fault."""

    retryable = True
    default_message = "The worker process running this job's engine stopped; the job is retried."


class TimeLimitError(PressroomError):
    code = "TIME_LIMIT_EXCEEDED"
    http_status = 504
    default_message = "The job ran past its time limit."


class JobCancelledError(PressroomError):
    """Raised inside a running task when its job was cancelled by the client."""

    code = "JOB_CANCELLED"
    http_status = 409
    default_message = "The job was cancelled."


class StaleAttemptError(PressroomError):
    """Raised inside a task whose attempt was superseded (the job was re-dispatched)."""

    code = "STALE_ATTEMPT"
    http_status = 409
    default_message = "This attempt was superseded by a newer one."


# -- AI (summarize, translate, structured extraction) --------------------------
class TextTooLongError(PressroomError):
    code = "TEXT_TOO_LONG"
    http_status = 413
    default_message = "The text is longer than this server accepts (PRESSROOM_AI_MAX_TEXT_CHARS)."


class AIModelNotAllowedError(PressroomError):
    code = "AI_MODEL_NOT_ALLOWED"
    http_status = 400
    default_message = "This model is not allowed here; see the capabilities for the models."


class AIProviderNotConfiguredError(PressroomError):
    code = "AI_PROVIDER_NOT_CONFIGURED"
    http_status = 503
    default_message = (
        "No AI provider is configured on this server (PRESSROOM_AI_BASE_URL); "
        "this operation needs one."
    )


class AIProviderUnavailableError(PressroomError):
    """The provider is down, overloaded or rate-limiting: a later attempt can work."""

    code = "AI_PROVIDER_UNAVAILABLE"
    http_status = 503
    retryable = True
    default_message = "The AI provider is unavailable or rate-limited; the job is retried later."


class AIProviderTimeoutError(PressroomError):
    code = "AI_PROVIDER_TIMEOUT"
    http_status = 504
    retryable = True
    default_message = "The AI provider did not answer in time (PRESSROOM_AI_TIMEOUT_SECONDS)."


class AIProviderRejectedError(PressroomError):
    """The provider refused the request (bad request, key, unknown model): a retry cannot help."""

    code = "AI_PROVIDER_REJECTED"
    http_status = 502
    default_message = "The AI provider refused the request; check the key, the model and the input."


class AIOutputInvalidError(PressroomError):
    code = "AI_OUTPUT_INVALID"
    http_status = 502
    default_message = "The model's answer did not match the expected format, even after a repair."


class NoTextLayerError(PressroomError):
    """A PDF without text where the operation needs its text (summarize,
    translate, invoice and statement extraction)."""

    code = "NO_TEXT_LAYER"
    http_status = 422
    default_message = (
        "The PDF has no text to read (a scanned document?): run it through OCR first "
        "(POST /api/ocr), then use the searchable PDF."
    )


class PageRangeError(PressroomError):
    """The ``pages`` option asks for pages the document does not have."""

    code = "INVALID_PAGE_RANGE"
    http_status = 422
    default_message = "The page range does not fit the document."


# -- access, limits and webhooks (pressroom/access, pressroom/webhooks) --------
class AuthRequiredError(PressroomError):
    code = "AUTH_REQUIRED"
    http_status = 401
    default_message = "This server needs an API key: send it in the X-API-Key header."


class InvalidApiKeyError(PressroomError):
    code = "INVALID_API_KEY"
    http_status = 401
    default_message = "The API key is unknown or revoked."


class RateLimitedError(PressroomError):
    code = "RATE_LIMITED"
    http_status = 429
    retryable = True
    default_message = "Too many requests; wait for the time in Retry-After and try again."


class TooManyOpenJobsError(PressroomError):
    code = "TOO_MANY_OPEN_JOBS"
    http_status = 429
    retryable = True
    default_message = "This API key has too many unfinished jobs; wait for some to finish."


class TooManyPagesError(PressroomError):
    code = "TOO_MANY_PAGES"
    http_status = 413
    default_message = "The PDF has more pages than this server accepts."


class ImageTooLargeError(PressroomError):
    code = "IMAGE_TOO_LARGE"
    http_status = 413
    default_message = "The image has more pixels than this server accepts."


class CallbackUrlNotAllowedError(PressroomError):
    code = "CALLBACK_URL_NOT_ALLOWED"
    http_status = 400
    default_message = "The callback_url is not allowed: it must be a public http(s) address."


class JobListDisabledError(PressroomError):
    code = "JOB_LIST_DISABLED"
    http_status = 403
    default_message = (
        "Listing jobs needs API keys (PRESSROOM_AUTH=api_key): without keys a job id is "
        "its own capability."
    )


# -- OCR -------------------------------------------------------------------------
class LanguageNotInstalledError(PressroomError):
    """An OCR language whose Tesseract pack is not installed on this server."""

    code = "LANGUAGE_NOT_INSTALLED"
    http_status = 400
    default_message = "That OCR language is not installed; details.installed lists those that are."


class SignedPDFError(PressroomError):
    code = "PDF_SIGNED"
    http_status = 422
    default_message = (
        "The PDF is digitally signed, and adding a text layer would invalidate the signature. "
        "Set invalidateSignature=true to OCR it anyway and drop the signature."
    )


class DamagedImageError(PressroomError):
    code = "IMAGE_DAMAGED"
    http_status = 422
    default_message = "The image is damaged or truncated and could not be read."


ERROR_CLASSES: tuple[type[PressroomError], ...] = tuple(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, PressroomError)
)
