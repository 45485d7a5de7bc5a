"""AI tasks: thin, the work is in AIService.

The input is the job's text file (text sent as JSON) or its PDF, whose text
poppler's pdftotext extracts first (through the engine runner: time-out and
resource limits, since the PDF is untrusted).
"""

from __future__ import annotations

from pathlib import Path

from pressroom.engines import poppler
from pressroom.errors import NoTextLayerError
from pressroom.jobs.states import TaskType
from pressroom.services.ai.service import AIService, SummarizeOptions, TranslateOptions
from pressroom.storage import sniff
from pressroom.tasks.base import TaskContext, TaskOutcome, job_task


def _input_text(ctx: TaskContext) -> str:
    """The text to work on, from the job's input file."""
    if ctx.input_data.get("mime") == sniff.PDF:
        ctx.progress.report(2, "extracting", "Extracting the PDF's text")
        text = poppler.extract_text(ctx.input_path("input.pdf"), timeout=ctx.engine_timeout)
        if not text.strip():
            raise NoTextLayerError()
        return text
    return ctx.input_path("input.txt").read_text(encoding="utf-8")


def _source(ctx: TaskContext) -> dict[str, object]:
    """Where the text came from, for the result."""
    if ctx.input_data.get("mime") == sniff.PDF:
        return {
            "source": "pdf",
            "filename": ctx.input_data.get("filename"),
            "pages": ctx.input_data.get("pages"),
        }
    return {"source": "text"}


@job_task(TaskType.AI_SUMMARIZE)
def summarize(ctx: TaskContext) -> TaskOutcome:
    """Summarize the job's text (options: style, maxLength, includeKeyPoints, language, model)."""
    text = _input_text(ctx)
    options = SummarizeOptions.from_request(ctx.input_data["options"])
    with AIService.from_settings(ctx.runtime.settings) as service:
        result = service.summarize(text, options, ctx.progress)
    return TaskOutcome(result={**result, **_source(ctx)})


@job_task(TaskType.AI_TRANSLATE)
def translate(ctx: TaskContext) -> TaskOutcome:
    """Translate the job's text (options: target_language, quality, preserveFormatting, model)."""
    text = _input_text(ctx)
    raw = ctx.input_data["options"]
    options = TranslateOptions.from_request(raw["target_language"], raw)
    with AIService.from_settings(ctx.runtime.settings) as service:
        result = service.translate(text, options, ctx.progress)
    # the translation is also a file, for long texts and for download
    out = ctx.scratch.path("translation.txt")
    out.write_text(result["translated_text"], encoding="utf-8")
    stem = Path(str(ctx.input_data.get("filename") or "text")).stem or "text"
    return TaskOutcome(
        result={**result, **_source(ctx)},
        file=out,
        filename=f"{stem}_{options.target_language}.txt",
        mime="text/plain; charset=utf-8",
    )
