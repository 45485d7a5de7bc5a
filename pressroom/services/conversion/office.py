"""Office writers: a Word document (python-docx) and an Excel workbook
(openpyxl), and the tables as CSV."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from pressroom.services.conversion.document import Block, Document, Picture, Table
from pressroom.services.conversion.options import CsvOptions, DocxOptions, XlsxOptions

#: characters a list item's text may start with when it carries its own bullet
MARKERS = "\u2022*-\u2013\u25aa"
#: '1,234.50', '-3', '(12.5)', '$ 10', '13%', '1 234,5' is left as text (ambiguous)
_NUMBER = re.compile(r"^\(?[-+\u2212]?\s?[$€£¥]?\s?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\)?\s?%?$")


def as_number(text: str) -> int | float | None:
    """The number a table cell shows, or None. A leading zero ('007') is an
    identifier, not a number, and stays text."""
    value = text.strip()
    if not value or not _NUMBER.match(value):
        return None
    digits = re.sub(r"[^\d.]", "", value)
    if len(digits) > 1 and digits[0] == "0" and digits[1] != ".":
        return None
    negative = value.startswith(("-", "\u2212", "(")) or value.startswith(("$-", "-$"))
    number: float = float(digits)
    if value.endswith("%"):
        number /= 100
    if negative:
        number = -number
    if number.is_integer() and "." not in digits and not value.endswith("%"):
        return int(number)
    return number


# -- DOCX ---------------------------------------------------------------------------
def write_docx(doc: Document, options: DocxOptions, dest: Path) -> None:
    from docx import Document as Word
    from docx.shared import Emu, Pt

    word = Word()
    props = word.core_properties
    props.title = (doc.title or "")[:255]
    props.author = doc.metadata.get("Author", "")[:255]
    section = word.sections[0]
    text_width = int(section.page_width or 0) - int(section.left_margin or 0)
    text_width -= int(section.right_margin or 0)
    for n, page in enumerate(doc.pages):
        if n and options.pageBreaks:
            word.add_page_break()
        for item in page.items:
            if isinstance(item, Block):
                if item.kind == "heading":
                    word.add_heading(item.text, level=min(item.level, 9))
                elif item.kind == "list_item":
                    text = item.text
                    if item.list_kind != "number" and text[:1] in MARKERS:
                        text = text[1:].strip()
                    style = "List Number" if item.list_kind == "number" else "List Bullet"
                    if item.list_kind == "number":
                        text = text.partition(" ")[2] or text
                    word.add_paragraph(text, style=style)
                else:
                    word.add_paragraph(item.text)
            elif isinstance(item, Table) and options.includeTables:
                width = max(len(row) for row in item.rows)
                table = word.add_table(rows=len(item.rows), cols=width)
                table.style = "Table Grid"
                for r, row in enumerate(item.rows):
                    for c, value in enumerate(row):
                        cell = table.cell(r, c)
                        cell.text = value
                        if r == 0:
                            for run in cell.paragraphs[0].runs:
                                run.bold = True
                word.add_paragraph()
            elif isinstance(item, Picture) and options.includeImages and item.file:
                width = Emu(min(int(text_width), int((item.bbox[2] - item.bbox[0]) * 12700)))
                word.add_picture(str(item.file), width=width)
    style = word.styles["Normal"]
    style.font.size = Pt(11)
    word.save(str(dest))


# -- XLSX -----------------------------------------------------------------------------
def _sheet_title(taken: set[str], title: str) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", title)[:31]
    candidate, n = title, 1
    while candidate.lower() in taken:
        n += 1
        suffix = f" ({n})"
        candidate = title[: 31 - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def _cell_value(text: str, numbers: bool) -> tuple[Any, str | None]:
    if not numbers:
        return text, None
    number = as_number(text)
    if number is None:
        return text, None
    if text.strip().endswith("%"):
        return number, "0%" if round(number * 100, 6).is_integer() else "0.00%"
    if "," in text:
        return number, "#,##0.00" if isinstance(number, float) else "#,##0"
    return number, None


def write_xlsx(doc: Document, options: XlsxOptions, dest: Path) -> int:
    """Each table on a sheet named after its page; numbers stored as numbers
    (with a format that shows them as the PDF did). Returns the sheet count."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    default = book.active
    taken: set[str] = set()
    count = 0
    for page_number, table in doc.tables:
        count += 1
        sheet = book.create_sheet(_sheet_title(taken, f"Page {page_number} Table {count}"))
        widths: dict[int, int] = {}
        for r, row in enumerate(table.rows, 1):
            for c, text in enumerate(row, 1):
                value, fmt = _cell_value(text, options.detectNumbers and r > 1)
                cell = sheet.cell(row=r, column=c, value=value)
                if fmt:
                    cell.number_format = fmt
                if r == 1:
                    cell.font = Font(bold=True)
                widths[c] = max(widths.get(c, 0), len(text))
        for c, width in widths.items():
            sheet.column_dimensions[get_column_letter(c)].width = min(60, max(8, width + 2))
        sheet.freeze_panes = "A2"
    if count == 0 and options.textSheetWhenNoTables:
        sheet = book.create_sheet("Text")
        sheet.append(["Page", "Text"])
        sheet["A1"].font = sheet["B1"].font = Font(bold=True)
        for page in doc.pages:
            for block in page.blocks:
                sheet.append([page.number, block.text])
        sheet.column_dimensions["B"].width = 100
    if len(book.sheetnames) > 1 or count or options.textSheetWhenNoTables:
        book.remove(default)
    book.save(str(dest))
    return count


# -- CSV --------------------------------------------------------------------------------
def _csv_text(rows: list[list[Any]], options: CsvOptions) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options.delimiter, lineterminator="\r\n")
    for row in rows:
        if options.detectNumbers:
            row = [n if (n := as_number(str(c))) is not None else c for c in row]
        writer.writerow(row)
    return buffer.getvalue()


def write_csv(doc: Document, options: CsvOptions, dest: Path) -> tuple[int, bool]:
    """One table: one CSV. Several: a zip of ``page-<n>-table-<k>.csv``.
    None: the text, a line per row (page, text). Returns (tables, zipped)."""
    tables = doc.tables
    if len(tables) == 1:
        dest.write_text(_csv_text(tables[0][1].rows, options), encoding="utf-8-sig")
        return 1, False
    if not tables:
        rows: list[list[Any]] = [["page", "text"]]
        rows += [[page.number, block.text] for page in doc.pages for block in page.blocks]
        dest.write_text(_csv_text(rows, options), encoding="utf-8-sig")
        return 0, False
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        per_page: dict[int, int] = {}
        for page_number, table in tables:
            per_page[page_number] = per_page.get(page_number, 0) + 1
            name = f"page-{page_number}-table-{per_page[page_number]}.csv"
            archive.writestr(name, "\ufeff" + _csv_text(table.rows, options))
    return len(tables), True
