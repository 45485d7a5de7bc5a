"""The language-model engine: the configured AI provider
(pressroom.services.ai) fills the same schemas as the rules engine
(``Invoice``, ``BankStatement``) from the document's text, and the same checks
judge its answer, so a wrong sum is a warning whoever read it."""

from __future__ import annotations

from pydantic import BaseModel

from pressroom.config import get_settings
from pressroom.services.ai.service import AIService
from pressroom.services.extraction.bank_statement import (
    check_statement,
    mask_account,
    transaction_summary,
)
from pressroom.services.extraction.invoice import check_invoice
from pressroom.services.extraction.layout import Document
from pressroom.services.extraction.schemas import (
    BankStatement,
    Invoice,
    InvoiceExtraction,
    InvoiceOptions,
    StatementExtraction,
    StatementOptions,
)

#: how sure we are of a field the model gave and no check contradicts: a
#: model reads well but can misread; checks lower this where they fail
MODEL_CONFIDENCE = 0.8

INVOICE_INSTRUCTIONS = (
    "The document is an invoice. Amounts are plain numbers without currency signs or "
    "thousands separators; dates are YYYY-MM-DD; currency is an ISO 4217 code."
)
STATEMENT_INSTRUCTIONS = (
    "The document is a bank statement. Amounts are plain numbers, negative for money going "
    "out; dates are YYYY-MM-DD. In account_number_masked, give the account number or IBAN "
    "with every character but the last 4 replaced by '*'."
)


def _confidence(fields: BaseModel) -> dict[str, float]:
    return {
        name: MODEL_CONFIDENCE
        for name, value in fields
        if value not in (None, [], "") and not isinstance(value, BaseModel)
    }


class LanguageModelEngine:
    def invoice(self, doc: Document, options: InvoiceOptions) -> InvoiceExtraction:
        with AIService.from_settings(get_settings()) as ai:
            invoice, usage = ai.extract_structured(
                doc.plain_text(), Invoice, instructions=INVOICE_INSTRUCTIONS
            )
        confidence = _confidence(invoice)
        warnings: list[str] = []
        checks = check_invoice(invoice, confidence, warnings)
        return InvoiceExtraction(
            invoice=invoice,
            pages=doc.page_count,
            confidence=confidence,
            checks=checks,
            warnings=warnings,
            usage=usage.as_dict(),
        )

    def statement(self, doc: Document, options: StatementOptions) -> StatementExtraction:
        with AIService.from_settings(get_settings()) as ai:
            statement, usage = ai.extract_structured(
                doc.plain_text(), BankStatement, instructions=STATEMENT_INSTRUCTIONS
            )
        # never trust the model to have masked: mask again, and scrub the
        # number from every description
        masked = mask_account(statement.account_number_masked or "")
        if masked is not None:
            shown, secret = masked
            statement.account_number_masked = shown
            for tx in statement.transactions:
                tx.description = tx.description.replace(secret, shown)
        if not options.categorize:
            for tx in statement.transactions:
                tx.category = None
        confidence = _confidence(statement)
        warnings: list[str] = []
        checks = check_statement(statement, confidence, warnings)
        return StatementExtraction(
            statement=statement,
            summary=transaction_summary(statement.transactions),
            pages=doc.page_count,
            confidence=confidence,
            checks=checks,
            warnings=warnings,
            usage=usage.as_dict(),
        )
