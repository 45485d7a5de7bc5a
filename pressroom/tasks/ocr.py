"""OCR and text-extraction tasks: thin, the work is in OCRService."""

from __future__ import annotations

from pathlib import Path

from pressroom.config import Settings
from pressroom.jobs.states import QUEUE_OF, TaskType
from pressroom.services.ocr import EngineLimits, OCROptions, OCRService
from pressroom.storage.files import EXTENSIONS
from pressroom.tasks.base import TaskContext, TaskOutcome, job_task

#: seconds kept for the task after its OCRmyPDF run, below the queue's hard
#: limit (a quarter of a short limit)
MARGIN_SECONDS = 60


def service_for(settings: Settings, task_type: TaskType) -> OCRService:
    """An OCRService whose whole-document time-out fits the task's queue."""
    queue_limit = settings.queue_time_limit(QUEUE_OF[task_type].value)
    margin = min(MARGIN_SECONDS, queue_limit // 4)
    job_timeout = max(10, min(settings.ocr_job_timeout_seconds, queue_limit - margin))
    return OCRService(
        EngineLimits(
            page_timeout=float(settings.ocr_page_timeout_seconds),
            job_timeout=float(job_timeout),
            jobs=settings.ocr_jobs,
            memory_bytes=settings.ocr_memory_mb * 1024 * 1024,
            engine_timeout=float(settings.engine_timeout_seconds),
        )
    )


def task_input(ctx: TaskContext) -> tuple[Path, str, Path]:
    mime = str(ctx.input_data.get("mime") or "application/pdf")
    src = ctx.input_path("input" + EXTENSIONS.get(mime, ".bin"))
    workdir = ctx.scratch.path("work")
    workdir.mkdir()
    return src, mime, workdir


def display_stem(ctx: TaskContext) -> str:
    return Path(str(ctx.input_data.get("filename") or "document.pdf")).stem or "document"


@job_task(TaskType.OCR)
def ocr(ctx: TaskContext) -> TaskOutcome:
    """OCR one PDF or image (inputs: input_key, mime, options as POST /api/ocr)."""
    options = OCROptions.from_request(ctx.input_data["options"])
    service = service_for(ctx.runtime.settings, TaskType.OCR)
    src, mime, workdir = task_input(ctx)
    done = service.process_ocr_data(src, mime, workdir, options, ctx.progress)
    return TaskOutcome(
        result=done.result,
        file=done.output,
        filename=display_stem(ctx) + done.filename_suffix,
        mime=done.mime,
    )
