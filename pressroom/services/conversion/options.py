"""The output formats of a conversion and the options each one takes.

One pydantic model per format, so a misspelled option is refused (with the
valid ones listed) instead of silently falling back to a default, and so the
OpenAPI document and the capabilities endpoint describe the real fields.
``pages`` (ranges like ``1-3,7``) is accepted by every format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_RANGES = re.compile(r"^\s*\d+\s*(-\s*\d*\s*)?(,\s*\d+\s*(-\s*\d*\s*)?)*$")


class PageRangeError(ValueError):
    """A page selection that does not fit the document."""


def check_pages_syntax(value: str | None) -> str | None:
    if value is None or value.strip() in ("", "all"):
        return None
    if not _RANGES.match(value):
        raise ValueError("pages must look like '1-3,7' (1-based; '5-' means 5 to the end)")
    for part in value.split(","):
        bounds = [b.strip() for b in part.split("-")]
        if int(bounds[0]) < 1 or (
            len(bounds) == 2 and bounds[1] and int(bounds[1]) < int(bounds[0])
        ):
            raise ValueError(f"page range {part.strip()!r} is empty or starts before page 1")
    return value.replace(" ", "")


def select_pages(spec: str | None, count: int) -> list[int]:
    """0-based page indexes selected by ``spec`` in a document of ``count``
    pages, in document order, each once."""
    if not spec:
        return list(range(count))
    chosen: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        start = int(first)
        end = (int(last) if last else count) if "-" in part else start
        if start > count:
            raise PageRangeError(f"page {start} is past the end (the document has {count} pages)")
        chosen.update(range(start - 1, min(end, count)))
    return sorted(chosen)


class BaseOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pages: str | None = Field(
        None, description="Pages to convert, 1-based ranges like '1-3,7' ('5-': 5 to the end)."
    )

    @field_validator("pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        return check_pages_syntax(value)


class TxtOptions(BaseOptions):
    preserveLayout: bool = Field(
        False, description="Keep the page's columns and indentation with spaces."
    )
    pageBreaks: bool = Field(True, description="Separate pages with a form feed.")


class MarkdownOptions(BaseOptions):
    includeTables: bool = Field(True, description="Write detected tables as Markdown tables.")
    pageBreaks: bool = Field(False, description="A horizontal rule between pages.")


class HtmlOptions(BaseOptions):
    include_css: bool = Field(True, description="Embed a small stylesheet in the page.")
    includeImages: bool = Field(True, description="Embed the pictures as data: URIs.")
    includeTables: bool = Field(True, description="Write detected tables as <table>.")
    title: str | None = Field(None, max_length=200, description="The page title.")


class DocxOptions(BaseOptions):
    includeImages: bool = Field(True, description="Embed the pictures of the pages.")
    includeTables: bool = Field(True, description="Write detected tables as Word tables.")
    pageBreaks: bool = Field(True, description="Start each PDF page on a new page.")
    imageDpi: int = Field(150, ge=36, le=600, description="Resolution of embedded pictures.")


class XlsxOptions(BaseOptions):
    textSheetWhenNoTables: bool = Field(
        True, description="When no table is found, one sheet with the text, a line per row."
    )
    detectNumbers: bool = Field(True, description="Store '1,234.50' and '12%' as numbers.")


class CsvOptions(BaseOptions):
    delimiter: Literal[",", ";", "\t", "|"] = Field(",", description="Field separator.")
    detectNumbers: bool = Field(False, description="Write '1,234.50' as 1234.5.")


class JsonOptions(BaseOptions):
    includeWords: bool = Field(False, description="Also list every word with its box.")
    includeTables: bool = Field(True, description="List the detected tables with their cells.")


class ImagesOptions(BaseOptions):
    imageFormat: Literal["png", "jpeg"] = Field("png", description="Format of each page image.")
    dpi: int = Field(150, ge=36, le=600, description="Resolution of the page images.")
    quality: int = Field(85, ge=10, le=100, description="JPEG quality (jpeg only).")


class PdfOptions(BaseModel):
    """Into PDF: an image (img2pdf, lossless) or an office document (LibreOffice)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class OutputFormat:
    name: str
    options: type[BaseModel]
    extension: str
    mime: str
    description: str


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("txt", TxtOptions, ".txt", "text/plain; charset=utf-8", "Plain text"),
        OutputFormat(
            "markdown", MarkdownOptions, ".md", "text/markdown; charset=utf-8", "Markdown"
        ),
        OutputFormat("html", HtmlOptions, ".html", "text/html; charset=utf-8", "One HTML page"),
        OutputFormat(
            "docx",
            DocxOptions,
            ".docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word document",
        ),
        OutputFormat(
            "xlsx",
            XlsxOptions,
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Excel workbook, a sheet per table",
        ),
        OutputFormat(
            "csv", CsvOptions, ".csv", "text/csv; charset=utf-8", "The tables (a zip when several)"
        ),
        OutputFormat("json", JsonOptions, ".json", "application/json", "Structure as JSON"),
        OutputFormat("images", ImagesOptions, ".zip", "application/zip", "A page image each"),
        OutputFormat("pdf", PdfOptions, ".pdf", "application/pdf", "Images or office files to PDF"),
    )
}

#: formats whose input is a PDF (everything but ``pdf``)
FROM_PDF = tuple(name for name in FORMATS if name != "pdf")


def options_schemas() -> dict[str, dict[str, Any]]:
    """Format -> the JSON schema of its options (for OpenAPI and capabilities)."""
    schemas = {}
    for name, fmt in FORMATS.items():
        schema = fmt.options.model_json_schema()
        schema.pop("title", None)
        schema["description"] = fmt.description
        schemas[name] = schema
    return schemas
