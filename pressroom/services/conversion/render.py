"""Renders pages to PNG or JPEG files with PDFium (pypdfium2).

Parses an untrusted PDF, so it runs in its own process
(``python -m pressroom.services.conversion.render``); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: the most pixels one page image may have (about 240 MB as RGB)
MAX_PIXELS = 80_000_000


def render(
    src: Path,
    outdir: Path,
    pages: list[int],
    *,
    dpi: int,
    image_format: str,
    quality: int = 85,
    password: str | None = None,
) -> dict[str, Any]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(src), password=password)
    files = []
    try:
        count = len(document)
        for index in pages:
            page = document[index]
            area = float(page.get_width() * page.get_height()) or 1.0
            # a poster page at 600 dpi would be gigabytes: lower its resolution instead
            scale = min(dpi / 72.0, (MAX_PIXELS / area) ** 0.5)
            bitmap = page.render(scale=scale, draw_annots=True)
            image = bitmap.to_pil()
            suffix = "png" if image_format == "png" else "jpg"
            name = f"page-{index + 1:04d}.{suffix}"
            if image_format == "png":
                image.save(outdir / name, dpi=(dpi, dpi), optimize=False)
            else:
                image.convert("RGB").save(
                    outdir / name, "JPEG", quality=quality, dpi=(dpi, dpi), optimize=True
                )
            files.append(
                {
                    "page": index + 1,
                    "file": name,
                    "size": list(image.size),
                    "dpi": round(scale * 72),
                }
            )
            page.close()
    finally:
        document.close()
    return {"page_count": count, "files": files}


def count_pages(src: Path, password: str | None = None) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(src), password=password)
    try:
        return len(document)
    finally:
        document.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render PDF pages to images.")
    parser.add_argument("src", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--pages", default="", help="0-based indexes, comma-separated")
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--format", choices=("png", "jpeg"), default="png")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--password", default=None)
    parser.add_argument("--count", action="store_true", help="only print the page count")
    args = parser.parse_args(argv)
    if args.count:
        json.dump({"page_count": count_pages(args.src, args.password)}, sys.stdout)
        return 0
    result = render(
        args.src,
        args.outdir,
        [int(p) for p in args.pages.split(",") if p],
        dpi=args.dpi,
        image_format=args.format,
        quality=args.quality,
        password=args.password,
    )
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
