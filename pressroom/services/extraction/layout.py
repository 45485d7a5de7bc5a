"""The layout of a PDF: its words with their positions, and its ruled tables.

``python -m pressroom.services.extraction.layout FILE`` reads the PDF with
pdfplumber (pdfminer.six) and prints one JSON object; ``read_layout`` runs it
in a child process through the one runner (time-out, memory cap), because
parsing an untrusted PDF must never happen in the worker's own process. The
extraction rules then work on this plain data (``Document``), in the worker.

Words are grouped into lines (words whose vertical extents overlap), and a
line into cells: runs of words separated by less than about two character
widths. A cell is the unit a label or a value lives in ("Invoice Number:",
"42183017"), whatever the document's layout.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pressroom.engines.isolated import run_module

#: pages read from one document; the rest is left out (and said so)
MAX_PAGES = 50
#: pages drawn with more lines, rectangles and curves are not searched for tables
MAX_STROKES = 1500
#: a gap wider than this many times the font size starts a new cell
CELL_GAP = 1.1


def _read(src: Path, max_pages: int) -> dict[str, Any]:
    import pdfplumber  # only ever imported in the child process

    pages: list[dict[str, Any]] = []
    with pdfplumber.open(src) as pdf:
        total = len(pdf.pages)
        for number, page in enumerate(pdf.pages[:max_pages], 1):
            words = page.extract_words(x_tolerance=1.5, y_tolerance=3, extra_attrs=["size"])
            tables = []
            # a drawing (thousands of strokes) is not a ruled table, and makes
            # the table finder slow: only pages with few strokes are searched
            strokes = len(page.lines) + len(page.rects) + len(page.curves)
            for table in page.find_tables() if strokes <= MAX_STROKES else []:
                rows = table.extract()
                if len(rows) >= 2:
                    tables.append({"bbox": list(table.bbox), "rows": rows})
            pages.append(
                {
                    "number": number,
                    "width": float(page.width),
                    "height": float(page.height),
                    "words": [
                        {
                            "text": w["text"],
                            "x0": round(float(w["x0"]), 2),
                            "x1": round(float(w["x1"]), 2),
                            "top": round(float(w["top"]), 2),
                            "bottom": round(float(w["bottom"]), 2),
                            "size": round(float(w.get("size") or 0), 2),
                        }
                        for w in words
                    ],
                    "tables": tables,
                }
            )
    return {"pages": pages, "page_count": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a PDF's words and tables as JSON.")
    parser.add_argument("src", type=Path)
    parser.add_argument("--max-pages", type=int, default=MAX_PAGES)
    args = parser.parse_args(argv)
    json.dump(_read(args.src, args.max_pages), sys.stdout)
    return 0


# --- the worker's side: plain data, no PDF parsing -------------------------


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class Cell:
    """Adjacent words on one line: one label or one value."""

    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return self.words[-1].x1

    @property
    def size(self) -> float:
        return max(w.size for w in self.words)


@dataclass
class Line:
    page: int
    top: float
    bottom: float
    cells: list[Cell]
    index: int = 0  # position in the document's reading order

    @property
    def text(self) -> str:
        return "  ".join(c.text for c in self.cells)

    @property
    def words(self) -> list[Word]:
        return [w for c in self.cells for w in c.words]

    @property
    def x0(self) -> float:
        return self.cells[0].x0


@dataclass
class Page:
    number: int
    width: float
    height: float
    lines: list[Line]
    tables: list[list[list[str | None]]] = field(default_factory=list)


@dataclass
class Document:
    pages: list[Page]
    page_count: int

    @property
    def lines(self) -> list[Line]:
        return [line for page in self.pages for line in page.lines]

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def plain_text(self) -> str:
        """The text, a line per line and a blank line between pages (what a
        language-model engine would be given)."""
        return "\n\n".join("\n".join(line.text for line in page.lines) for page in self.pages)

    @property
    def has_text(self) -> bool:
        return any(page.lines for page in self.pages)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        pages = []
        index = 0
        for raw in data["pages"]:
            words = [Word(**w) for w in raw["words"] if str(w["text"]).strip()]
            lines = group_lines(raw["number"], words)
            for line in lines:
                line.index = index
                index += 1
            pages.append(
                Page(
                    raw["number"],
                    raw["width"],
                    raw["height"],
                    lines,
                    [t["rows"] for t in raw.get("tables", [])],
                )
            )
        return cls(pages, int(data.get("page_count", len(pages))))


def group_lines(page: int, words: list[Word]) -> list[Line]:
    """Words into lines (vertical overlap of more than half the smaller
    height), each line's words into cells, top to bottom."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.top, w.x0)):
        placed = False
        for row in reversed(rows[-3:]):
            top = min(w.top for w in row)
            bottom = max(w.bottom for w in row)
            overlap = min(bottom, word.bottom) - max(top, word.top)
            height = min(bottom - top, word.bottom - word.top) or 1.0
            if overlap > 0.5 * height:
                row.append(word)
                placed = True
                break
        if not placed:
            rows.append([word])
    lines = []
    for row in rows:
        row.sort(key=lambda w: w.x0)
        cells: list[Cell] = [Cell([row[0]])]
        for word in row[1:]:
            previous = cells[-1].words[-1]
            size = max(previous.size, word.size, 6.0)
            if word.x0 - previous.x1 > CELL_GAP * size:
                cells.append(Cell([word]))
            else:
                cells[-1].words.append(word)
        lines.append(Line(page, min(w.top for w in row), max(w.bottom for w in row), cells))
    return lines


def read_layout(src: Path, *, timeout: float, max_pages: int = MAX_PAGES) -> Document:
    """The document's layout, read in a child process."""
    data = run_module(
        "pressroom.services.extraction.layout",
        [src, "--max-pages", str(max_pages)],
        timeout=timeout,
    )
    return Document.from_json(data)


if __name__ == "__main__":
    raise SystemExit(main())
