"""POST /api/ai/summarize and POST /api/ai/translate.

Each takes the PDF Smaller clients' JSON body (``text``, ``options``;
``target_language`` for a translation), or a PDF as multipart ``file`` with
the same fields (``options`` as a JSON string), whose text the worker
extracts first. Both answer 202 with a job. What can be checked here is
checked here, so a client learns it at once rather than from a failed job:
the text's size, the model against the allow-list, and, for a translation,
that a provider is configured at all (503 ``AI_PROVIDER_NOT_CONFIGURED``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.blueprints import Blueprint
from pydantic import BaseModel

from pressroom.api.schemas import (
    SummarizeOptions,
    SummarizeRequest,
    SummarizeUploadForm,
    TranslateOptions,
    TranslateRequest,
    TranslateUploadForm,
    parse,
)
from pressroom.api.spec import Operation, declare
from pressroom.api.submission import runtime, submit_json, submit_upload
from pressroom.config import Settings
from pressroom.errors import (
    AIProviderNotConfiguredError,
    TextTooLongError,
    UnsupportedFileTypeError,
    ValidationError,
)
from pressroom.jobs.states import TaskType
from pressroom.services.ai.options import (
    KEY_POINTS,
    LENGTH_WORDS,
    OFFLINE_MODEL,
    QUALITIES,
    STYLES,
    choose_model,
)

bp = Blueprint("ai", __name__, url_prefix="/api/ai")

#: JSON adds at most this many bytes per character of text (a \uXXXX escape)
JSON_BYTES_PER_CHAR = 6
JSON_OVERHEAD = 64 * 1024

_AI_ERRORS = {
    "400": "Missing or invalid field, or a model not on the allow-list (AI_MODEL_NOT_ALLOWED)",
    "413": "Text longer than PRESSROOM_AI_MAX_TEXT_CHARS (TEXT_TOO_LONG), or upload too large",
    "415": "Neither a JSON body nor a PDF upload",
    "422": "Damaged or encrypted PDF",
}


def _provider_facts(settings: Settings) -> dict[str, Any]:
    return {
        "provider_configured": settings.ai_configured,
        "engine": "provider" if settings.ai_configured else "offline",
        "models": settings.ai_allowed_models if settings.ai_configured else [],
        "default_model": (settings.ai_model or None) if settings.ai_configured else OFFLINE_MODEL,
        "max_text_chars": settings.ai_max_text_chars,
    }


def _summarize_facts() -> dict[str, Any]:
    return {
        **_provider_facts(runtime().settings),
        "styles": list(STYLES),
        "lengths": {
            name: {"words": LENGTH_WORDS[name], "key_points": KEY_POINTS[name]}
            for name in LENGTH_WORDS
        },
    }


def _translate_facts() -> dict[str, Any]:
    settings = runtime().settings
    facts: dict[str, Any] = {**_provider_facts(settings), "qualities": list(QUALITIES)}
    if not settings.ai_configured:
        facts.update(
            available=False,
            reason="No AI provider is configured (PRESSROOM_AI_BASE_URL); translation needs one.",
        )
    elif not settings.ai_model:
        facts.update(available=False, reason="No default model is set (PRESSROOM_AI_MODEL).")
    return facts


declare(
    Operation(
        name="ai_summarize",
        path="/api/ai/summarize",
        summary="Summarize a text or a PDF, with key points (queued as a job)",
        description=(
            "With an AI provider configured the model writes the summary (long texts: "
            "map-reduce over chunks that fit its context); without one, the offline engine "
            "picks the text's most central sentences (TextRank). result: summary, "
            "key_points, word_count, reading_time (minutes), style, model, language, "
            "engine, chunks, usage (tokens, latency) with a provider."
        ),
        form=SummarizeRequest,
        body="json",
        upload_form=SummarizeUploadForm,
        task_type=TaskType.AI_SUMMARIZE,
        errors=_AI_ERRORS,
        capabilities=_summarize_facts,
    )
)
declare(
    Operation(
        name="ai_translate",
        path="/api/ai/translate",
        summary="Translate a text or a PDF through the AI provider (queued as a job)",
        description=(
            "Needs an AI provider: without one the answer is 503 AI_PROVIDER_NOT_CONFIGURED "
            "and no job is made. Long texts are translated chunk by chunk, keeping the "
            "paragraphs (and every line with preserveFormatting). result: translated_text, "
            "original_language (detected), target_language, word_count, model, quality, "
            "chunks, usage."
        ),
        form=TranslateRequest,
        body="json",
        upload_form=TranslateUploadForm,
        task_type=TaskType.AI_TRANSLATE,
        errors={
            **_AI_ERRORS,
            "503": "No AI provider configured (AI_PROVIDER_NOT_CONFIGURED), or queue unavailable",
        },
        capabilities=_translate_facts,
    )
)


def _json_body(settings: Settings) -> dict[str, Any]:
    """The request's JSON object, read only once its size is known to be sane."""
    limit = settings.ai_max_text_chars * JSON_BYTES_PER_CHAR + JSON_OVERHEAD
    if request.content_length is not None and request.content_length > limit:
        raise TextTooLongError(limit_chars=settings.ai_max_text_chars)
    request.max_content_length = limit
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("The body must be a JSON object.")
    return body


def _check_text(settings: Settings, text: str) -> None:
    if len(text) > settings.ai_max_text_chars:
        raise TextTooLongError(
            f"The text has {len(text)} characters; this server accepts at most "
            f"{settings.ai_max_text_chars}.",
            chars=len(text),
            limit_chars=settings.ai_max_text_chars,
        )


def _check_model(settings: Settings, requested: str | None) -> None:
    choose_model(
        requested,
        configured=settings.ai_configured,
        default=settings.ai_model,
        allowed=settings.ai_allowed_models,
    )


def _submit(
    task_type: TaskType,
    request_model: type[BaseModel],
    upload_model: type[BaseModel],
    options_of: Any,
) -> Response:
    """Parse the JSON body or the multipart form, check, and submit."""
    settings = runtime().settings
    if request.is_json:
        form = parse(request_model, _json_body(settings))
        options = options_of(form)
        _check_model(settings, options.get("model"))
        _check_text(settings, form.text)
        return submit_json(task_type, options, job_id=form.job_id, text=form.text)
    if request.mimetype == "multipart/form-data":
        form = parse(upload_model, request.form.to_dict())
        options = options_of(form)
        _check_model(settings, options.get("model"))
        return submit_upload(task_type, options, job_id=form.job_id)
    raise UnsupportedFileTypeError(
        "Send a JSON body (Content-Type: application/json) or a PDF as multipart/form-data.",
        content_type=request.mimetype or None,
    )


def _summarize_options(form: SummarizeRequest | SummarizeUploadForm) -> dict[str, Any]:
    return (form.options or SummarizeOptions()).model_dump()


def _translate_options(form: TranslateRequest | TranslateUploadForm) -> dict[str, Any]:
    options = (form.options or TranslateOptions()).model_dump()
    return {"target_language": form.target_language, **options}


@bp.post("/summarize")
def summarize() -> Response:
    return _submit(TaskType.AI_SUMMARIZE, SummarizeRequest, SummarizeUploadForm, _summarize_options)


@bp.post("/translate")
def translate() -> Response:
    settings = runtime().settings
    if not settings.ai_configured:  # before reading the body: nothing could be queued
        raise AIProviderNotConfiguredError()
    return _submit(TaskType.AI_TRANSLATE, TranslateRequest, TranslateUploadForm, _translate_options)
