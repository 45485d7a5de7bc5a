"""Conversion preview: what a conversion of this PDF would find (pages, tables,
pictures, whether it has text at all) and what each format would cost
(size and time), measured on a sample of its pages, in a second or two.

The rates are measured here, on this document: the time the extractor
takes per sampled page, the characters, table cells and pictures on those
pages, and one page rendered as PNG and JPEG. Each format's size is then
worked out from them (the per-format factors were fitted on the benchmark's
documents, docs/benchmarks.md). Parses an untrusted PDF, so it runs in its
own process (``python -m pressroom.services.conversion.preview``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.monotonic()

import pdfplumber  # noqa: E402
import pypdfium2 as pdfium  # noqa: E402

from pressroom.services.conversion import extract as extractor  # noqa: E402

IMPORT_SECONDS = time.monotonic() - STARTED
#: pages sampled, spread over the document
SAMPLES = 5
#: the resolution the page-image estimate is made at (the format's default)
RENDER_DPI = 150
#: pages per extractor child in a real conversion (service.BATCH)
BATCH = 10


def _sample(count: int) -> list[int]:
    if count <= SAMPLES:
        return list(range(count))
    step = (count - 1) / (SAMPLES - 1)
    return sorted({round(i * step) for i in range(SAMPLES)})


def _render_rates(document: Any, index: int) -> dict[str, float]:
    page = document[index]
    started = time.monotonic()
    image = page.render(scale=RENDER_DPI / 72.0).to_pil()
    png, jpeg = io.BytesIO(), io.BytesIO()
    image.save(png, "PNG")
    render_seconds = time.monotonic() - started
    image.convert("RGB").save(jpeg, "JPEG", quality=85, optimize=True)
    area = float(page.get_width() * page.get_height()) or 1.0
    return {
        "seconds": render_seconds,
        "png": png.tell(),
        "jpeg": jpeg.tell(),
        "png_per_pt2": png.tell() / area,
    }


def estimate(src: Path, *, password: str | None = None) -> dict[str, Any]:
    document = pdfium.PdfDocument(str(src), password=password)
    count = len(document)
    sample = _sample(count)
    chars = cells = tables = pictures = blocks = text_pages = 0
    picture_area = 0.0
    read_seconds = 0.0
    with pdfplumber.open(src, password=password or "", laparams=extractor.LAPARAMS) as pdf:
        for index in sample:
            started = time.monotonic()
            page = pdf.pages[index]
            found = extractor._tables(page, unruled=True)
            page_blocks = extractor._blocks(page, float(page.height))
            read_seconds += time.monotonic() - started
            page_chars = sum(len(line) for b in page_blocks for line in b["lines"])
            chars += page_chars
            text_pages += page_chars > 20
            blocks += len(page_blocks)
            tables += len(found)
            cells += sum(len(row) for t in found for row in t["rows"])
            for image in page.images:
                w, h = image["x1"] - image["x0"], image["bottom"] - image["top"]
                if w >= extractor.MIN_PICTURE and h >= extractor.MIN_PICTURE:
                    pictures += 1
                    picture_area += w * h
            page.close()
    render = _render_rates(document, sample[0]) if sample else None
    document.close()

    n = max(1, len(sample))
    scale = count / n
    per_page_read = read_seconds / n
    batches = -(-count // BATCH)
    start_cost = IMPORT_SECONDS + 0.1  # one child: interpreter, imports
    read_total = per_page_read * count + start_cost * batches
    est_chars, est_cells = chars * scale, cells * scale
    est_pictures, est_blocks = pictures * scale, blocks * scale
    picture_bytes = picture_area * scale * (render["png_per_pt2"] if render else 0.0)
    text_only = est_chars * 1.05
    sizes = {
        "txt": text_only,
        "markdown": est_chars * 1.08 + est_cells * 3,
        "html": 1500 + est_chars * 1.15 + est_cells * 10 + picture_bytes * 1.37,
        "docx": 36000 + est_chars * 0.35 + est_cells * 40 + picture_bytes,
        "xlsx": 5000 + (est_cells * 12 if est_cells else est_chars * 0.45),
        "csv": est_cells * 8 if est_cells else text_only,
        "json": 300 + est_chars * 1.2 + est_blocks * 120 + est_cells * 4,
        "images": (render["png"] if render else 0) * count,
    }
    seconds = {fmt: read_total for fmt in sizes}
    seconds["docx"] += 0.2 + picture_bytes / 5e6
    seconds["images"] = (render["seconds"] if render else 0.0) * count + start_cost * -(-count // 8)
    formats = {
        fmt: {"estimated_size": round(sizes[fmt]), "estimated_seconds": round(seconds[fmt], 2)}
        for fmt in sizes
    }
    formats["images"]["estimated_size_jpeg"] = int((render["jpeg"] if render else 0) * count)

    scanned = text_pages == 0 and count > 0
    advice: list[str] = []
    if scanned:
        recommended = "images"
        advice.append(
            "The sampled pages have no text layer (a scan): run OCR first (POST /api/ocr) "
            "to convert the text; as it is, only page images are useful."
        )
    elif tables:
        recommended = "xlsx"
        advice.append(
            f"{tables} table(s) on the {n} sampled pages: xlsx or csv keep them as cells, "
            "docx keeps them as Word tables."
        )
    elif pictures:
        recommended = "docx"
        advice.append("Pictures and text: docx keeps both; html embeds the pictures too.")
    else:
        recommended = "markdown" if est_blocks else "txt"
        advice.append("Text only: markdown keeps headings and lists; txt is the plain text.")
    if count > 50:
        advice.append("A long document: convert only the pages you need with options.pages.")
    if text_pages and text_pages < len(sample):
        advice.append("Some sampled pages have no text (scanned pages): OCR them first.")
    return {
        "pages": count,
        "sampled_pages": [i + 1 for i in sample],
        "text_pages_in_sample": text_pages,
        "scanned": scanned,
        "tables_found": tables,
        "estimated_tables": round(tables * scale),
        "images_found": pictures,
        "estimated_images": round(est_pictures),
        "formats": formats,
        "recommended_format": recommended,
        "recommendations": advice,
        "rates": {
            "read_seconds_per_page": round(per_page_read, 4),
            "child_start_seconds": round(start_cost, 3),
            "render_seconds_per_page": round(render["seconds"], 4) if render else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Estimate what converting a PDF would give.")
    parser.add_argument("src", type=Path)
    parser.add_argument("--password", default=None)
    args = parser.parse_args(argv)
    json.dump(estimate(args.src, password=args.password), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
