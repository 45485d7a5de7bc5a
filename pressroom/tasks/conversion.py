"""Conversion task: thin, the work is in ConversionService."""

from __future__ import annotations

from pathlib import Path

from pressroom.jobs.states import TaskType
from pressroom.services.conversion.service import ConversionService
from pressroom.services.conversion.topdf import OFFICE_EXTENSIONS
from pressroom.storage import sniff
from pressroom.tasks.base import TaskContext, TaskOutcome, job_task

#: the name an office upload is given for LibreOffice when its own name has
#: no known extension (the content decides in the end)
_OFFICE_DEFAULT = {sniff.ZIP: ".docx", sniff.OLE: ".doc", sniff.RTF: ".rtf"}


def result_name(display_name: str, fmt: str, extension: str) -> str:
    """``report.pdf`` -> ``report.docx``; page images and several CSV tables
    come as ``report_pages.zip`` and ``report_tables.zip``."""
    stem = Path(display_name).stem or "document"
    if fmt == "images":
        return f"{stem}_pages.zip"
    if fmt == "csv" and extension == ".zip":
        return f"{stem}_tables.zip"
    return stem + extension


@job_task(TaskType.CONVERT)
def convert(ctx: TaskContext) -> TaskOutcome:
    """Convert one file (inputs: input_key, mime, options.format, options.options)."""
    request = ctx.input_data["options"]
    fmt = request["format"]
    display = ctx.input_data.get("filename", "document.pdf")
    service = ConversionService(engine_timeout=ctx.engine_timeout)
    workdir = ctx.scratch.dir or Path()
    mime = ctx.input_data.get("mime", sniff.PDF)
    if fmt == "pdf":
        if mime in sniff.IMAGES:
            src, kind = ctx.input_path("input" + Path(ctx.input_data["input_key"]).suffix), "image"
        else:
            suffix = Path(display).suffix.lower()
            if suffix not in OFFICE_EXTENSIONS:
                suffix = _OFFICE_DEFAULT.get(mime, ".docx")
            src, kind = ctx.input_path("input" + suffix), "office"
        result = service.convert_to_pdf(src, workdir, kind, ctx.progress)
    else:
        result = service.convert_pdf_data(
            ctx.input_path(),
            workdir,
            fmt,
            request.get("options") or {},
            ctx.progress,
            pages=ctx.input_data.get("pages"),  # inspected on upload
            password=request.get("password"),
        )
    return TaskOutcome(
        result=result.summary,
        file=result.output,
        filename=result_name(display, fmt, result.extension),
        mime=result.mime,
    )
