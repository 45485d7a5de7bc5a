"""The JSON writer: the document's structure, for programs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pressroom.services.conversion.document import Block, Document, Picture, Table
from pressroom.services.conversion.options import JsonOptions

SCHEMA = "pressroom.conversion/1"


def write_json(doc: Document, options: JsonOptions, dest: Path) -> None:
    """Pages with their text blocks (type, text, box in points from the
    page's top-left corner, font size), tables (rows of cell strings),
    pictures, and the document's metadata."""
    pages: list[dict[str, Any]] = []
    for page in doc.pages:
        entry: dict[str, Any] = {
            "number": page.number,
            "width": page.width,
            "height": page.height,
            "blocks": [],
            "pictures": [],
        }
        if options.includeTables:
            entry["tables"] = []
        for item in page.items:
            if isinstance(item, Block):
                block: dict[str, Any] = {
                    "type": item.kind,
                    "text": item.text,
                    "bbox": item.bbox,
                    "font_size": round(item.size, 2),
                    "bold": item.bold,
                }
                if item.kind == "heading":
                    block["level"] = item.level
                if item.kind == "list_item":
                    block["list"] = item.list_kind
                entry["blocks"].append(block)
            elif isinstance(item, Table) and options.includeTables:
                entry["tables"].append(
                    {
                        "bbox": [round(v, 2) for v in item.bbox],
                        "ruled": item.ruled,
                        "rows": item.rows,
                    }
                )
            elif isinstance(item, Picture):
                entry["pictures"].append(
                    {"bbox": [round(v, 2) for v in item.bbox], "pixels": item.pixels}
                )
        if options.includeWords:
            entry["words"] = page.words or []
        pages.append(entry)
    payload = {
        "schema": SCHEMA,
        "page_count": doc.page_count,
        "pages_converted": [page.number for page in doc.pages],
        "metadata": doc.metadata,
        "pages": pages,
    }
    dest.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
