"""POST /api/ai/extract-invoice, POST /api/ai/extract-bank-statement, and
what they can do: GET /api/ai/invoice-capabilities and
GET /api/ai/bank-statement-capabilities."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel

from pressroom.api.schemas import ExtractInvoiceForm, ExtractStatementForm, FormModel, parse
from pressroom.api.spec import Operation, declare, document_get
from pressroom.api.submission import submit_upload
from pressroom.errors import ValidationError
from pressroom.jobs.states import TaskType
from pressroom.services.extraction.layout import MAX_PAGES
from pressroom.services.extraction.schemas import (
    CATEGORIES,
    ENGINES,
    EXPORT_FORMATS,
    BankStatement,
    Invoice,
    InvoiceOptions,
    StatementOptions,
)
from pressroom.services.extraction.values import LOCALES

bp = Blueprint("extraction", __name__, url_prefix="/api/ai")

LABEL_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt"]


def _fields(model: type[Any]) -> dict[str, str]:
    """Each field of ``model`` with its description (or its name's words)."""
    return {
        name: (info.description or name.replace("_", " "))
        for name, info in model.model_fields.items()
    }


def _common() -> dict[str, Any]:
    return {
        "engines": {
            "rules": {
                "available": True,
                "offline": True,
                "description": "Layout-aware rules over the PDF's words and tables.",
            }
        },
        "default_engine": ENGINES[0],
        "export_formats": list(EXPORT_FORMATS),
        "locales": ["auto", *LOCALES],
        "number_formats": ["1,234.56", "1.234,56", "1 234,56", "1'234.56"],
        "date_formats": ["ISO 2024-03-15", "numeric, day or month first", "month names"],
        "label_languages": LABEL_LANGUAGES,
        "max_pages": MAX_PAGES,
        "requires_text_layer": True,
    }


def invoice_capabilities() -> dict[str, Any]:
    return {
        **_common(),
        "fields": _fields(Invoice),
        "line_item_fields": ["description", "quantity", "unit_price", "amount"],
        "checks": ["line_items_sum_equals_subtotal", "subtotal_plus_tax_equals_total"],
        "options": InvoiceOptions.model_json_schema()["properties"],
    }


def statement_capabilities() -> dict[str, Any]:
    from pressroom.services.extraction.bank_statement import CATEGORY_RULES

    return {
        **_common(),
        "fields": _fields(BankStatement),
        "transaction_fields": ["date", "description", "amount", "balance", "category"],
        "checks": ["running_balance", "opening_plus_transactions_equals_closing"],
        "categories": list(CATEGORIES),
        "category_keywords": {name: list(words) for name, words in CATEGORY_RULES},
        "account_number": "masked: all but the last 4 characters hidden",
        "options": StatementOptions.model_json_schema()["properties"],
    }


_RESULT = (
    "The job's result: the fields, confidence (per field, 0-1), checks, warnings, "
    "number_format, date_order, pages, engine, export_format; the download is the export "
    "(JSON, CSV or XLSX). A PDF without text fails with NO_TEXT_LAYER."
)

declare(
    Operation(
        name="extract_invoice",
        path="/api/ai/extract-invoice",
        summary="Extract an invoice's fields (queued as a job)",
        description=(
            "Invoice number, issue and due dates, vendor and customer, currency, subtotal, "
            "tax, total and line items, with the totals checked. " + _RESULT
        ),
        form=ExtractInvoiceForm,
        task_type=TaskType.EXTRACT_INVOICE,
        capabilities=invoice_capabilities,
    )
)
declare(
    Operation(
        name="extract_bank_statement",
        path="/api/ai/extract-bank-statement",
        summary="Extract a bank statement's fields and transactions (queued as a job)",
        description=(
            "Masked account number, holder, bank, period, opening and closing balances and "
            "the transactions (date, description, signed amount, balance, category), with "
            "the running balance checked. " + _RESULT
        ),
        form=ExtractStatementForm,
        task_type=TaskType.EXTRACT_BANK_STATEMENT,
        capabilities=statement_capabilities,
    )
)


def _parse(form: type[FormModel], options: type[BaseModel]) -> Any:
    """The request's form; a refusal lists the option keys there are."""
    try:
        return parse(form, request.form.to_dict())
    except ValidationError as exc:
        exc.details["allowed_options"] = sorted(options.model_fields)
        raise


document_get(
    "/api/ai/invoice-capabilities",
    "What invoice extraction reads: fields, checks, export formats, locales, engines",
)
document_get(
    "/api/ai/bank-statement-capabilities",
    "What bank statement extraction reads: fields, checks, categories, formats, locales, engines",
)


@bp.post("/extract-invoice")
def extract_invoice() -> Response:
    form: ExtractInvoiceForm = _parse(ExtractInvoiceForm, InvoiceOptions)
    options = form.options.model_dump()
    return submit_upload(TaskType.EXTRACT_INVOICE, options, job_id=form.job_id)


@bp.post("/extract-bank-statement")
def extract_bank_statement() -> Response:
    form: ExtractStatementForm = _parse(ExtractStatementForm, StatementOptions)
    options = form.options.model_dump()
    return submit_upload(TaskType.EXTRACT_BANK_STATEMENT, options, job_id=form.job_id)


@bp.get("/invoice-capabilities")
def get_invoice_capabilities() -> Response:
    return jsonify({"status": "success", "data": invoice_capabilities()})


@bp.get("/bank-statement-capabilities")
def get_statement_capabilities() -> Response:
    return jsonify({"status": "success", "data": statement_capabilities()})
