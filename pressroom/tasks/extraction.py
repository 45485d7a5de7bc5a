"""Invoice and bank statement extraction tasks: thin, the work is in
ExtractionService."""

from __future__ import annotations

from pathlib import Path

from pressroom.jobs.states import TaskType
from pressroom.services.extraction.export import MIME
from pressroom.services.extraction.schemas import (
    InvoiceExtraction,
    InvoiceOptions,
    StatementExtraction,
    StatementOptions,
)
from pressroom.services.extraction.service import ExtractionService
from pressroom.tasks.base import TaskContext, TaskOutcome, job_task


def _outcome(
    ctx: TaskContext,
    extraction: InvoiceExtraction | StatementExtraction,
    fmt: str,
    suffix: str,
) -> TaskOutcome:
    dest = ctx.scratch.path(f"extraction.{fmt}")
    ExtractionService.export(extraction, fmt, dest, ctx.progress)
    stem = Path(ctx.input_data.get("filename", "document.pdf")).stem or "document"
    return TaskOutcome(
        result={**extraction.model_dump(mode="json"), "export_format": fmt},
        file=dest,
        filename=f"{stem}_{suffix}.{fmt}",
        mime=MIME[fmt],
    )


@job_task(TaskType.EXTRACT_INVOICE)
def extract_invoice(ctx: TaskContext) -> TaskOutcome:
    """Invoice fields of one PDF (inputs: input_key, options: exportFormat, engine, locale)."""
    options = InvoiceOptions.model_validate(ctx.input_data["options"])
    service = ExtractionService(engine_timeout=ctx.engine_timeout)
    extraction = service.extract_invoice(ctx.input_path(), options, ctx.progress)
    return _outcome(ctx, extraction, options.exportFormat, "invoice")


@job_task(TaskType.EXTRACT_BANK_STATEMENT)
def extract_bank_statement(ctx: TaskContext) -> TaskOutcome:
    """Bank statement fields of one PDF (inputs: input_key, options: exportFormat,
    engine, locale, categorize)."""
    options = StatementOptions.model_validate(ctx.input_data["options"])
    service = ExtractionService(engine_timeout=ctx.engine_timeout)
    extraction = service.extract_bank_statement(ctx.input_path(), options, ctx.progress)
    return _outcome(ctx, extraction, options.exportFormat, "statement")
