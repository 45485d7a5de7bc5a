"""What a PDF holds, for OCR: pages, which already have text, how the
scans on each page were made, and whether it is digitally signed.

Runs in its own process (``python -m pressroom.services.ocr_inspect FILE``)
because it parses an untrusted PDF (pikepdf for the document catalogue,
PDFium for each page's text and images). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

#: a page with at least this many non-blank characters "has text"
MIN_TEXT_CHARS = 1


def _signed(pdf: pikepdf.Pdf) -> bool:
    """Signed as OCRmyPDF decides it: the form's SigFlags has SignaturesExist."""
    acroform = pdf.Root.get("/AcroForm")
    if not isinstance(acroform, pikepdf.Dictionary):
        return False
    try:
        return bool(int(acroform.get("/SigFlags", 0)) & 1)
    except (TypeError, ValueError):
        return False


def _page(page: pdfium.PdfPage, number: int) -> dict[str, Any]:
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
    chars = sum(1 for ch in text if not ch.isspace())
    images = 0
    dpis: list[float] = []
    bits: list[int] = []
    pixels = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        images += 1
        meta = obj.get_metadata()
        pixels += int(meta.width) * int(meta.height)
        bits.append(int(meta.bits_per_pixel))
        if meta.horizontal_dpi > 0:
            dpis.append(float(min(meta.horizontal_dpi, meta.vertical_dpi or meta.horizontal_dpi)))
    return {
        "page": number,
        "width_pt": round(width, 2),
        "height_pt": round(height, 2),
        "text_chars": chars,
        "has_text": chars >= MIN_TEXT_CHARS,
        "images": images,
        "image_pixels": pixels,
        "image_dpi": round(max(dpis)) if dpis else None,
        "bilevel": bool(bits) and max(bits) == 1,  # black-and-white scans only
    }


def inspect(src: Path, *, password: str | None = None) -> dict[str, Any]:
    with pikepdf.open(src, password=password or "") as pdf:
        signed = _signed(pdf)
        form = isinstance(pdf.Root.get("/AcroForm"), pikepdf.Dictionary)
    doc = pdfium.PdfDocument(src, password=password)
    try:
        pages = [_page(doc[i], i + 1) for i in range(len(doc))]
    finally:
        doc.close()
    return {"pages": len(pages), "signed": signed, "form": form, "page_info": pages}


def prepare_image(src: Path, dest: Path) -> dict[str, Any]:
    """Decode every frame of an uploaded image (a damaged one fails here, with
    Pillow's reason) and say whether img2pdf can embed it as it is. An image
    with transparency, which img2pdf refuses, is flattened onto white and
    written losslessly to ``dest`` (PNG, or a multi-page TIFF)."""
    from PIL import Image, ImageSequence

    with Image.open(src) as image:
        frames = []
        needs_flattening = False
        for frame in ImageSequence.Iterator(image):
            frame.load()
            has_alpha = frame.mode in ("RGBA", "LA", "PA") or (
                frame.mode == "P" and "transparency" in frame.info
            )
            needs_flattening = needs_flattening or has_alpha
            frames.append(frame.copy())
        dpi = image.info.get("dpi")
        if not needs_flattening:
            return {"frames": len(frames), "rewritten": False}
        flat = []
        for frame in frames:
            rgba = frame.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            flat.append(Image.alpha_composite(white, rgba).convert("RGB"))
        extra = {"dpi": dpi} if dpi else {}
        if len(flat) == 1:
            flat[0].save(dest, format="PNG", **extra)
        else:
            flat[0].save(
                dest,
                format="TIFF",
                save_all=True,
                append_images=flat[1:],
                compression="tiff_deflate",
                **extra,
            )
        return {"frames": len(flat), "rewritten": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Inspect a PDF (or check an image) before OCR.")
    parser.add_argument("src", type=Path)
    parser.add_argument("--password", default=None)
    parser.add_argument("--image-to", type=Path, default=None, help="check an image instead")
    args = parser.parse_args(argv)
    if args.image_to is not None:
        json.dump(prepare_image(args.src, args.image_to), sys.stdout)
    else:
        json.dump(inspect(args.src, password=args.password), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
