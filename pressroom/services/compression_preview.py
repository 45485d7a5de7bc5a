"""Compression preview: the size each level would give, estimated in about a
second, without compressing the whole document.

The lossless structure pass is cheap, so it is run for real (in memory). The
image passes are estimated from a sample: the largest images are re-encoded
as each level would, and their ratio is applied to all image bytes; so is
the path pass of ``high`` and ``maximum``, from the largest content streams. Runs in
its own process (``python -m pressroom.services.compression_preview``)
because it parses an untrusted PDF.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Name, Pdf, PdfImage
from PIL import Image

from pressroom.config import get_settings
from pressroom.services import pdf_paths
from pressroom.services.compression import PRESETS
from pressroom.services.pdf_images import (
    MIN_GAIN,
    RESAMPLE_SLACK,
    drawn_sizes,
    encode_bilevel,
    encode_jpeg,
)

#: images re-encoded to estimate the image passes
SAMPLES = 4
#: pixels on a side of the crop re-encoded per sampled image
CROP = 512


def _image_ratios(
    samples: list[tuple[pikepdf.Stream, float, int]], sampled_bytes: int
) -> dict[str, float]:
    """Bytes after / before of each level's image pass, measured on a crop of
    each sampled image (decoded once) and scaled by area."""
    after = dict.fromkeys(PRESETS, 0.0)
    for obj, drawn_pt, size in samples:
        try:
            image = PdfImage(obj).as_pil_image()
        except Exception:
            image = None
        bilevel = image is not None and image.mode == "1"
        if image is None or image.mode not in ("RGB", "L", "1") or obj.get("/ImageMask", False):
            for level in after:
                after[level] += size
            continue
        width, height = image.size
        box_w, box_h = min(width, CROP), min(height, CROP)
        left, top = (width - box_w) // 2, (height - box_h) // 2
        crop = image.crop((left, top, left + box_w, top + box_h))
        share = (box_w * box_h) / (width * height)
        dpi = max(width, height) / (drawn_pt / 72.0) if drawn_pt > 0 else 0.0
        for level, preset in PRESETS.items():
            if preset.quality is None:
                after[level] += size
                continue
            factor = 1.0
            if preset.dpi and dpi > preset.dpi * RESAMPLE_SLACK:
                factor = preset.dpi / dpi
            target = (max(1, round(box_w * factor)), max(1, round(box_h * factor)))
            if bilevel:
                if not preset.bilevel or factor == 1.0:
                    after[level] += size  # left as it is
                    continue
                encoded = len(encode_bilevel(crop, target)) / share
            else:
                scaled = crop if factor == 1.0 else crop.resize(target, Image.Resampling.LANCZOS)
                encoded = len(encode_jpeg(scaled, preset.quality)) / share
            after[level] += encoded if encoded < size * MIN_GAIN else size  # as the pass decides
    return {
        level: (value / sampled_bytes if sampled_bytes else 1.0) for level, value in after.items()
    }


def estimate(src: Path, *, password: str | None = None) -> dict[str, Any]:
    original = src.stat().st_size
    with Pdf.open(src, password=password or "") as pdf:
        pages = len(pdf.pages)
        drawn = drawn_sizes(pdf)
        images: list[tuple[pikepdf.Stream, float, int]] = []
        for objgen, drawn_pt in drawn.items():
            obj = pdf.get_object(objgen)
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == Name.Image:
                images.append((obj, drawn_pt, len(obj.read_raw_bytes())))
        image_bytes = sum(size for *_, size in images)
        samples = sorted(images, key=lambda item: item[2], reverse=True)[:SAMPLES]
        sampled_bytes = sum(size for *_, size in samples)

        ratios = _image_ratios(samples, sampled_bytes)
        content_bytes, paths_ratio = pdf_paths.estimate(pdf)

        buffer = io.BytesIO()
        pdf.remove_unreferenced_resources()
        pdf.save(
            buffer,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            compress_streams=True,
            recompress_flate=False,  # as the structure pass (qpdf.optimize_lossless)
        )
        structure = buffer.getbuffer().nbytes

    levels = {}
    for level, ratio in ratios.items():
        size = structure - image_bytes + round(image_bytes * ratio)
        if PRESETS[level].round_paths:
            size -= round(content_bytes * (1 - paths_ratio))
        size = min(original, max(1, size))
        levels[level] = {
            "estimated_size": size,
            "estimated_ratio": round(100 * (1 - size / original), 1) if original else 0.0,
        }
    share = image_bytes / original if original else 0.0
    if share < 0.1:
        advice = (
            "Mostly text and vector graphics: the levels differ little; lossless keeps everything."
        )
        recommended = "lossless" if levels["lossless"]["estimated_size"] < original else "medium"
    else:
        advice = "Images make up much of the file: medium keeps pages looking the same."
        recommended = "medium"
    return {
        "original_size": original,
        "pages": pages,
        "images": len(images),
        "image_bytes": image_bytes,
        "sampled_images": len(samples),
        "levels": levels,
        "recommended_level": recommended,
        "advice": advice,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Estimate compressed sizes per level.")
    parser.add_argument("src", type=Path)
    parser.add_argument("--password", default=None)
    args = parser.parse_args(argv)
    Image.MAX_IMAGE_PIXELS = get_settings().max_image_pixels  # decompression bombs
    json.dump(estimate(args.src, password=args.password), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
