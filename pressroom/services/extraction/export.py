"""The downloadable file of an extraction: JSON, CSV or XLSX.

- json: the whole extraction (fields, confidence, checks, warnings).
- csv: one row per line item (invoice) or transaction (statement). An
  invoice's own fields are repeated on each row, so the file stands alone in
  a spreadsheet or an accounting import; an invoice without line items is one
  row. Numbers are written plainly (``1234.56``), dates ISO.
- xlsx (openpyxl): a sheet of the document's fields, a sheet of its line
  items or transactions, and a sheet of checks and warnings; amounts are
  numbers with a two-decimal format and dates are dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pressroom.services.extraction.schemas import InvoiceExtraction, StatementExtraction

MIME = {
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"

Extraction = InvoiceExtraction | StatementExtraction


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def _invoice_header(ex: InvoiceExtraction) -> dict[str, Any]:
    inv = ex.invoice
    return {
        "invoice_number": inv.invoice_number,
        "issue_date": inv.issue_date,
        "due_date": inv.due_date,
        "vendor": inv.vendor.name,
        "vendor_tax_id": inv.vendor.tax_id,
        "customer": inv.customer.name,
        "currency": inv.currency,
        "subtotal": inv.subtotal,
        "tax": inv.tax,
        "total": inv.total,
    }


def _rows(ex: Extraction) -> tuple[list[str], list[list[Any]]]:
    """The table of the document: its line items or its transactions."""
    if isinstance(ex, InvoiceExtraction):
        header = _invoice_header(ex)
        columns = [*header, "line", "description", "quantity", "unit_price", "amount"]
        rows = [
            [*header.values(), n, item.description, item.quantity, item.unit_price, item.amount]
            for n, item in enumerate(ex.invoice.line_items, 1)
        ] or [[*header.values(), None, None, None, None, None]]
        return columns, rows
    columns = ["date", "description", "amount", "balance", "category", "currency"]
    currency = ex.statement.currency
    rows = [
        [t.date, t.description, t.amount, t.balance, t.category, currency]
        for t in ex.statement.transactions
    ]
    return columns, rows


def write_json(ex: Extraction, dest: Path) -> None:
    dest.write_text(json.dumps(ex.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")


def write_csv(ex: Extraction, dest: Path) -> None:
    columns, rows = _rows(ex)
    with dest.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_plain(v) for v in row])


def _fields(ex: Extraction) -> list[tuple[str, Any]]:
    if isinstance(ex, InvoiceExtraction):
        inv = ex.invoice
        return [
            *_invoice_header(ex).items(),
            ("vendor_address", inv.vendor.address),
            ("customer_address", inv.customer.address),
            ("customer_tax_id", inv.customer.tax_id),
        ]
    st = ex.statement
    return [
        ("account_number", st.account_number_masked),
        ("account_holder", st.account_holder),
        ("bank", st.bank_name),
        ("currency", st.currency),
        ("period_start", st.period_start),
        ("period_end", st.period_end),
        ("opening_balance", st.opening_balance),
        ("closing_balance", st.closing_balance),
        ("transactions", len(st.transactions)),
    ]


def _cell(sheet: Any, row: int, column: int, value: Any) -> None:
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, Decimal):
        cell.value = float(value)
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, dt.date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:
        cell.value = value


def write_xlsx(ex: Extraction, dest: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    summary = book.active
    summary.title = "Invoice" if isinstance(ex, InvoiceExtraction) else "Statement"
    summary.append(["Field", "Value", "Confidence"])
    for n, (name, value) in enumerate(_fields(ex), 2):
        summary.cell(row=n, column=1, value=name)
        _cell(summary, n, 2, value)
        key = "account_number_masked" if name == "account_number" else name
        confidence = ex.confidence.get(key.replace("vendor_tax_id", "vendor"))
        if confidence is not None:
            summary.cell(row=n, column=3, value=confidence)

    columns, rows = _rows(ex)
    if isinstance(ex, InvoiceExtraction):
        table = book.create_sheet("Line items")
        keep = ["line", "description", "quantity", "unit_price", "amount"]
        start = columns.index("line")
        columns = keep
        rows = [row[start:] for row in rows if row[start] is not None]
    else:
        table = book.create_sheet("Transactions")
    table.append(columns)
    for r, row in enumerate(rows, 2):
        for c, value in enumerate(row, 1):
            _cell(table, r, c, value)

    checks = book.create_sheet("Checks")
    checks.append(["Check", "Passed", "Message"])
    for check in ex.checks:
        checks.append([check.name, check.passed, check.message])
    for warning in ex.warnings:
        checks.append(["warning", None, warning])

    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))
    book.save(dest)


WRITERS = {"json": write_json, "csv": write_csv, "xlsx": write_xlsx}


def export(ex: Extraction, fmt: str, dest: Path) -> Path:
    """Write ``ex`` as ``fmt`` (json, csv, xlsx) to ``dest``."""
    WRITERS[fmt](ex, dest)
    return dest
