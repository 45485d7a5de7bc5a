"""Ghostscript: PDF rewriting with font subsetting and image resampling.

Always ``-dSAFER`` (no file access beyond its arguments), always through the
runner with a time-out. A failed run deletes its partial output.
"""

from __future__ import annotations

from pathlib import Path

from pressroom.engines.runner import run
from pressroom.errors import EngineError


def rewrite(
    src: Path, dest: Path, *, dpi: int, jpeg_quality: int, grayscale: bool, timeout: float
) -> None:
    """Rewrite ``src`` with images above ``dpi`` downsampled and JPEG at ``jpeg_quality``."""
    args = [
        "gs",
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOPROMPT",
        "-sDEVICE=pdfwrite",
        "-dCompatibilityLevel=1.7",
        "-dDetectDuplicateImages=true",
        "-dCompressFonts=true",
        "-dSubsetFonts=true",
        "-dAutoRotatePages=/None",
        f"-dJPEGQ={jpeg_quality}",
    ]
    for kind in ("Color", "Gray"):
        args += [
            f"-dDownsample{kind}Images=true",
            f"-d{kind}ImageDownsampleType=/Bicubic",
            f"-d{kind}ImageResolution={dpi}",
            f"-d{kind}ImageDownsampleThreshold=1.2",
            f"-dAutoFilter{kind}Images=true",
        ]
    args += ["-dDownsampleMonoImages=false"]
    if grayscale:
        args += ["-sColorConversionStrategy=Gray", "-dProcessColorModel=/DeviceGray"]
    args += [f"-sOutputFile={dest}", str(src)]
    result = run(args, timeout=timeout)
    if result.returncode != 0 or not dest.exists() or dest.stat().st_size == 0:
        dest.unlink(missing_ok=True)
        raise EngineError(detail=(result.stderr.strip().splitlines() or ["ghostscript failed"])[-1])
