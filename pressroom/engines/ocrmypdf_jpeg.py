"""An OCRmyPDF plugin: a straightened JPEG page keeps its JPEG quality.

With ``--deskew`` OCRmyPDF stores the straightened page image instead of the
original, and for a page that was a JPEG it encodes the new image with
Pillow's default quality (75), whatever the scan's own was: a q70 scan came
back 12 % larger (the corpus's Octave pages), a q85 one visibly coarser.
Loaded into the OCRmyPDF child (``--plugin pressroom.engines.ocrmypdf_jpeg``)
whenever pages are deskewed, this plugin encodes the straightened page again
from OCRmyPDF's lossless intermediate (``pp_deskew.png``, not from the JPEG,
so there is one lossy generation, not two) with the quantisation tables (and
chroma subsampling) of the page's original JPEG: the same quality as the scan.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pikepdf
from ocrmypdf import hookimpl
from PIL import Image, JpegImagePlugin

DCT = "/DCTDecode"
FLATE = "/FlateDecode"


def original_jpeg(origin: Path, pageno: int) -> bytes | None:
    """The JPEG of a page made of one JPEG image (a scan; also when the JPEG is
    wrapped in Flate, as OCRmyPDF's optimiser leaves it), else None."""
    with pikepdf.open(origin) as pdf:
        images = list(pdf.pages[pageno].get_images().values())
        if len(images) != 1:
            return None
        image = images[0]
        filters = image.get("/Filter")
        names = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
        if names == [DCT]:
            return image.read_raw_bytes()
        if names == [FLATE, DCT]:
            return image.read_bytes(decode_level=pikepdf.StreamDecodeLevel.generalized)
        return None


@hookimpl
def filter_page_image(page: Any, image_filename: Path) -> Path:
    """Re-encode a deskewed JPEG page with its original's tables (called in
    OCRmyPDF's page workers)."""
    straightened = page.get_path("pp_deskew.png")
    if (
        image_filename.suffix.lower() not in (".jpg", ".jpeg")
        or page.options.clean_final  # the visible page is unpaper's, not the deskewed one
        or not straightened.is_file()
    ):
        return image_filename
    original = original_jpeg(Path(page.origin), page.pageno)
    if original is None:
        return image_filename
    with Image.open(io.BytesIO(original)) as jpeg:
        tables = getattr(jpeg, "quantization", None)
        mode = jpeg.mode
        sampling = JpegImagePlugin.get_sampling(jpeg)
    if not tables or mode not in ("L", "RGB"):
        return image_filename
    with Image.open(image_filename) as visible:
        dpi = visible.info.get("dpi")
    extra: dict[str, Any] = {"dpi": dpi} if dpi else {}
    if mode == "RGB" and sampling >= 0:
        extra["subsampling"] = sampling
    with Image.open(straightened) as image:
        image.convert(mode).save(image_filename, "JPEG", qtables=tables, **extra)
    return image_filename
