"""Invoice and bank statement extraction, through the real API and a real
worker, on documents drawn in the layouts real ones use (tests/support/
documents.py) whose answers are known; and the exports opened with their
readers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask.testing import FlaskClient
from reportlab.pdfgen.canvas import Canvas
from werkzeug.test import TestResponse

from pressroom.services.extraction.values import NumberStyle, find_amounts, find_dates
from tests.support import documents as docs
from tests.support.api import error_code, wait_for
from tests.support.worker import WorkerProcess

INVOICE = "/api/ai/extract-invoice"
STATEMENT = "/api/ai/extract-bank-statement"


def submit(
    client: FlaskClient, path: str, pdf: Path, options: dict[str, Any] | str | None = None
) -> TestResponse:
    form: dict[str, Any] = {"file": (io.BytesIO(pdf.read_bytes()), pdf.name)}
    if options is not None:
        form["options"] = options if isinstance(options, str) else json.dumps(options)
    return client.post(path, data=form, content_type="multipart/form-data")


def run(
    client: FlaskClient, path: str, pdf: Path, options: dict[str, Any] | None = None
) -> tuple[dict[str, Any], bytes, str]:
    """Submit, wait, download: (the job view, the file, its content type)."""
    response = submit(client, path, pdf, options)
    assert response.status_code == 202, response.json
    view = wait_for(client, response.json["data"]["job_id"])  # type: ignore[index]
    assert view["status"] == "completed", view
    download = client.get(view["download_url"])
    assert download.status_code == 200
    return view, download.data, download.headers["Content-Disposition"]


def money(value: Decimal) -> float:
    return float(value)


# --- invoices -----------------------------------------------------------------

LAYOUTS: list[tuple[str, Callable[[Path], Path], docs.InvoiceData]] = [
    ("us", docs.us_invoice, docs.US_INVOICE),
    ("german", docs.german_invoice, docs.GERMAN_INVOICE),
    ("french", docs.french_invoice, docs.FRENCH_INVOICE),
]


@pytest.mark.worker
@pytest.mark.parametrize(("name", "draw", "data"), LAYOUTS, ids=[n for n, *_ in LAYOUTS])
def test_invoice_fields_in_several_layouts_and_locales(
    client: FlaskClient,
    worker: WorkerProcess,
    tmp_path: Path,
    name: str,
    draw: Callable[[Path], Path],
    data: docs.InvoiceData,
) -> None:
    pdf = draw(tmp_path / f"{name} invoice.pdf")
    view, body, disposition = run(client, INVOICE, pdf)
    result = view["result"]
    invoice = result["invoice"]
    assert invoice["invoice_number"] == data.number
    assert invoice["issue_date"] == data.issue and invoice["due_date"] == data.due
    assert invoice["vendor"]["name"].rstrip(".") == data.vendor.rstrip(".")
    assert invoice["customer"]["name"] == data.customer
    assert invoice["currency"] == data.currency
    assert invoice["subtotal"] == money(data.subtotal)
    assert invoice["tax"] == money(data.tax)
    assert invoice["total"] == money(data.total)
    items = invoice["line_items"]
    assert [i["description"].split("\n")[0] for i in items] == [i.description for i in data.items]
    assert [i["amount"] for i in items] == [money(i.amount) for i in data.items]
    assert [i["quantity"] for i in items] == [i.quantity for i in data.items]
    assert [i["unit_price"] for i in items] == [money(i.unit_price) for i in data.items]
    assert {c["name"]: c["passed"] for c in result["checks"]} == {
        "line_items_sum_equals_subtotal": True,
        "subtotal_plus_tax_equals_total": True,
    }
    assert result["warnings"] == []
    for field in ("invoice_number", "issue_date", "subtotal", "tax", "total"):
        assert 0.7 <= result["confidence"][field] <= 1
    expected_format = "1.234,56" if name in ("german", "french") else "1,234.56"
    assert result["number_format"] == expected_format
    # the default export is the JSON of the same result
    assert f"{name} invoice_invoice.json" in disposition
    exported = json.loads(body)
    assert exported["invoice"] == invoice and exported["checks"] == result["checks"]


@pytest.mark.worker
def test_totals_that_do_not_add_up_are_a_warning(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    pdf = docs.bad_totals_invoice(tmp_path / "bad.pdf")
    view, _, _ = run(client, INVOICE, pdf, {"locale": "en-US"})
    result = view["result"]
    invoice = result["invoice"]
    # what is printed is what is returned; the check says it does not add up
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (1250.0, 250.0, 1600.0)
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["subtotal_plus_tax_equals_total"]["passed"] is False
    assert checks["subtotal_plus_tax_equals_total"]["actual"] == 1500.0
    assert checks["line_items_sum_equals_subtotal"]["passed"] is True
    assert any("1600.00" in w and "1500.00" in w for w in result["warnings"])
    assert result["confidence"]["total"] < 0.7
    # en-US: numeric dates are month first
    assert (invoice["issue_date"], invoice["due_date"]) == ("2024-05-02", "2024-06-01")
    assert invoice["currency"] == "GBP"


@pytest.mark.worker
def test_invoice_exports_open_in_their_readers(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    pdf = docs.us_invoice(tmp_path / "acme.pdf")
    data = docs.US_INVOICE

    view, body, disposition = run(client, INVOICE, pdf, {"exportFormat": "csv"})
    assert "acme_invoice.csv" in disposition
    assert view["result"]["export_format"] == "csv"
    assert view["result"]["invoice"]["total"] == money(data.total)  # the fields, as for json
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [r["description"] for r in rows] == [i.description for i in data.items]
    assert [Decimal(r["amount"]) for r in rows] == [i.amount for i in data.items]
    assert {r["invoice_number"] for r in rows} == {data.number}
    assert {r["total"] for r in rows} == {str(data.total)}

    view, body, disposition = run(client, INVOICE, pdf, {"exportFormat": "xlsx"})
    assert "acme_invoice.xlsx" in disposition
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Invoice", "Line items", "Checks"]
    fields = {row[0]: row[1] for row in book["Invoice"].iter_rows(min_row=2, values_only=True)}
    assert fields["invoice_number"] == data.number
    assert fields["total"] == money(data.total) and isinstance(fields["total"], float)
    assert isinstance(fields["issue_date"], dt.datetime)
    assert fields["issue_date"].date().isoformat() == data.issue
    items = list(book["Line items"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2], r[4]) for r in items] == [
        (i.description, i.quantity, money(i.amount)) for i in data.items
    ]
    checks = list(book["Checks"].iter_rows(min_row=2, values_only=True))
    assert all(passed is True for _, passed, _ in checks)


# --- bank statements ------------------------------------------------------------


@pytest.mark.worker
def test_statement_with_signed_amounts_as_csv(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    data = docs.ENGLISH_STATEMENT
    pdf = docs.english_statement(tmp_path / "january.pdf")
    view, body, disposition = run(client, STATEMENT, pdf, {"exportFormat": "csv"})
    result = view["result"]
    statement = result["statement"]
    assert statement["account_number_masked"] == "************5678"
    assert statement["account_holder"] == data.holder
    assert statement["bank_name"] == data.bank
    assert (statement["period_start"], statement["period_end"]) == data.period
    assert statement["opening_balance"] == money(data.opening)
    assert statement["closing_balance"] == money(data.closing)
    txs = statement["transactions"]
    assert [(t["date"], t["description"], t["amount"]) for t in txs] == [
        (t.date, t.description, money(t.amount)) for t in data.transactions
    ]
    assert [t["balance"] for t in txs] == [money(b) for b in data.balances()]
    assert [t["category"] for t in txs] == [
        "income", "housing", "groceries", "transport", "subscriptions", "cash", "fees",
    ]  # fmt: skip
    assert all(c["passed"] for c in result["checks"]) and len(result["checks"]) == 2
    assert result["summary"]["transactions"] == 7
    assert result["summary"]["total_credits"] == 3200.0
    # the full account number is nowhere: not in the result, not in the file
    digits = data.account.replace(" ", "")
    assert digits not in json.dumps(view) and digits not in body.decode()
    assert "january_statement.csv" in disposition
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [Decimal(r["amount"]) for r in rows] == [t.amount for t in data.transactions]
    assert [r["category"] for r in rows] == [t["category"] for t in txs]


@pytest.mark.worker
def test_german_statement_with_debit_and_credit_columns_as_xlsx(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    data = docs.GERMAN_STATEMENT
    pdf = docs.german_statement(tmp_path / "februar.pdf")
    view, body, _ = run(client, STATEMENT, pdf, {"exportFormat": "xlsx", "categorize": False})
    result = view["result"]
    statement = result["statement"]
    assert result["number_format"] == "1.234,56"
    assert statement["account_number_masked"].endswith("3000")
    assert "DE89" not in json.dumps(view) and "370400440532013000" not in json.dumps(view)
    assert statement["account_holder"] == data.holder
    assert statement["bank_name"] == data.bank
    assert statement["currency"] == "EUR"
    assert statement["opening_balance"] == money(data.opening)
    assert statement["closing_balance"] == money(data.closing)
    txs = statement["transactions"]
    assert [t["amount"] for t in txs] == [money(t.amount) for t in data.transactions]
    assert [t["date"] for t in txs] == [t.date for t in data.transactions]
    assert all(t["category"] is None for t in txs)  # categorize: false
    assert all(c["passed"] for c in result["checks"])
    book = openpyxl.load_workbook(io.BytesIO(body))
    rows = list(book["Transactions"].iter_rows(min_row=2, values_only=True))
    assert [r[2] for r in rows] == [money(t.amount) for t in data.transactions]
    assert all(isinstance(r[0], dt.datetime) and isinstance(r[3], float) for r in rows)


@pytest.mark.worker
def test_a_broken_running_balance_is_a_warning(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    data = docs.StatementData(**{**docs.ENGLISH_STATEMENT.__dict__, "broken_row": 3})
    pdf = docs.english_statement(tmp_path / "broken.pdf", data)
    view, _, _ = run(client, STATEMENT, pdf)
    result = view["result"]
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["running_balance"]["passed"] is False
    assert "row 4" in checks["running_balance"]["message"]
    assert any("running balance" in w for w in result["warnings"])


@pytest.mark.worker
def test_a_pdf_without_text_fails_with_its_code(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    pdf = tmp_path / "scan.pdf"
    canvas = Canvas(str(pdf))
    canvas.rect(100, 100, 300, 400, fill=1)  # a picture of a page, no text
    canvas.save()
    response = submit(client, INVOICE, pdf)
    view = wait_for(client, response.json["data"]["job_id"])  # type: ignore[index]
    assert view["status"] == "failed" and view["error"]["code"] == "NO_TEXT_LAYER"
    assert view["attempts"] == 1  # bad input is not retried


# --- requests and capabilities (no worker needed) ------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ("{not json", "options"),
        ("[1, 2]", "options"),
        ({"exportFormat": "pdf"}, "options.exportFormat"),
        ({"engine": "magic"}, "options.engine"),
        ({"locale": "xx-XX"}, "options.locale"),
        ({"exportformat": "csv"}, "options.exportformat"),
    ],
)
def test_bad_options_are_refused(
    client: FlaskClient, tmp_path: Path, options: dict[str, Any] | str, field: str
) -> None:
    pdf = docs.us_invoice(tmp_path / "inv.pdf")
    before = client.get("/api/jobs").json["data"]  # type: ignore[index]
    response = submit(client, INVOICE, pdf, options)
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_ERROR"
    details = response.json["error"]["details"]  # type: ignore[index]
    assert [e["field"] for e in details["errors"]] == [field]
    assert "exportFormat" in details["allowed_options"]
    assert client.get("/api/jobs").json["data"] == before  # type: ignore[index]


def test_statement_options_are_its_own(client: FlaskClient, tmp_path: Path) -> None:
    pdf = docs.english_statement(tmp_path / "st.pdf")
    response = submit(client, INVOICE, pdf, {"categorize": True})  # a statement option
    assert response.status_code == 400
    assert submit(client, STATEMENT, pdf, {"categorize": "maybe"}).status_code == 400


def test_capabilities_describe_fields_formats_locales_and_engines(client: FlaskClient) -> None:
    invoice = client.get("/api/ai/invoice-capabilities").json["data"]  # type: ignore[index]
    for field in ("invoice_number", "issue_date", "due_date", "vendor", "customer", "total"):
        assert field in invoice["fields"]
    assert invoice["export_formats"] == ["json", "csv", "xlsx"]
    assert {"auto", "en-US", "de-DE", "fr-FR"} <= set(invoice["locales"])
    assert invoice["engines"]["rules"]["available"] is True
    assert invoice["default_engine"] == "rules"
    statement = client.get("/api/ai/bank-statement-capabilities").json["data"]  # type: ignore[index]
    assert "account_number_masked" in statement["fields"]
    assert "groceries" in statement["categories"]
    assert "categorize" in statement["options"]
    ops = client.get("/api/extended-features/capabilities").json["data"]["operations"]  # type: ignore[index]
    names = {op["name"]: op for op in ops}
    assert names["extract_invoice"]["task_type"] == "extract_invoice"
    assert names["extract_bank_statement"]["path"] == STATEMENT
    doc = client.get("/api/openapi.json").json
    assert doc is not None and "post" in doc["paths"][INVOICE]


# --- how numbers and dates are read (pure functions) -----------------------------


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("Total: $1,234.56", ".", ["1234.56"]),
        ("Gesamt 1.234,56 EUR", ",", ["1234.56"]),
        ("Total TTC 1 234,56 €", ",", ["1234.56"]),
        ("CHF 1'234.50", ".", ["1234.50"]),
        ("Refund (45.00)", ".", ["-45.00"]),
        ("Debit 45.00-", ".", ["-45.00"]),
        ("Tax 14.50% on 278.61", ".", ["278.61"]),
        ("Account 12345678 on 01.05.2024", ".", []),
    ],
)
def test_amounts_in_several_locales(text: str, decimal: str, expected: list[str]) -> None:
    found = find_amounts(text, NumberStyle(decimal))
    assert [str(a.value) for a in found] == expected


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("Invoice Date: August 3 , 2014", "DMY", "2014-08-03"),
        ("Rechnungsdatum 7. Mai 2014", "DMY", "2014-05-07"),
        ("Facture du 02 Juillet 2015", "DMY", "2015-07-02"),
        ("Fecha: 3 marzo 2024", "DMY", "2024-03-03"),
        ("03/04/2024", "DMY", "2024-04-03"),
        ("03/04/2024", "MDY", "2024-03-04"),
        ("31/12/2017", "MDY", "2017-12-31"),  # a day above 12 settles it
        ("2024-03-15", "MDY", "2024-03-15"),
        ("3-Aug-14", "DMY", "2014-08-03"),
    ],
)
def test_dates_in_several_locales(text: str, order: str, expected: str | None) -> None:
    found = find_dates(text, order)
    assert (found[0].value.isoformat() if found else None) == expected


def test_another_engines_answer_fits_the_schema_and_gets_the_same_checks() -> None:
    """The seam for a language-model engine: its JSON answer is validated by
    the same model, and checked by the same arithmetic."""
    from pressroom.services.extraction.invoice import check_invoice
    from pressroom.services.extraction.schemas import Invoice

    schema = Invoice.model_json_schema()
    assert schema["properties"]["total"]["anyOf"][0] == {"type": "number"}
    answer = {
        "invoice_number": "A-17",
        "issue_date": "2024-01-31",
        "total": 130.0,
        "subtotal": 100.0,
        "tax": 20.0,
        "line_items": [{"description": "Work", "amount": 100.0}],
    }
    invoice = Invoice.model_validate(answer)
    confidence = {"total": 0.9, "subtotal": 0.9}
    warnings: list[str] = []
    checks = check_invoice(invoice, confidence, warnings)
    assert {c.name: c.passed for c in checks} == {
        "line_items_sum_equals_subtotal": True,
        "subtotal_plus_tax_equals_total": False,
    }
    assert warnings and confidence["total"] < 0.9
    with pytest.raises(ValueError):
        Invoice.model_validate({**answer, "unknown_field": 1})


@pytest.mark.worker
def test_two_page_statement_with_dates_once_per_day_and_two_line_details(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    data = docs.UK_STATEMENT
    pdf = docs.uk_statement(tmp_path / "march.pdf")
    view, _, _ = run(client, STATEMENT, pdf)
    result = view["result"]
    statement = result["statement"]
    assert result["pages"] == 2
    assert statement["account_number_masked"] == "**********4567"
    assert "41234567" not in json.dumps(view)
    assert statement["bank_name"] == data.bank
    assert (statement["period_start"], statement["period_end"]) == data.period
    assert statement["opening_balance"] == money(data.opening)
    assert statement["closing_balance"] == money(data.closing)
    txs = statement["transactions"]
    # a row without a date has its day's date; the reference line joins its row;
    # the page footers and the repeated header are no transaction
    assert [(t["date"], t["amount"]) for t in txs] == [
        (t.date, money(t.amount)) for t in data.transactions
    ]
    assert [t["description"] for t in txs] == [
        f"{t.description} REF {900100 + n}" for n, t in enumerate(data.transactions)
    ]
    assert all(c["passed"] for c in result["checks"]) and len(result["checks"]) == 2
    assert result["warnings"] == []
