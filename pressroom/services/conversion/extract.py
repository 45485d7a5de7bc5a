"""Reads a PDF's pages into a plain structure: text blocks with their font
size and position (pdfminer.six's layout analysis, through pdfplumber),
tables (pdfplumber for ruled ones; unruled.py for those with white space
between their columns),
pictures (cropped renders by PDFium) and the metadata.

It parses an untrusted PDF, so it runs in its own process
(``python -m pressroom.services.conversion.extract``, started through
pressroom.engines.isolated.run_module) and prints one JSON object; the
writers that turn that structure into DOCX, XLSX... run in the worker.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pdfplumber
from pdfminer.layout import LTChar, LTTextBoxHorizontal, LTTextLineHorizontal

from pressroom.services.conversion import unruled as unruled_tables

#: layout analysis: boxes in reading order, columns kept apart
#: (0.9 rather than pdfminer's 0.5: a centred title stays above the
#: paragraph under it, and columns are still read one after the other)
LAPARAMS = {"line_margin": 0.5, "char_margin": 2.0, "boxes_flow": 0.9}
#: a glyph alone that marks a list item: a bullet, or an unmapped symbol
MARKER = re.compile(
    r"^([\u2022\u25aa\u25cf\u25e6\u2023\u2043\u2219\u25a0\u2013*-]|\(cid:\d+\)|\d{1,3}[.)])$"
)
RULED = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
#: a list item starts with a bullet or "1." / "a)"
LIST_ITEM = re.compile(
    r"^\s*([\u2022\u25aa\u25cf\u25e6\u2023\u2043\u2219*\-\u2013]|\(?\d{1,3}[.)]|[a-z][.)])\s+"
)
#: pictures smaller than this on a side (points) are decoration
MIN_PICTURE = 24
MAX_PICTURES_PER_PAGE = 20


def _bold(fontname: str) -> bool:
    name = fontname.split("+", 1)[-1].lower()
    return any(mark in name for mark in ("bold", "black", "heavy", "semibold", "-bd"))


def _line_style(line: LTTextLineHorizontal) -> tuple[float, bool]:
    chars = [c for c in line if isinstance(c, LTChar) and c.get_text().strip()]
    if not chars:
        return 0.0, False
    size = statistics.median(round(c.size, 1) for c in chars)
    bold = sum(_bold(c.fontname) for c in chars) > len(chars) / 2
    return float(size), bold


def _blocks(page: Any, height: float) -> list[dict[str, Any]]:
    """Text blocks in reading order, each list item marked. A bullet drawn
    as a glyph of its own (often from a symbol font with no Unicode
    mapping) is not kept as text: it marks the block that starts on its line."""
    blocks: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for block in _raw_blocks(page, height):
        text = " ".join(block["lines"]).strip()
        width = block["bbox"][2] - block["bbox"][0]
        if len(block["lines"]) == 1 and MARKER.match(text) and width < 20:
            markers.append(block)
            continue
        block["lines"] = [line for line in (_unmapped(li).strip() for li in block["lines"]) if line]
        if block["lines"]:
            blocks.append(block)
    for block in blocks:
        text = block["lines"][0]
        match = LIST_ITEM.match(text)
        if match:
            block["list"] = "number" if match.group(1)[0].isalnum() else "bullet"
    for marker in markers:
        for block in blocks:
            dx = block["bbox"][0] - marker["bbox"][2]
            if abs(block["bbox"][1] - marker["bbox"][1]) <= 4 and 0 <= dx <= 40:
                text = " ".join(marker["lines"])
                block.setdefault("list", "number" if text[0].isdigit() else "bullet")
                break
        else:
            if not marker["lines"][0].startswith("(cid:"):
                blocks.append(marker)
    return blocks


def _lines(page: Any) -> Iterator[tuple[LTTextLineHorizontal, bool]]:
    """Every text line in reading order, with whether it starts a new box."""
    for item in page.layout:
        if isinstance(item, LTTextBoxHorizontal):
            first = True
            for line in item:
                if isinstance(line, LTTextLineHorizontal):
                    yield line, first
                    first = False
        elif isinstance(item, LTTextLineHorizontal):
            yield item, True


def _raw_blocks(page: Any, height: float) -> Iterator[dict[str, Any]]:
    """A layout box split where the font size or weight changes and before
    each list item, so a heading set right above its paragraph is still a
    block of its own."""
    current: dict[str, Any] | None = None
    if True:
        for line, starts_box in _lines(page):
            if not isinstance(line, LTTextLineHorizontal):
                continue
            text = line.get_text().strip()
            if not text:
                continue
            size, bold = _line_style(line)
            bbox = [line.x0, height - line.y1, line.x1, height - line.y0]
            same = (
                current is not None
                and not starts_box
                and abs(current["size"] - size) <= 0.6
                and current["bold"] == bold
                and not LIST_ITEM.match(text)
            )
            if same and current is not None:
                current["lines"].append(text)
                box_ = current["bbox"]
                current["bbox"] = [
                    min(box_[0], bbox[0]),
                    min(box_[1], bbox[1]),
                    max(box_[2], bbox[2]),
                    max(box_[3], bbox[3]),
                ]
                continue
            if current is not None:
                yield current
            current = {"lines": [text], "size": size, "bold": bold, "bbox": bbox}
    if current is not None:
        yield current


def _inside(bbox: list[float], area: tuple[float, float, float, float]) -> bool:
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    return area[0] - 1 <= cx <= area[2] + 1 and area[1] - 1 <= cy <= area[3] + 1


def _clean(cell: Any) -> str:
    return re.sub(r"\s+", " ", str(cell or "")).strip()


def _tables(page: Any, unruled: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for table in page.find_tables(RULED):
        rows = [[_clean(c) for c in row] for row in table.extract()]
        rows = [r for r in rows if any(r)]
        if len(rows) >= 1 and max((len(r) for r in rows), default=0) >= 2:
            found.append({"bbox": list(table.bbox), "rows": rows, "ruled": True})
    if unruled:
        taken = [tuple(t["bbox"]) for t in found]
        found += unruled_tables.find(page.extract_words(), taken)
    found.sort(key=lambda t: (t["bbox"][1], t["bbox"][0]))
    return found


def _pictures(
    pdf_page: Any, page: Any, number: int, outdir: Path | None, dpi: int
) -> list[dict[str, Any]]:
    pictures: list[dict[str, Any]] = []
    width, height = float(page.width), float(page.height)
    for n, image in enumerate(page.images, 1):
        x0, top = max(0.0, float(image["x0"])), max(0.0, float(image["top"]))
        x1, bottom = min(width, float(image["x1"])), min(height, float(image["bottom"]))
        if x1 - x0 < MIN_PICTURE or bottom - top < MIN_PICTURE:
            continue
        if len(pictures) >= MAX_PICTURES_PER_PAGE:
            break
        entry: dict[str, Any] = {
            "bbox": [x0, top, x1, bottom],
            "pixels": list(image.get("srcsize") or (0, 0)),
        }
        if outdir is not None:
            name = f"p{number:05d}-{n:03d}.png"
            bitmap = pdf_page.render(
                scale=dpi / 72.0, crop=(x0, height - bottom, width - x1, top), draw_annots=False
            )
            bitmap.to_pil().save(outdir / name, optimize=False)
            entry["file"] = name
        pictures.append(entry)
    return pictures


def _unmapped(text: str) -> str:
    """pdfminer writes a glyph with no Unicode mapping as ``(cid:N)``; at the
    start of a line it is a list bullet, elsewhere it is dropped."""
    text = re.sub(r"(?m)^(\s*)\(cid:\d+\)", "\\1\u2022", text)
    return re.sub(r"\(cid:\d+\)", "", text)


def _metadata(pdf: Any) -> dict[str, str]:
    found = {}
    for key, value in (pdf.metadata or {}).items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str | int | float):
            found[str(key)] = str(value)
    return found


def extract(
    src: Path,
    pages: list[int],
    *,
    password: str | None = None,
    tables: bool = True,
    unruled: bool = True,
    pictures_dir: Path | None = None,
    picture_dpi: int = 150,
    layout: bool = False,
    words: bool = False,
) -> dict[str, Any]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(src), password=password) if pictures_dir else None
    out_pages = []
    with pdfplumber.open(src, password=password or "", laparams=LAPARAMS) as pdf:
        count = len(pdf.pages)
        for index in pages:
            page = pdf.pages[index]
            width, height = float(page.width), float(page.height)
            found_tables = _tables(page, unruled) if tables else []
            areas = [tuple(t["bbox"]) for t in found_tables]
            blocks = []
            for block in _blocks(page, height):
                block["in_table"] = any(_inside(block["bbox"], a) for a in areas)
                block["bbox"] = [round(v, 2) for v in block["bbox"]]
                blocks.append(block)
            entry: dict[str, Any] = {
                "number": index + 1,
                "width": round(width, 2),
                "height": round(height, 2),
                "rotation": int(page.rotation or 0),
                "blocks": blocks,
                "tables": found_tables,
                "pictures": _pictures(
                    document[index] if document else None,
                    page,
                    index + 1,
                    pictures_dir,
                    picture_dpi,
                ),
                "chars": len(page.chars),
            }
            if layout:
                entry["layout_text"] = _unmapped(page.extract_text(layout=True))
            if words:
                entry["words"] = [
                    {
                        "text": w["text"],
                        "bbox": [round(w[k], 2) for k in ("x0", "top", "x1", "bottom")],
                    }
                    for w in page.extract_words()
                ]
            out_pages.append(entry)
            page.flush_cache()
            page.close()
        metadata = _metadata(pdf)
    if document is not None:
        document.close()
    return {"page_count": count, "metadata": metadata, "pages": out_pages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Read a PDF's pages into JSON.")
    parser.add_argument("src", type=Path)
    parser.add_argument("--pages", required=True, help="0-based indexes, comma-separated")
    parser.add_argument("--password", default=None)
    parser.add_argument("--no-tables", action="store_true")
    parser.add_argument("--pictures", type=Path, default=None, help="folder for picture crops")
    parser.add_argument("--picture-dpi", type=int, default=150)
    parser.add_argument("--layout", action="store_true")
    parser.add_argument("--words", action="store_true")
    args = parser.parse_args(argv)
    result = extract(
        args.src,
        [int(p) for p in args.pages.split(",") if p],
        password=args.password,
        tables=not args.no_tables,
        pictures_dir=args.pictures,
        picture_dpi=args.picture_dpi,
        layout=args.layout,
        words=args.words,
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
