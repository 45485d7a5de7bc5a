"""An OCRmyPDF plugin: Tesseract reads a straightened copy of each page, the
page itself stays as it is.

OCRmyPDF's ``--deskew`` straightens the page image and stores the rotated
image in the output: a JPEG scan is re-encoded (a lossy generation, and
larger on the corpus), a black-and-white CCITT scan becomes a grey image.
Loaded into the OCRmyPDF child (``--plugin pressroom.engines.ocrmypdf_straighten``),
this plugin instead rotates only the image OCR reads, by the angle Tesseract
finds (the same estimate and the same Pillow rotation as ``--deskew``), and
records the angle per page in ``<output>.skew``. The text layer then comes
out straight, in the frame of the rotated image; pressroom.services.ocr_layer
turns it back by the same angle so each word lies on the original, unrotated
scan.

Never load it together with ``--deskew`` (the page would be turned twice).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocrmypdf import hookimpl
from PIL import Image, ImageColor

#: below this many degrees a page is read as it is (Tesseract reports 0.0
#: for a page it cannot measure)
MIN_ANGLE = 0.01


def skew_path(output: Path) -> Path:
    """Where the angles of a run writing ``output`` are recorded."""
    return output.with_name(output.name + ".skew")


def read_skew(output: Path) -> dict[int, dict[str, float]]:
    """The recorded angles, by page number (1-based): ``angle`` (degrees,
    counter-clockwise, as Pillow turned the OCR image) and the ``width`` and
    ``height`` (points) of the frame it was turned in."""
    path = skew_path(output)
    pages: dict[int, dict[str, float]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return pages
    for raw in lines:
        try:
            line = json.loads(raw)
            pages[int(line["page"])] = {
                "angle": float(line["angle"]),
                "width": float(line["width"]),
                "height": float(line["height"]),
            }
        except (ValueError, KeyError, TypeError):
            continue
    return pages


@hookimpl
def filter_ocr_image(page: Any, image: Image.Image) -> Image.Image:
    """Turn the image OCR reads by Tesseract's skew angle (called in
    OCRmyPDF's page workers)."""
    probe = page.get_path("pressroom_skew.tif")
    image.save(probe, format="TIFF")  # uncompressed: quick to write and to read
    try:
        engine = page.plugin_manager.get_ocr_engine(options=page.options)
        angle = float(engine.get_deskew(probe, page.options))
    finally:
        probe.unlink(missing_ok=True)
    if abs(angle) < MIN_ANGLE:
        return image
    # as OCRmyPDF's preprocess_deskew: same size, turned about the centre
    rotated = image.rotate(
        angle,
        resample=Image.Resampling.BICUBIC,
        fillcolor=ImageColor.getcolor("white", image.mode),
    )
    rotated.info = dict(image.info)
    dpi_x, dpi_y = (float(v) for v in image.info["dpi"])
    record = {
        "page": page.pageno + 1,
        "angle": angle,
        "width": image.width * 72.0 / dpi_x,
        "height": image.height * 72.0 / dpi_y,
    }
    output = getattr(page.options, "output_file", None)
    if output and str(output) != "-":
        with skew_path(Path(str(output))).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    return rotated
