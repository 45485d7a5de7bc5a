"""The document as the writers see it: pages of headings, paragraphs, list
items, tables and pictures in reading order, built from what the extractor
child printed (pressroom.services.conversion.extract).

Headings are told from paragraphs by font size against the body size of the
whole document (the size most of its characters are set in), so a page of
large print is not all headings; the sizes larger than the body are ranked
into levels 1, 2, 3...
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: a heading is at least this much larger than the body text...
HEADING_RATIO = 1.15
#: ...and short
HEADING_MAX_CHARS = 200
MAX_LEVEL = 6


@dataclass
class Block:
    kind: Literal["heading", "paragraph", "list_item"]
    text: str
    bbox: list[float]
    size: float
    bold: bool = False
    level: int = 0  # headings: 1 is the largest
    list_kind: str | None = None  # list items: "bullet" or "number"


@dataclass
class Table:
    rows: list[list[str]]
    bbox: list[float]
    ruled: bool

    @property
    def cells(self) -> int:
        return sum(len(row) for row in self.rows)


@dataclass
class Picture:
    bbox: list[float]
    pixels: list[int]
    file: Path | None = None


Item = Block | Table | Picture


@dataclass
class Page:
    number: int
    width: float
    height: float
    items: list[Item] = field(default_factory=list)
    layout_text: str | None = None
    words: list[dict[str, Any]] | None = None
    chars: int = 0

    @property
    def blocks(self) -> list[Block]:
        return [i for i in self.items if isinstance(i, Block)]

    @property
    def tables(self) -> list[Table]:
        return [i for i in self.items if isinstance(i, Table)]

    @property
    def pictures(self) -> list[Picture]:
        return [i for i in self.items if isinstance(i, Picture)]


@dataclass
class Document:
    page_count: int
    metadata: dict[str, str]
    pages: list[Page]

    @property
    def tables(self) -> list[tuple[int, Table]]:
        return [(page.number, table) for page in self.pages for table in page.tables]

    @property
    def title(self) -> str | None:
        title = self.metadata.get("Title", "").strip()
        if title:
            return title
        for page in self.pages:
            for block in page.blocks:
                if block.kind == "heading":
                    return block.text
        return None


def _join(lines: list[str]) -> str:
    """Lines of a block as one paragraph; a word hyphenated at a line's end
    is joined again."""
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower() and len(text) > 1 and text[-2].isalpha():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return re.sub(r"\s+", " ", text).strip()


def _body_size(raw_pages: list[dict[str, Any]]) -> float:
    weights: Counter[float] = Counter()
    for page in raw_pages:
        for block in page["blocks"]:
            if not block["in_table"]:
                weights[round(block["size"] * 2) / 2] += sum(len(line) for line in block["lines"])
    return weights.most_common(1)[0][0] if weights else 0.0


def build(raw: dict[str, Any], pictures_dir: Path | None = None) -> Document:
    """A Document from the extractor's pages (all batches put together)."""
    pages_raw: list[dict[str, Any]] = raw["pages"]
    body = _body_size(pages_raw)
    heading_sizes = sorted(
        {
            round(b["size"] * 2) / 2
            for p in pages_raw
            for b in p["blocks"]
            if not b["in_table"] and body and b["size"] >= body * HEADING_RATIO
        },
        reverse=True,
    )
    rank = {size: min(MAX_LEVEL, n + 1) for n, size in enumerate(heading_sizes)}
    lowest = min(MAX_LEVEL, len(heading_sizes) + 1)
    pages = []
    for p in pages_raw:
        page = Page(
            number=p["number"],
            width=p["width"],
            height=p["height"],
            layout_text=p.get("layout_text"),
            words=p.get("words"),
            chars=p.get("chars", 0),
        )
        blocks: list[Block] = []
        for b in p["blocks"]:
            if b["in_table"]:
                continue
            text = _join(b["lines"])
            size = round(b["size"] * 2) / 2
            block = Block("paragraph", text, b["bbox"], b["size"], bold=b["bold"])
            short = len(text) <= HEADING_MAX_CHARS and len(b["lines"]) <= 3
            if b.get("list"):
                block.kind, block.list_kind = "list_item", b["list"]
            elif short and size in rank:
                block.kind, block.level = "heading", rank[size]
            elif (
                short
                and b["bold"]
                and len(b["lines"]) == 1
                and body
                and size >= body
                and not text.endswith((".", ":", ","))
                and len(text) < 100
            ):
                block.kind, block.level = "heading", lowest
            blocks.append(block)
        page.items = _place(
            blocks,
            [Table(t["rows"], t["bbox"], t["ruled"]) for t in p["tables"]],
            [
                Picture(
                    pic["bbox"],
                    pic.get("pixels", [0, 0]),
                    pictures_dir / pic["file"] if pictures_dir and pic.get("file") else None,
                )
                for pic in p["pictures"]
            ],
        )
        pages.append(page)
    return Document(raw["page_count"], raw.get("metadata", {}), pages)


def _place(blocks: list[Block], tables: list[Table], pictures: list[Picture]) -> list[Item]:
    """Tables and pictures put into the text's reading order: each before the
    first block (in reading order) that starts below its top."""
    items: list[Item] = list(blocks)
    placed: list[Table | Picture] = [*tables, *pictures]
    for thing in sorted(placed, key=lambda t: (t.bbox[1], t.bbox[0])):
        top = thing.bbox[1]
        position = next(
            (n for n, i in enumerate(items) if isinstance(i, Block) and i.bbox[1] >= top - 1),
            len(items),
        )
        items.insert(position, thing)
    return items
