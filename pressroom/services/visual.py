"""Visual comparison of two PDFs: pages rendered with PDFium, compared by SSIM,
and the interactive parts users rely on counted (links and other
annotations, bookmarks, form type).

This is the quality gate of compression: a candidate whose pages do not look
like the original's, or that lost links, bookmarks or a form, is not
returned. It runs in its own process (``python -m
pressroom.services.visual``) through the engine runner, because it renders
untrusted PDFs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from skimage.metrics import structural_similarity


@dataclass
class Comparison:
    pages_a: int
    pages_b: int
    compared: list[int] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    #: (annotations, bookmarks, form type) of each document
    features_a: tuple[int, int, int] = (0, 0, 0)
    features_b: tuple[int, int, int] = (0, 0, 0)

    @property
    def features_kept(self) -> bool:
        return all(b >= a for a, b in zip(self.features_a, self.features_b, strict=True))

    @property
    def worst(self) -> float:
        return min(self.ssim) if self.ssim else 0.0

    @property
    def mean(self) -> float:
        return float(np.mean(self.ssim)) if self.ssim else 0.0


def sample_pages(count: int, limit: int) -> list[int]:
    """Up to ``limit`` page indexes spread evenly, first and last included."""
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def _render(doc: pdfium.PdfDocument, index: int, dpi: float) -> np.ndarray:
    page = doc[index]
    try:
        bitmap = page.render(scale=dpi / 72.0, grayscale=True)
        return np.asarray(bitmap.to_pil().convert("L"))
    finally:
        page.close()


def features(doc: pdfium.PdfDocument) -> tuple[int, int, int]:
    """(annotations on all pages, bookmarks, form type) of a document."""
    annotations = 0
    for index in range(len(doc)):
        page = doc[index]
        try:
            annotations += pdfium_c.FPDFPage_GetAnnotCount(page.raw)
        finally:
            page.close()
    bookmarks = sum(1 for _ in doc.get_toc(max_depth=64))
    return annotations, bookmarks, int(pdfium_c.FPDF_GetFormType(doc.raw))


def compare(a: Path, b: Path, *, dpi: float = 72.0, max_pages: int = 6) -> Comparison:
    doc_a, doc_b = pdfium.PdfDocument(a), pdfium.PdfDocument(b)
    try:
        result = Comparison(pages_a=len(doc_a), pages_b=len(doc_b))
        result.features_a, result.features_b = features(doc_a), features(doc_b)
        if result.pages_a != result.pages_b:
            return result
        for index in sample_pages(result.pages_a, max_pages):
            img_a, img_b = _render(doc_a, index, dpi), _render(doc_b, index, dpi)
            result.compared.append(index)
            if img_a.shape != img_b.shape:
                result.ssim.append(0.0)
                continue
            if min(img_a.shape) < 7:
                result.ssim.append(1.0 if np.array_equal(img_a, img_b) else 0.0)
                continue
            score = structural_similarity(img_a, img_b, data_range=255)
            result.ssim.append(round(float(score), 5))
        return result
    finally:
        doc_a.close()
        doc_b.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare two PDFs page by page (SSIM).")
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--dpi", type=float, default=72.0)
    parser.add_argument("--max-pages", type=int, default=6)
    args = parser.parse_args(argv)
    result = compare(args.a, args.b, dpi=args.dpi, max_pages=args.max_pages)
    json.dump(
        {
            **asdict(result),
            "worst": result.worst,
            "mean": result.mean,
            "features_kept": result.features_kept,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
