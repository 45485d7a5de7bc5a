"""The shared task execution pattern, written once and used by every job task.

``@job_task(TaskType.X)`` turns ``fn(ctx) -> TaskOutcome`` into a Celery task
that takes a job id and:

1. claims the job for this message (drops stale or finished messages; fails a
   job past its attempt limit with ``WORKER_LOST``);
2. runs ``fn`` with a ProgressReporter and a scratch folder that is always
   removed;
3. stores the result file and marks the job completed, fenced by
   ``(task id, attempt)`` so that a superseded attempt can never overwrite
   the outcome of the current one;
4. or classifies the error: permanent (bad input: failed now, with its code)
   or transient (database, broker, storage, engine time-out: back to pending
   with a countdown of ``retry_backoff_seconds`` x attempt, while attempts
   remain, counted in the database).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as KombuOperationalError
from PIL import Image
from sqlalchemy.exc import DBAPIError, OperationalError

from pressroom.config import get_settings
from pressroom.db.engine import is_database_outage
from pressroom.db.models import Job, utcnow
from pressroom.errors import (
    BrokerUnavailableError,
    ImageTooLargeError,
    InvalidTransitionError,
    JobCancelledError,
    PressroomError,
    ServiceUnavailableError,
    StaleAttemptError,
    StorageError,
    TimeLimitError,
)
from pressroom.jobs.progress import ProgressReporter
from pressroom.jobs.states import QUEUE_OF, JobStatus, TaskType
from pressroom.logging import job_log_context
from pressroom.runtime import Runtime, get_runtime
from pressroom.storage.tempfiles import TemporaryFileManager
from pressroom.tasks.celery_app import job_task_name
from pressroom.tasks.dispatch import dispatch

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class TaskOutcome:
    """What a job function returns: JSON-able result fields and maybe a file."""

    result: dict[str, Any]
    file: Path | None = None
    filename: str | None = None
    mime: str | None = None


@dataclass
class TaskContext:
    """What a job function gets: the job's inputs, progress, a scratch folder."""

    job_id: str
    input_data: dict[str, Any]
    attempt: int
    progress: ProgressReporter
    scratch: TemporaryFileManager
    runtime: Runtime = field(repr=False)

    def input_path(self, name: str = "input.pdf") -> Path:
        """Copy the job's uploaded file into the scratch folder."""
        return self.runtime.files.fetch_input(self.input_data["input_key"], self.scratch.path(name))

    @property
    def engine_timeout(self) -> float:
        return float(self.runtime.settings.engine_timeout_seconds)


JobFunction = Callable[[TaskContext], TaskOutcome]

#: Errors that mean "stop, leave the job alone": the client cancelled it, or
#: another attempt owns it. A job function must let them through.
STOP_ERRORS: tuple[type[PressroomError], ...] = (
    JobCancelledError,
    StaleAttemptError,
    InvalidTransitionError,
)


def classify(exc: BaseException) -> PressroomError:
    """Turn any exception into a domain error that knows if a retry can help."""
    if isinstance(exc, PressroomError):
        return exc
    if isinstance(exc, SoftTimeLimitExceeded):
        return TimeLimitError()
    if isinstance(exc, (OperationalError, DBAPIError)):
        return ServiceUnavailableError("The database was unavailable.")
    if isinstance(exc, KombuOperationalError):
        return BrokerUnavailableError()
    if isinstance(exc, Image.DecompressionBombError):
        return ImageTooLargeError(detail=str(exc)[:300])
    if isinstance(exc, OSError):
        return StorageError(detail=exc.strerror or str(exc))
    log.exception("unexpected error in a job", exc_info=exc)
    return PressroomError("An unexpected error stopped this job.")


def execute_job(task_type: TaskType, fn: JobFunction, job_id: str, task_id: str) -> str:
    """Run one delivery of a job's message; returns what happened (for logs and tests)."""
    rt = get_runtime()
    settings = rt.settings
    job = _patiently(
        rt, job_id, "claim", lambda: rt.ops.claim(job_id, task_id, settings.max_attempts)
    )
    if job is None:
        log.info("job %s: message %s dropped (stale, finished or out of attempts)", job_id, task_id)
        _drop_input_if_terminal(rt, job_id)
        return "dropped"
    fence = (task_id, job.attempts)
    progress = ProgressReporter(
        rt.ops, job_id, fence, min_interval=settings.progress_interval_seconds
    )
    stored: dict[str, Any] | None = None
    try:
        with TemporaryFileManager(settings.data_dir / "tmp", prefix=f"job-{job_id}-") as scratch:
            ctx = TaskContext(job_id, dict(job.input_data), job.attempts, progress, scratch, rt)
            outcome = fn(ctx)
            result = dict(outcome.result)
            if outcome.file is not None:
                stored = rt.files.store_result(
                    job_id,
                    job.attempts,
                    outcome.file,
                    filename=outcome.filename or outcome.file.name,
                    mime=outcome.mime or "application/octet-stream",
                )
                result["file"] = stored
            _complete(rt, job, result)
    except STOP_ERRORS as exc:
        # cancelled by the client, or superseded: whoever owns the job now
        # decides its outcome; this attempt leaves no file behind.
        log.info("job %s attempt %s stopped: %s", job_id, fence[1], exc.code)
        _discard_output(rt, job_id, fence[1])
        _drop_input_if_terminal(rt, job_id)
        return "stopped"
    except Exception as exc:
        _discard_output(rt, job_id, fence[1])
        return _handle_failure(rt, task_type, job, fence, classify(exc))
    rt.files.delete_input(job_id)
    log.info("job %s completed (attempt %d)", job_id, fence[1])
    return "completed"


def _patiently(rt: Runtime, job_id: str, what: str, write: Callable[[], T]) -> T:
    """Run a job-row write, waiting out a database outage for up to
    ``database_patience_seconds``.

    Without this, a PostgreSQL restart made the claim raise (the message was
    acked and the job waited for the reaper's pending cut-off, 30 minutes by
    default) and made a finished job's completion fail (its result was thrown
    away and the job waited for the reaper's processing cut-off).
    """
    deadline = time.monotonic() + rt.settings.database_patience_seconds
    delay = 0.5
    while True:
        try:
            return write()
        except (OperationalError, DBAPIError) as exc:
            if not is_database_outage(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "job %s: database unavailable for the %s (%s); trying again in %.1fs",
                job_id,
                what,
                exc.__class__.__name__,
                delay,
            )
            time.sleep(delay)
            delay = min(5.0, delay * 2)


def _complete(rt: Runtime, claimed: Job, result: dict[str, Any]) -> None:
    """Mark the claimed job completed, through a database outage if need be.

    A write whose commit succeeded but whose answer was lost with the
    connection is tried again and refused (completed is terminal); that
    refusal is our own success, and the stored result must be kept.
    """
    try:
        _patiently(rt, claimed.id, "completion", lambda: rt.ops.complete(claimed, result))
    except InvalidTransitionError:
        job = rt.ops.get_job(claimed.id)
        fence = (claimed.celery_task_id, claimed.attempts)
        if not (
            job is not None
            and job.status == JobStatus.COMPLETED.value
            and (job.celery_task_id, job.attempts) == fence
        ):
            raise


def _handle_failure(
    rt: Runtime, task_type: TaskType, job: Job, fence: tuple[str, int], error: PressroomError
) -> str:
    settings = rt.settings
    attempt = fence[1]
    if error.retryable and attempt < settings.max_attempts:
        countdown = settings.retry_backoff_seconds * attempt
        new_task_id = str(uuid.uuid4())
        try:
            _patiently(
                rt,
                job.id,
                "retry",
                lambda: rt.ops.schedule_retry(
                    job.id,
                    fence=fence,
                    new_task_id=new_task_id,
                    due=utcnow() + timedelta(seconds=countdown),
                    error=(error.code, error.message),
                ),
            )
        except (StaleAttemptError, InvalidTransitionError):
            return "stopped"
        log.warning(
            "job %s attempt %d failed with %s; retry in %.0fs",
            job.id,
            attempt,
            error.code,
            countdown,
        )
        try:
            dispatch(rt.celery, job.id, task_type, new_task_id, countdown=countdown)
        except BrokerUnavailableError:
            # the job is pending with a due time: the reaper re-dispatches it
            log.warning("job %s: retry could not be queued; the reaper will", job.id)
        return "retry"
    try:
        _patiently(
            rt,
            job.id,
            "failure",
            lambda: rt.ops.update_job_status_safely(
                job.id, JobStatus.FAILED, error=(error.code, error.message), fence=fence
            ),
        )
    except (StaleAttemptError, InvalidTransitionError):
        return "stopped"
    rt.files.delete_input(job.id)
    log.info("job %s failed: %s", job.id, error.code)
    return "failed"


def _discard_output(rt: Runtime, job_id: str, attempt: int) -> None:
    rt.files.storage.delete_prefix(f"{rt.files.job_prefix(job_id)}/output/{attempt}")


def _drop_input_if_terminal(rt: Runtime, job_id: str) -> None:
    job = rt.ops.get_job(job_id)
    if job is None or job.is_terminal:
        rt.files.delete_input(job_id)


#: task type -> registered job function (the catalog test reads this)
REGISTRY: dict[TaskType, JobFunction] = {}


def job_task(task_type: TaskType) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn`` as the Celery task that runs jobs of ``task_type``."""
    queue = QUEUE_OF[task_type]
    hard = get_settings().queue_time_limit(queue.value)

    def decorate(fn: JobFunction) -> JobFunction:
        @shared_task(
            name=job_task_name(task_type.value),
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            time_limit=hard,
            soft_time_limit=max(1, hard - min(30, hard // 10)),
            ignore_result=True,
        )
        def run(self: Any, job_id: str) -> str:
            with job_log_context(job_id):
                return execute_job(task_type, fn, job_id, self.request.id)

        REGISTRY[task_type] = fn
        return fn

    return decorate
