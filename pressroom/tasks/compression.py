"""Compression tasks: thin, the work is in CompressionService."""

from __future__ import annotations

from pathlib import Path

from pressroom.jobs.states import TaskType
from pressroom.services.compression import CompressionOptions, CompressionService
from pressroom.tasks.base import TaskContext, TaskOutcome, job_task


def _result_name(display_name: str) -> str:
    stem = Path(display_name).stem or "document"
    return f"{stem}_compressed.pdf"


@job_task(TaskType.COMPRESS)
def compress(ctx: TaskContext) -> TaskOutcome:
    """Compress one PDF (inputs: input_key, options.compressionLevel, options.imageQuality)."""
    options = CompressionOptions.from_request(ctx.input_data["options"])
    service = CompressionService(engine_timeout=ctx.engine_timeout)
    result = service.compress(ctx.input_path(), ctx.scratch.dir or Path(), options, ctx.progress)
    return TaskOutcome(
        result=result.as_dict(options),
        file=result.output,
        filename=_result_name(ctx.input_data.get("filename", "document.pdf")),
        mime="application/pdf",
    )
