"""What extraction returns, as pydantic models.

``Invoice`` and ``BankStatement`` are the documents' fields and nothing else:
the schema an engine fills. The rules engine (``invoice.py``,
``bank_statement.py``) fills them today; a language-model engine can be asked
to fill the same schema (``Invoice.model_json_schema()``) and its answer
validated with ``Invoice.model_validate``, so both engines give the same
result and the same exports. ``InvoiceExtraction`` and
``StatementExtraction`` wrap the fields with what the engine found out about
them: a confidence per field, the arithmetic checks and the warnings.

Amounts are decimals (exact; written as JSON numbers), dates ISO 8601.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

#: a money amount: exact in Python, a number in JSON (and in the JSON schema
#: an engine is asked to fill)
Money = Annotated[
    Decimal,
    PlainSerializer(lambda d: float(d), return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]

ENGINES = ("rules",)
EXPORT_FORMATS = ("json", "csv", "xlsx")
CATEGORIES = (
    "income",
    "transfer",
    "housing",
    "utilities",
    "groceries",
    "dining",
    "transport",
    "shopping",
    "subscriptions",
    "insurance",
    "health",
    "cash",
    "fees",
    "taxes",
    "other",
)


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Party(_Fields):
    name: str | None = Field(None, description="Company or person name.")
    address: str | None = Field(None, description="Postal address, lines joined by ', '.")
    tax_id: str | None = Field(None, description="VAT / GST / tax registration number.")


class LineItem(_Fields):
    description: str
    quantity: Money | None = None
    unit_price: Money | None = None
    amount: Money | None = Field(None, description="The line's total.")


class Invoice(_Fields):
    """An invoice's fields."""

    invoice_number: str | None = None
    issue_date: dt.date | None = None
    due_date: dt.date | None = None
    vendor: Party = Field(default_factory=Party)
    customer: Party = Field(default_factory=Party)
    currency: str | None = Field(None, description="ISO 4217 code, e.g. EUR.")
    subtotal: Money | None = Field(None, description="Total before tax.")
    tax: Money | None = Field(None, description="Tax amount (VAT, GST, sales tax).")
    total: Money | None = Field(None, description="Amount due, tax included.")
    line_items: list[LineItem] = Field(default_factory=list)


class Transaction(_Fields):
    date: dt.date | None = None
    description: str
    amount: Money = Field(description="Signed: money in is positive, money out negative.")
    balance: Money | None = Field(None, description="The balance after this transaction.")
    category: str | None = Field(None, description="Rule-based category (see capabilities).")


class BankStatement(_Fields):
    """A bank statement's fields. The account number is only ever masked."""

    account_number_masked: str | None = Field(
        None, description="The account number or IBAN with all but its last 4 characters hidden."
    )
    account_holder: str | None = None
    bank_name: str | None = None
    currency: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    opening_balance: Money | None = None
    closing_balance: Money | None = None
    transactions: list[Transaction] = Field(default_factory=list)


class Check(BaseModel):
    """One arithmetic check: what the document says against what adds up."""

    name: str
    passed: bool
    expected: Money | None = None
    actual: Money | None = None
    message: str


class _Extraction(BaseModel):
    engine: str = "rules"
    pages: int = 0
    number_format: str = Field("1,234.56", description="How the document writes numbers.")
    date_order: str = Field("DMY", description="How the document writes numeric dates.")
    confidence: dict[str, float] = Field(
        default_factory=dict, description="Per field, 0 to 1: how sure the engine is."
    )
    checks: list[Check] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    derived: list[str] = Field(
        default_factory=list,
        description="Fields not printed but computed from others (e.g. subtotal = total - tax).",
    )


class InvoiceExtraction(_Extraction):
    document_type: Literal["invoice"] = "invoice"
    invoice: Invoice = Field(default_factory=Invoice)


class StatementExtraction(_Extraction):
    document_type: Literal["bank_statement"] = "bank_statement"
    statement: BankStatement = Field(default_factory=BankStatement)
    summary: dict[str, Any] = Field(
        default_factory=dict,
        description="transactions, total_credits, total_debits, net_change.",
    )


# --- request options (the ``options`` JSON object of the endpoints) --------

LocaleName = Literal[
    "auto", "en-US", "en-GB", "en-IN", "en-AU", "en-CA", "de-DE", "de-AT", "de-CH",
    "fr-FR", "fr-CH", "es-ES", "it-IT", "nl-NL", "pt-PT", "pt-BR", "pl-PL",
]  # fmt: skip


class ExtractionOptions(BaseModel):
    """The ``options`` of an extraction request; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")
    exportFormat: Literal["json", "csv", "xlsx"] = Field(
        "json", description="The downloadable file: json, csv or xlsx."
    )
    engine: Literal["rules"] = Field(
        "rules", description="Who reads the fields: 'rules' (offline, layout-aware rules)."
    )
    locale: LocaleName = Field(
        "auto",
        description=(
            "How numbers and numeric dates are written (en-US: 1,234.56 and month first; "
            "de-DE: 1.234,56 and day first...); 'auto' guesses from the document."
        ),
    )


class InvoiceOptions(ExtractionOptions):
    """Options of POST /api/ai/extract-invoice."""


class StatementOptions(ExtractionOptions):
    """Options of POST /api/ai/extract-bank-statement."""

    categorize: bool = Field(True, description="Give each transaction a rule-based category.")
