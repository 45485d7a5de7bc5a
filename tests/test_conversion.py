"""Conversion through the real API and a real worker: each format opened with
its own reader and checked against what the source PDF holds
(tests/support/pdfs.py: report_pdf and REPORT)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support import pdfs
from tests.support.api import error_code, wait_for
from tests.support.pdfs import REPORT
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pdfs.report_pdf(tmp_path_factory.mktemp("conv") / "report.pdf")


def submit(
    client: FlaskClient,
    data: bytes,
    fmt: str,
    options: dict[str, Any] | str | None = None,
    filename: str = "Quarterly report.pdf",
) -> Any:
    form: dict[str, Any] = {"file": (io.BytesIO(data), filename), "format": fmt}
    if options is not None:
        form["options"] = options if isinstance(options, str) else json.dumps(options)
    return client.post("/api/convert", data=form, content_type="multipart/form-data")


def convert(
    client: FlaskClient, source: Path, fmt: str, options: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Any]:
    response = submit(client, source.read_bytes(), fmt, options, filename=source.name)
    assert response.status_code == 202, response.json
    view = wait_for(client, response.json["data"]["job_id"])
    assert view["status"] == "completed", view
    download = client.get(view["download_url"])
    assert download.status_code == 200
    return view, download


def words(text: str) -> list[str]:
    return text.split()


def test_txt_markdown_and_html_keep_headings_lists_and_tables(
    client: FlaskClient, worker: WorkerProcess, report: Path
) -> None:
    view, download = convert(client, report, "txt")
    assert download.mimetype == "text/plain"
    assert "report.txt" in download.headers["Content-Disposition"]
    text = download.get_data(as_text=True)
    assert view["result"]["pages_converted"] == 3 and view["result"]["tables"] == 2
    # reading order: title, intro, section, the table, closing; pages split by form feed
    order = [REPORT["title"], REPORT["intro"], REPORT["section"], "North", REPORT["closing"]]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert text.count("\f") == 2
    # the same words as pdftotext finds, bullets aside
    assert set(words(pdfs.pdf_text(report))) - set(words(text)) <= {"•"}

    _, download = convert(client, report, "markdown")
    assert download.mimetype == "text/markdown"
    md = download.get_data(as_text=True)
    assert f"# {REPORT['title']}\n" in md and f"## {REPORT['section']}\n" in md
    for bullet in REPORT["bullets"]:
        assert f"- {bullet}\n" in md
    assert "| Region | Q1 | Q2 | Growth |" in md and "| North | 1,234.50 | 1,400.00 | 13% |" in md
    assert "| Alice Martin | Paris | 2019 |" in md  # the unruled table too

    _, download = convert(client, report, "html")
    assert download.mimetype == "text/html"
    page = HtmlOutline()
    page.feed(download.get_data(as_text=True))
    assert page.headings == [("h1", REPORT["title"]), ("h2", REPORT["section"]), ("h2", "Staff")]
    assert page.tables == [REPORT["ruled"], REPORT["unruled"]]
    assert page.items == REPORT["bullets"]
    assert page.external == [] and page.images == 1  # self-contained: a data: URI
    assert page.styles == 1


def test_txt_preserve_layout_keeps_columns(
    client: FlaskClient, worker: WorkerProcess, report: Path
) -> None:
    _, download = convert(client, report, "txt", {"preserveLayout": True, "pages": "2"})
    lines = download.get_data(as_text=True).splitlines()
    row = next(line for line in lines if "Alice Martin" in line)
    header = next(line for line in lines if "Name" in line and "Office" in line)
    # the columns line up as on the page
    assert row.index("Paris") == header.index("Office")
    assert "Closing notes" not in "\n".join(lines)  # page 3 not asked for


def test_docx_has_headings_lists_tables_pictures_and_page_breaks(
    client: FlaskClient, worker: WorkerProcess, report: Path, tmp_path: Path
) -> None:
    import docx

    _view, download = convert(client, report, "docx")
    assert download.mimetype == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    path = tmp_path / "out.docx"
    path.write_bytes(download.data)
    word = docx.Document(str(path))
    styled = [(p.style.name, p.text) for p in word.paragraphs if p.text]
    assert ("Heading 1", REPORT["title"]) in styled and ("Heading 2", REPORT["section"]) in styled
    assert [t for s, t in styled if s == "List Bullet"] == REPORT["bullets"]
    assert ("Normal", REPORT["closing"]) in styled
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in word.tables]
    assert tables == [REPORT["ruled"], REPORT["unruled"]]
    assert len(word.inline_shapes) == 1  # the picture of page 2
    breaks = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(breaks)) as archive:
        body = archive.read("word/document.xml").decode()
    assert body.count('w:type="page"') == 2
    assert word.core_properties.title == "Quarterly Report"


def test_xlsx_puts_each_table_on_a_sheet_with_numbers_as_numbers(
    client: FlaskClient, worker: WorkerProcess, report: Path, tmp_path: Path
) -> None:
    import openpyxl

    _, download = convert(client, report, "xlsx")
    path = tmp_path / "out.xlsx"
    path.write_bytes(download.data)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Page 1 Table 1", "Page 2 Table 2"]
    rows = [[c.value for c in row] for row in book["Page 1 Table 1"].iter_rows()]
    assert rows[0] == REPORT["ruled"][0]
    assert rows[1] == ["North", 1234.5, 1400, 0.13]
    assert rows[3] == ["West", 2045, 1990.1, -0.03]
    staff = [[c.value for c in row] for row in book["Page 2 Table 2"].iter_rows()]
    assert staff[1] == ["Alice Martin", "Paris", 2019]

    # a page without tables: one text sheet
    _, download = convert(client, report, "xlsx", {"pages": "3"})
    path.write_bytes(download.data)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Text"]
    assert [c.value for c in book["Text"][2]] == [3, REPORT["closing"]]


def test_csv_is_one_file_for_one_table_and_a_zip_for_several(
    client: FlaskClient, worker: WorkerProcess, report: Path
) -> None:
    view, download = convert(client, report, "csv", {"pages": "1"})
    assert download.mimetype == "text/csv"
    assert "report.csv" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert rows == REPORT["ruled"]

    view, download = convert(client, report, "csv", {"delimiter": ";"})
    assert download.mimetype == "application/zip"
    assert view["result"]["file"]["filename"] == "report_tables.zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert archive.namelist() == ["page-1-table-1.csv", "page-2-table-1.csv"]
        staff = archive.read("page-2-table-1.csv").decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(staff), delimiter=";")) == REPORT["unruled"]


def test_json_lists_pages_blocks_with_positions_tables_and_metadata(
    client: FlaskClient, worker: WorkerProcess, report: Path
) -> None:
    _, download = convert(client, report, "json", {"pages": "1,3"})
    assert download.mimetype == "application/json"
    doc = json.loads(download.data)
    assert doc["page_count"] == 3 and doc["pages_converted"] == [1, 3]
    assert doc["metadata"]["Title"] == "Quarterly Report"
    first = doc["pages"][0]
    title = first["blocks"][0]
    assert (title["type"], title["text"], title["level"]) == ("heading", REPORT["title"], 1)
    x0, top, x1, bottom = title["bbox"]
    assert 0 < x0 < x1 < first["width"] and 0 < top < bottom < first["height"] / 4
    assert first["tables"][0]["rows"] == REPORT["ruled"] and first["tables"][0]["ruled"]
    assert [b["text"] for b in doc["pages"][1]["blocks"]] == [REPORT["closing"]]


def test_images_are_one_zip_of_pages_at_the_chosen_resolution(
    client: FlaskClient, worker: WorkerProcess, report: Path
) -> None:
    from PIL import Image

    view, download = convert(
        client, report, "images", {"imageFormat": "jpeg", "dpi": 72, "pages": "2-"}
    )
    assert download.mimetype == "application/zip"
    assert view["result"]["file"]["filename"] == "report_pages.zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert archive.namelist() == ["page-0002.jpg", "page-0003.jpg"]
        image = Image.open(io.BytesIO(archive.read("page-0002.jpg")))
    assert (
        image.format == "JPEG" and abs(image.size[0] - 595) <= 1 and image.size[1] == 842
    )  # A4, 72 dpi


def test_an_image_becomes_a_pdf_losslessly(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    import pypdfium2 as pdfium
    from PIL import Image

    png = tmp_path / "scan.png"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(png, dpi=(100, 100))
    view, download = convert(client, png, "pdf")
    assert download.mimetype == "application/pdf"
    assert (
        view["result"]["file"]["filename"] == "scan.pdf" and view["result"]["engine"] == "img2pdf"
    )
    out = tmp_path / "scan.pdf"
    out.write_bytes(download.data)
    page = pdfium.PdfDocument(str(out))[0]
    assert round(page.get_width()) == 216  # 300 px at 100 dpi = 3 in
    pixels = page.render(scale=100 / 72).to_pil().convert("RGB")
    assert pixels.getpixel((150, 100)) == (200, 30, 30)


def test_office_to_pdf_is_refused_clearly_without_libreoffice(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pressroom.api.convert

    monkeypatch.setattr(pressroom.api.convert, "office_available", lambda: False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    response = submit(client, buffer.getvalue(), "pdf", filename="letter.docx")
    assert response.status_code == 503 and error_code(response) == "ENGINE_MISSING"
    assert "LibreOffice" in response.json["error"]["message"]
    caps = client.get("/api/extended-features/capabilities").json["data"]["operations"]
    office = next(op for op in caps if op["name"] == "convert")["into_pdf"]["office"]
    assert office["available"] is False


@pytest.mark.skipif(
    not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice missing"
)
def test_an_office_document_becomes_a_pdf(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path, report: Path
) -> None:
    import docx

    word = docx.Document()
    word.add_heading("Letter to the editor", 1)
    word.add_paragraph("Dear editor, the presses ran all night.")
    path = tmp_path / "letter.docx"
    word.save(str(path))
    _view, download = convert(client, path, "pdf")
    out = tmp_path / "letter.pdf"
    out.write_bytes(download.data)
    assert "presses ran all night" in pdfs.pdf_text(out)


def test_bad_formats_options_and_pages_are_refused_with_the_valid_ones(
    client: FlaskClient, worker: WorkerProcess, report: Path
) -> None:
    data = report.read_bytes()
    response = submit(client, data, "pptx")
    assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
    assert "markdown" in json.dumps(response.json["error"]["details"])

    response = submit(client, data, "docx", {"includeImage": False})
    assert response.status_code == 400
    details = response.json["error"]["details"]
    assert details["errors"][0]["field"] == "options.includeImage"
    assert "includeImages" in details["allowed_options"] and "pages" in details["allowed_options"]

    for bad in ("not json", "[1, 2]"):
        response = submit(client, data, "txt", bad)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
    response = submit(client, data, "txt", {"pages": "3-1"})
    assert response.status_code == 400
    response = submit(client, data, "images", {"dpi": 5000})
    assert response.status_code == 400
    response = submit(client, data, "pdf")  # already a PDF
    assert response.status_code == 400
    response = submit(client, b"plain text, not a PDF", "docx", filename="notes.txt")
    assert response.status_code == 415 and error_code(response) == "UNSUPPORTED_FILE_TYPE"

    # a range past the end is known once the document is read: the job fails with its code
    response = submit(client, data, "txt", {"pages": "7-9"})
    assert response.status_code == 202
    view = wait_for(client, response.json["data"]["job_id"])
    assert view["status"] == "failed" and view["error"]["code"] == "INVALID_PAGE_RANGE"


def test_preview_counts_tables_and_pictures_and_estimates_each_format(
    client: FlaskClient, report: Path
) -> None:
    response = client.post(
        "/api/convert/preview",
        data={"file": (io.BytesIO(report.read_bytes()), "report.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["pages"] == 3 and data["tables_found"] == 2 and data["images_found"] == 1
    assert data["scanned"] is False and data["recommended_format"] == "xlsx"
    formats = data["formats"]
    assert set(formats) == {"txt", "markdown", "html", "docx", "xlsx", "csv", "json", "images"}
    assert all(f["estimated_size"] > 0 and f["estimated_seconds"] > 0 for f in formats.values())
    # the text estimate is close to what the conversion writes (the words, ~400 bytes)
    assert 200 < formats["txt"]["estimated_size"] < 1000


def test_capabilities_and_openapi_describe_each_formats_options(client: FlaskClient) -> None:
    ops = client.get("/api/extended-features/capabilities").json["data"]["operations"]
    convert_op = next(op for op in ops if op["name"] == "convert")
    assert set(convert_op["formats"]) >= {"txt", "docx", "xlsx", "images", "pdf"}
    fields = convert_op["fields"]["properties"]
    assert "pdf" in fields["format"]["enum"]
    by_format = fields["options"]["x-options-by-format"]
    assert "preserveLayout" in by_format["txt"]["properties"]
    assert by_format["images"]["properties"]["imageFormat"]["enum"] == ["png", "jpeg"]
    doc = client.get("/api/openapi.json").json
    body = doc["paths"]["/api/convert"]["post"]["requestBody"]["content"]["multipart/form-data"]
    # options travels as a JSON text part (the multipart encoding says so)
    assert body["encoding"]["options"]["contentType"] == "application/json"
    assert "/api/convert/preview" in doc["paths"]


def test_a_scanned_pdf_is_reported_as_such(client: FlaskClient, tmp_path: Path) -> None:
    scan = pdfs.scanned_pdf(tmp_path / "scan.pdf", dpi=100)
    response = client.post(
        "/api/convert/preview",
        data={"file": (io.BytesIO(scan.read_bytes()), "scan.pdf")},
        content_type="multipart/form-data",
    )
    data = response.json["data"]
    assert data["scanned"] is True and data["recommended_format"] == "images"
    assert any("OCR" in advice for advice in data["recommendations"])


class HtmlOutline(HTMLParser):
    """Headings, list items, tables, pictures and external references of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.items: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.external: list[str] = []
        self.images = 0
        self.styles = 0
        self._tag: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("src", "href"):
            if values.get(key) and not str(values[key]).startswith("data:"):
                self.external.append(str(values[key]))
        if tag == "img":
            self.images += 1
        if tag == "style":
            self.styles += 1
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("h1", "h2", "h3", "li", "td", "th"):
            self._tag, self._text = tag, ""

    def handle_data(self, data: str) -> None:
        if self._tag:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag != self._tag:
            return
        if tag.startswith("h"):
            self.headings.append((tag, self._text))
        elif tag == "li":
            self.items.append(self._text)
        else:
            self.tables[-1][-1].append(self._text)
        self._tag = None


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("1,234.50", 1234.5),
        ("-3%", -0.03),
        ("(12.50)", -12.5),
        ("$ 10", 10),
        ("2019", 2019),
        ("007", None),  # an identifier keeps its zeros
        ("1 234,5", None),  # ambiguous: left as text
        ("12 apples", None),
        ("2026-01-16", None),
    ],
)
def test_spreadsheet_cells_become_numbers_only_when_they_are(cell: str, value: Any) -> None:
    from pressroom.services.conversion.office import as_number

    assert as_number(cell) == value


def test_page_ranges_select_pages_in_order_once() -> None:
    from pressroom.services.conversion.options import (
        PageRangeError,
        check_pages_syntax,
        select_pages,
    )

    assert select_pages(check_pages_syntax("7, 1-3,2"), 10) == [0, 1, 2, 6]
    assert select_pages(check_pages_syntax("9-"), 10) == [8, 9]
    assert select_pages(check_pages_syntax("2-40"), 3) == [1, 2]  # clipped to the end
    assert select_pages(None, 2) == [0, 1]
    with pytest.raises(PageRangeError):
        select_pages("4", 3)
    for bad in ("0", "3-1", "a-b", "1,,2"):
        with pytest.raises(ValueError):
            check_pages_syntax(bad)
