"""ExtractionService: invoices and bank statements, from a PDF to fields and
an export file.

The layout is read in a child process (``layout.read_layout``); an engine
turns it into fields. Today there is one engine, ``rules`` (offline,
layout-aware rules). The seam for another one (a language model asked to
fill ``schemas.Invoice`` from ``Document.plain_text()``) is ``Engine``: add
it to ``ENGINES`` and to the ``engine`` option's choices; the checks
(``check_invoice``, ``check_statement``) and the exports work on any engine's
fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pressroom.errors import NoTextLayerError
from pressroom.jobs.progress import Progress
from pressroom.services.extraction.bank_statement import read_statement
from pressroom.services.extraction.export import export
from pressroom.services.extraction.invoice import read_invoice
from pressroom.services.extraction.layout import MAX_PAGES, Document, read_layout
from pressroom.services.extraction.schemas import (
    InvoiceExtraction,
    InvoiceOptions,
    StatementExtraction,
    StatementOptions,
)


class Engine(Protocol):
    """Reads a document's fields."""

    def invoice(self, doc: Document, options: InvoiceOptions) -> InvoiceExtraction: ...

    def statement(self, doc: Document, options: StatementOptions) -> StatementExtraction: ...


class RulesEngine:
    """Offline: labels, positions and arithmetic (invoice.py, bank_statement.py)."""

    def invoice(self, doc: Document, options: InvoiceOptions) -> InvoiceExtraction:
        return read_invoice(doc, locale=options.locale)

    def statement(self, doc: Document, options: StatementOptions) -> StatementExtraction:
        return read_statement(doc, locale=options.locale, categorize=options.categorize)


ENGINES: dict[str, Engine] = {"rules": RulesEngine()}


class ExtractionService:
    def __init__(self, *, engine_timeout: float) -> None:
        self.engine_timeout = engine_timeout

    def _layout(self, src: Path, progress: Progress) -> Document:
        progress.report(5, "reading", "Reading the words and tables of the PDF")
        doc = read_layout(src, timeout=self.engine_timeout)
        if not doc.has_text:
            raise NoTextLayerError()
        return doc

    @staticmethod
    def _note_pages(doc: Document, warnings: list[str]) -> None:
        if doc.page_count > MAX_PAGES:
            warnings.append(f"Only the first {MAX_PAGES} of {doc.page_count} pages were read.")

    def extract_invoice(
        self, src: Path, options: InvoiceOptions, progress: Progress
    ) -> InvoiceExtraction:
        doc = self._layout(src, progress)
        progress.report(60, "extracting", "Finding the invoice's fields")
        extraction = ENGINES[options.engine].invoice(doc, options)
        extraction.engine = options.engine
        self._note_pages(doc, extraction.warnings)
        return extraction

    def extract_bank_statement(
        self, src: Path, options: StatementOptions, progress: Progress
    ) -> StatementExtraction:
        doc = self._layout(src, progress)
        progress.report(60, "extracting", "Finding the statement's fields and transactions")
        extraction = ENGINES[options.engine].statement(doc, options)
        extraction.engine = options.engine
        self._note_pages(doc, extraction.warnings)
        return extraction

    @staticmethod
    def export(
        extraction: InvoiceExtraction | StatementExtraction,
        fmt: str,
        dest: Path,
        progress: Progress,
    ) -> Path:
        progress.report(90, "exporting", f"Writing the {fmt.upper()} file")
        return export(extraction, fmt, dest)
