"""Visual comparison of two PDFs: pages rendered with PDFium, compared by SSIM,
and the interactive parts users rely on counted (links and other
annotations, bookmarks, form type).

This is the quality gate of compression: a candidate whose pages do not look
like the original's, or that lost links, bookmarks or a form, is not
returned. It runs in a child process, because it renders untrusted PDFs:
compression's own child (pressroom.services.compression_pipeline), which keeps
one ``Reference`` per document so the original's pages are rendered and its
features counted once however many candidates are judged.

The SSIM is computed here with integer window sums: the same definition and
the same value as scikit-image's ``structural_similarity(a, b,
data_range=255)`` (7 x 7 uniform window, sample covariance, the border of 3
pixels left out), to within floating-point rounding, in about a fifth of the
time; tests/test_compression.py holds it to scikit-image's figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

#: SSIM's window (pixels on a side) and its constants for 8-bit images
WINDOW = 7
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
#: rows of windows worked out at a time (see ``ssim``)
STRIP_ROWS = 64


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
        try:
            return bitmap.to_numpy().reshape(bitmap.height, bitmap.width).copy()
        finally:
            bitmap.close()
    finally:
        page.close()


def _window_sums(x: np.ndarray) -> np.ndarray:
    """Sum of every WINDOW x WINDOW block of ``x`` (the 'valid' positions).

    ``x`` holds products of 8-bit values, so a block sums to at most
    49 x 255**2, far below 2**32: running sums in unsigned 32 bits may wrap,
    their differences are still exact."""
    rows = np.cumsum(x, axis=0, dtype=np.uint32)
    rows = np.concatenate([rows[WINDOW - 1 : WINDOW], rows[WINDOW:] - rows[:-WINDOW]])
    cols = np.cumsum(rows, axis=1, dtype=np.uint32)
    return np.concatenate(
        [cols[:, WINDOW - 1 : WINDOW], cols[:, WINDOW:] - cols[:, :-WINDOW]], axis=1
    ).astype(np.float64)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grayscale uint8 images of the same shape (at least
    WINDOW on each side). Window sums are exact integers (held as float64,
    exact below 2**53); only the final ratio is rounded. Worked out in strips
    of STRIP_ROWS rows, so that the dozen intermediate arrays stay in the
    processor's cache: about three times faster on a large page."""
    total, count = 0.0, 0
    for top in range(0, a.shape[0] - WINDOW + 1, STRIP_ROWS):
        rows = slice(top, top + STRIP_ROWS + WINDOW - 1)  # windows starting in the strip
        strip = _ssim_map(a[rows], b[rows])
        total += float(strip.sum())
        count += strip.size
    return total / count


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The SSIM of every window of ``a`` and ``b`` (the 'valid' positions)."""
    x, y = a.astype(np.uint32), b.astype(np.uint32)
    sx, sy = _window_sums(x), _window_sums(y)
    sxx, syy, sxy = _window_sums(x * x), _window_sums(y * y), _window_sums(x * y)
    n = WINDOW * WINDOW
    mean_norm = float(n * n)
    cov_norm = float(n * (n - 1))  # sample covariance, as scikit-image's default
    a1 = 2.0 * (sx * sy) / mean_norm + _C1
    b1 = (sx * sx + sy * sy) / mean_norm + _C1
    a2 = 2.0 * (n * sxy - sx * sy) / cov_norm + _C2
    b2 = (n * sxx - sx * sx + n * syy - sy * sy) / cov_norm + _C2
    result: np.ndarray = (a1 * a2) / (b1 * b2)
    return result


def page_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """The gate's score of one page: 0 when the sizes differ, 1 when identical."""
    if a.shape != b.shape:
        return 0.0
    if np.array_equal(a, b):
        return 1.0
    if min(a.shape) < WINDOW:
        return 0.0
    return round(ssim(a, b), 5)


def features(doc: pdfium.PdfDocument, path: Path) -> tuple[int, int, int]:
    """(annotations on all pages, bookmarks, form type) of a document.

    Annotations are counted as PDFium counts them (the dictionaries in each
    page's /Annots) but read with pikepdf, which does not parse the pages'
    content as loading every page in PDFium would (a third of a second on a
    long drawing-heavy document, for each candidate)."""
    with pikepdf.open(path) as pdf:
        annotations = 0
        for page in pdf.pages:
            annots = page.obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                annotations += sum(1 for a in annots if isinstance(a, pikepdf.Dictionary))
    bookmarks = sum(1 for _ in doc.get_toc(max_depth=64))
    return annotations, bookmarks, int(pdfium_c.FPDF_GetFormType(doc.raw))


class Reference:
    """The original document's side of the comparison: opened once, its
    features counted once, each sampled page rendered once, whatever the
    number of candidates compared with it."""

    def __init__(self, path: Path, *, dpi: float = 72.0, max_pages: int = 6) -> None:
        self.dpi = dpi
        self.doc = pdfium.PdfDocument(path)
        self.pages = len(self.doc)
        self.sampled = sample_pages(self.pages, max_pages)
        self.features = features(self.doc, path)
        self._renders: dict[int, np.ndarray] = {}

    def render(self, index: int) -> np.ndarray:
        if index not in self._renders:
            self._renders[index] = _render(self.doc, index, self.dpi)
        return self._renders[index]

    def compare(
        self,
        candidate: Path,
        *,
        stop_below: float = 0.0,
        on_page: Callable[[int, int], None] | None = None,
        also: Iterable[int] = (),
    ) -> Comparison:
        """``candidate`` against the original, page by page: the sampled
        pages and the pages in ``also``. With
        ``stop_below``, the first page scoring below it ends the comparison
        (the candidate fails whatever the other pages score), so ``worst`` is
        then the worst page compared, not of all sampled pages.
        ``on_page(done, total)`` is called after each page compared."""
        doc = pdfium.PdfDocument(candidate)
        try:
            result = Comparison(pages_a=self.pages, pages_b=len(doc))
            result.features_a, result.features_b = self.features, features(doc, candidate)
            if result.pages_a != result.pages_b:
                return result
            pages = sorted(set(self.sampled).union(i for i in also if 0 <= i < self.pages))
            for index in pages:
                result.compared.append(index)
                result.ssim.append(page_ssim(self.render(index), _render(doc, index, self.dpi)))
                if on_page is not None:
                    on_page(len(result.compared), len(pages))
                if result.ssim[-1] < stop_below:
                    break
            return result
        finally:
            doc.close()

    def close(self) -> None:
        self.doc.close()


def compare(a: Path, b: Path, *, dpi: float = 72.0, max_pages: int = 6) -> Comparison:
    reference = Reference(a, dpi=dpi, max_pages=max_pages)
    try:
        return reference.compare(b)
    finally:
        reference.close()
