"""The compression pipeline of one job, run in one forked child process.

``CompressionService.compress`` (pressroom.services.compression) forks the
worker once per job (pressroom.engines.isolated.run_forked: a time-out, a
CPU-time limit, a memory cap) and this module does the work there: every
pass, every quality-gate comparison, the choice. The worker imports this
module once (pressroom.tasks.compression), so the child starts with NumPy,
pikepdf, PDFium and fontTools loaded instead of paying about a second of
imports per pass, and the passes share what they learn about the document
(the original's text and page renders, its page count) instead of each
child finding it again.

The passes, each producing a candidate:

1. ``structure`` - qpdf, lossless: object streams, unfiltered streams
   compressed, unreferenced resources dropped; damaged files are repaired
   here and encrypted ones opened with the given password.
2. ``fonts`` - above ``lossless``, embedded Type 1 font programs rewritten
   as CFF (pressroom.services.pdf_fonts); the image pass builds on it.
3. ``paths`` - at ``high`` and ``maximum``, the coordinates of path
   operators cut to 0.01 pt on the page (pressroom.services.pdf_paths);
   the image pass builds on it.
4. ``images`` - our image pass (pressroom.services.pdf_images) on the
   repaired file: images downsampled to the level's resolution, photos
   re-encoded as JPEG at the level's quality, flat images as indexed colour
   (and, at ``high`` and ``maximum``, 1-bit images downsampled). When its
   candidate fails the gate on SSIM, gentler settings are tried in turn
   (``GENTLE_STEPS``: more resolution first, then more quality).
5. ``ghostscript`` - at ``high`` and ``maximum``, Ghostscript's pdfwrite
   (font subsetting, its own resampling), then the structure pass again;
   tried only where it may win (``_ghostscript_may_win``): on documents
   without text whose images our pass could not all re-encode.

Every lossy candidate goes through the quality gate: the sampled pages
rendered by PDFium must keep an SSIM at or above the level's threshold, the
links, bookmarks and forms must be kept, and the text pdftotext extracts must
be unchanged (the image pass rewrites image streams only, so an image
candidate's text is its base's, checked once). The smallest candidate that
passes is returned; when none is smaller than the input, the input itself is
returned and the result says so.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image

from pressroom.config import get_settings
from pressroom.engines import ghostscript, poppler, qpdf
from pressroom.engines.isolated import Send
from pressroom.errors import PressroomError
from pressroom.jobs.progress import Progress
from pressroom.services import pdf_fonts, pdf_images, pdf_paths, visual
from pressroom.services.compression import (
    GATE_DPI,
    GATE_PAGES,
    GENTLE_STEPS,
    PRESETS,
    TARGET_STEPS,
    CompressionOptions,
    PassReport,
)
from pressroom.services.pdf_forms import resources_within

log = logging.getLogger(__name__)


@dataclass
class _Candidate:
    name: str
    path: Path
    report: PassReport
    #: True when the pass changed no pixel: no quality gate needed
    lossless: bool = False
    #: the candidate whose extracted text this one has by construction
    #: (the image pass does not touch text), or None: its own text is checked
    text_of: _Candidate | None = None
    #: pages the gate compares besides its even sample: some of those that
    #: draw an image this candidate changed
    check_pages: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.path.stat().st_size


class _Relay:
    """The child's Progress: each report goes to the worker, which writes it."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        self._send({"percentage": percentage, "stage": stage, "message": message})


Steps = Callable[[int, int], None]


def _steps(progress: Progress, start: float, end: float, stage: str, what: str) -> Steps:
    """Progress within one pass: step ``done`` of ``total`` (an image, a page)
    placed between ``start`` and ``end`` of the job's percentage. It never
    goes back: the gate starts again at page 1 for each candidate it judges."""
    reached = start

    def report(done: int, total: int) -> None:
        nonlocal reached
        share = done / total if total else 1.0
        reached = max(reached, start + share * (end - start))
        progress.report(reached, stage, f"{what} {done} of {total}")

    return report


class _Gate:
    """The quality gate for one document: the original's text is extracted
    once and its sampled pages rendered once, however many candidates are
    judged against it."""

    def __init__(self, original: Path, min_ssim: float, timeout: float) -> None:
        self.original = original
        self.min_ssim = min_ssim
        self.timeout = timeout
        self._text: str | None = None
        self._reference: visual.Reference | None = None
        self._text_kept: dict[str, bool] = {}

    @property
    def original_text(self) -> str:
        if self._text is None:
            self._text = poppler.extract_text(self.original, timeout=self.timeout)
        return self._text

    def choose(self, candidates: list[_Candidate], on_page: Steps | None = None) -> _Candidate:
        """The smallest candidate that passes (the first one always does);
        ``on_page`` follows each candidate's comparison page by page."""
        best = candidates[0]
        for candidate in sorted(candidates[1:], key=lambda c: c.size):
            if candidate.size >= best.size:
                candidate.report.rejected = "not smaller"
                continue
            if candidate.lossless or self.passes(candidate, on_page):  # lossless: nothing to check
                best = candidate
                break
        return best

    def text_kept(self, candidate: _Candidate) -> bool:
        if candidate.lossless:
            return True
        if candidate.text_of is not None:
            return self.text_kept(candidate.text_of)
        if candidate.name not in self._text_kept:
            text = poppler.extract_text(candidate.path, timeout=self.timeout)
            self._text_kept[candidate.name] = poppler.same_text(self.original_text, text)
        return self._text_kept[candidate.name]

    def passes(self, candidate: _Candidate, on_page: Steps | None = None) -> bool:
        report = candidate.report
        report.text_unchanged = self.text_kept(candidate)
        if not report.text_unchanged:
            report.rejected = "text changed"
            return False
        if self._reference is None:
            self._reference = visual.Reference(self.original, dpi=GATE_DPI, max_pages=GATE_PAGES)
        comparison = self._reference.compare(
            candidate.path, stop_below=self.min_ssim, on_page=on_page, also=candidate.check_pages
        )
        report.ssim_worst = round(comparison.worst, 4)
        if comparison.pages_a != comparison.pages_b:
            report.rejected = "page count changed"
            return False
        if not comparison.features_kept:
            report.rejected = "links, bookmarks or form fields lost"
            return False
        if report.ssim_worst < self.min_ssim:
            report.rejected = f"SSIM {report.ssim_worst} below {self.min_ssim}"
            return False
        return True


#: images the image pass leaves alone because it is right to (already
#: smaller than a re-encoding, or too small to matter); any other reason
#: (bilevel, CMYK, masks, JPEG 2000...) is something Ghostscript may shrink
_LEFT_ALONE_ON_PURPOSE = frozenset({"no_gain", "tiny"})


def _ghostscript_may_win(structure: _Candidate, images: _Candidate | None) -> bool:
    """Whether the Ghostscript candidate can be the smallest that passes.

    Not on a document with text: Ghostscript's rewrite changed what pdftotext
    extracts from every such document of the benchmark corpus, so the gate
    refuses it. Not when our image pass re-encoded every image (at the same
    resolution and JPEG quality Ghostscript would use): on the corpus's
    photos and scans Ghostscript never came out smaller then. It stays for
    what only it can shrink: bilevel and CMYK images, masks, JPEG 2000,
    drawings without text."""
    if _has_text(structure.path):
        return False
    if images is None:
        return True
    skipped = images.report.details.get("skipped", {})
    return any(reason not in _LEFT_ALONE_ON_PURPOSE for reason in skipped)


def _has_text(path: Path) -> bool:
    """Whether a page (or a form it draws) has a font in its resources: text
    for pdftotext to extract. Read from the page tree, without parsing any
    content stream (pdftotext on a 7 MB drawing: 0.6 CPU-s)."""
    with pikepdf.open(path) as pdf:
        return any(_fonts_in(page.resources) for page in pdf.pages)


def _fonts_in(resources: pikepdf.Object | None) -> bool:
    return any(_holds_font(r) for r in resources_within(resources))


def _holds_font(resources: pikepdf.Object | None) -> bool:
    fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
    return isinstance(fonts, pikepdf.Dictionary) and len(fonts.keys()) > 0


def _failed_ssim(candidate: _Candidate | None) -> bool:
    rejected = candidate.report.rejected if candidate is not None else None
    return rejected is not None and rejected.startswith("SSIM")


def parses_in_process(options: CompressionOptions) -> bool:
    """Whether the pipeline reads the PDF with libraries in its own process
    (pikepdf, fontTools, Pillow, PDFium) for these options. When it does not
    (``lossless`` without image, metadata or target-size work), only qpdf, a
    program of its own under the engine runner, reads the file. It restates
    the conditions under which ``_Pipeline.compress`` runs its in-process
    passes: a new pass must be added here too."""
    _dpi, quality = options.image_settings()
    return (
        options.level != "lossless"
        or quality is not None
        or options.strip_metadata
        or bool(options.target_size_bytes)
    )


def run(
    src: Path,
    workdir: Path,
    options: CompressionOptions,
    pages: int | None,
    timeout: float,
    send: Send,
) -> dict[str, Any]:
    """The whole pipeline, in the child; returns what
    ``CompressionResult.from_dict`` reads."""
    Image.MAX_IMAGE_PIXELS = get_settings().max_image_pixels  # decompression bombs
    return _Pipeline(timeout).compress(src, workdir, options, _Relay(send), pages)


class _Pipeline:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def compress(
        self,
        src: Path,
        workdir: Path,
        options: CompressionOptions,
        progress: Progress,
        pages: int | None,
    ) -> dict[str, Any]:
        original_size = src.stat().st_size
        if pages is None:
            progress.report(2, "inspecting", "Reading the document")
            pages = qpdf.inspect(src, timeout=self.timeout, password=options.password).pages

        work = src
        if options.password:
            work = workdir / "decrypted.pdf"
            qpdf.rewrite(src, work, timeout=self.timeout, password=options.password, decrypt=True)

        progress.report(10, "structure", "Rewriting the PDF structure losslessly")
        structure = self._structure(work, workdir / "structure.pdf", "structure")
        candidates = [structure]

        dpi, quality = options.image_settings()
        preset = PRESETS[options.level]
        gate = _Gate(work, preset.min_ssim, self.timeout)
        base = structure  # what the image pass builds on
        if options.level != "lossless":
            progress.report(20, "fonts", "Rewriting embedded Type 1 fonts as CFF")
            fonts = self._fonts(structure.path, workdir)
            if fonts is not None:
                candidates.append(fonts)
                base = fonts
        if preset.round_paths:
            progress.report(25, "paths", "Rounding path coordinates")
            paths = self._paths(base, workdir)
            if paths is not None:
                candidates.append(paths)
                base = paths
        images: _Candidate | None = None
        if quality is not None or options.strip_metadata:
            progress.report(30, "images", "Resampling and re-encoding images")
            images = self._images(
                base,
                workdir,
                "images",
                dpi,
                quality,
                options,
                _steps(progress, 30, 55, "images", "Image"),
            )
            if images is not None:
                candidates.append(images)
        if preset.ghostscript and _ghostscript_may_win(structure, images):
            progress.report(55, "ghostscript", "Trying Ghostscript's rewrite")
            candidate = self._ghostscript(
                structure.path, workdir, "ghostscript", dpi, quality, options
            )
            if candidate is not None:
                candidates.append(candidate)

        if not all(c.lossless for c in candidates):
            progress.report(75, "quality_check", "Comparing the pages with the original")
        best = gate.choose(candidates, _steps(progress, 75, 82, "quality_check", "Comparing page"))
        if quality is not None and images is not None and _failed_ssim(images):
            # the level's settings went too far for this document: gentler ones
            best, tried = self._gentler(
                best, images, base, workdir, dpi, quality, options, gate, progress
            )
            candidates.extend(tried)
        target: dict[str, Any] | None = None
        if options.target_size_bytes:
            best, target = self._meet_target(workdir, best, base, candidates, options, progress)

        final = best.path
        if options.linearize:
            progress.report(92, "finishing", "Linearizing for fast web view")
            final = workdir / "linearized.pdf"
            qpdf.rewrite(best.path, final, timeout=self.timeout, linearize=True)
        output = workdir / "compressed.pdf"
        returned_original = final.stat().st_size >= original_size
        if returned_original:
            shutil.copyfile(src, output)
        else:
            final.replace(output)
            best.report.kept = True
        return {
            "output": str(output),
            "original_size": original_size,
            "compressed_size": output.stat().st_size,
            "pages": pages,
            "returned_original": returned_original,
            "settings": {
                "image_resolution": dpi,
                "image_quality": quality,
                "grayscale": options.grayscale,
                "strip_metadata": options.strip_metadata,
                "linearize": options.linearize,
                "min_ssim": preset.min_ssim if options.level != "lossless" else None,
            },
            "passes": [asdict(c.report) for c in candidates],
            "target": target,
            "encryption_removed": bool(options.password) and not returned_original,
        }

    # -- passes ----------------------------------------------------------------------------
    def _structure(
        self, src: Path, dest: Path, name: str, *, try_recompressed: bool = True
    ) -> _Candidate:
        started = time.monotonic()
        qpdf.optimize_lossless(src, dest, timeout=self.timeout, try_recompressed=try_recompressed)
        report = PassReport(name, dest.stat().st_size, round(time.monotonic() - started, 3))
        return _Candidate(name, dest, report, lossless=True)

    def _fonts(self, src: Path, workdir: Path) -> _Candidate | None:
        """Type 1 fonts rewritten as CFF (pressroom.services.pdf_fonts), or None
        when there was nothing to convert or the pass failed on this file."""
        started = time.monotonic()
        raw = workdir / "fonts.raw.pdf"
        try:
            details = pdf_fonts.convert_type1_fonts(src, raw)
        except Exception as exc:  # a font program or a file it cannot handle: no candidate
            log.warning("font pass failed: %s: %s", type(exc).__name__, exc)
            return None
        if not raw.exists():
            return None
        candidate = self._structure(raw, workdir / "fonts.pdf", "fonts", try_recompressed=False)
        candidate.lossless = False  # hints are dropped: gated like any lossy pass
        candidate.report.seconds = round(time.monotonic() - started, 3)
        candidate.report.details = {
            k: details[k] for k in ("fonts_seen", "converted", "bytes_before", "bytes_after")
        }
        return candidate

    def _paths(self, base: _Candidate, workdir: Path) -> _Candidate | None:
        """Path coordinates cut to 0.01 pt (pressroom.services.pdf_paths), or
        None when no stream had digits to spare."""
        started = time.monotonic()
        raw = workdir / "paths.raw.pdf"
        try:
            details = pdf_paths.round_paths(base.path, raw)
        except (pikepdf.PdfError, ValueError) as exc:  # a file it cannot handle: no candidate
            log.warning("path pass failed: %s: %s", type(exc).__name__, exc)
            return None
        if not raw.exists():
            return None
        candidate = self._structure(raw, workdir / "paths.pdf", "paths", try_recompressed=False)
        candidate.lossless = False  # coordinates move (by at most 0.01 pt): gated
        candidate.text_of = base  # only path operators' numbers change
        candidate.report.seconds = round(time.monotonic() - started, 3)
        candidate.report.details = asdict(details)
        return candidate

    def _images(
        self,
        base: _Candidate,
        workdir: Path,
        name: str,
        dpi: int | None,
        quality: int | None,
        options: CompressionOptions,
        on_image: Steps | None = None,
    ) -> _Candidate | None:
        started = time.monotonic()
        raw = workdir / f"{name}.raw.pdf"
        settings = pdf_images.ImageSettings(
            dpi or None,
            quality,
            options.grayscale,
            options.strip_metadata,
            bilevel=PRESETS[options.level].bilevel,
        )
        details = asdict(pdf_images.optimise_images(base.path, raw, settings, on_image))
        changed_pages = details.pop("changed_pages")
        if not raw.exists():  # nothing to change: no candidate
            return None
        candidate = self._structure(raw, workdir / f"{name}.pdf", name, try_recompressed=False)
        # pixel-identical to the original only if its base was
        candidate.lossless = base.lossless and not details["changed"]
        candidate.text_of = base  # the image pass does not touch text
        # the pages that show what changed, not only the even sample's
        candidate.check_pages = [
            changed_pages[i] for i in visual.sample_pages(len(changed_pages), GATE_PAGES)
        ]
        candidate.report.seconds = round(time.monotonic() - started, 3)
        candidate.report.details = details
        return candidate

    def _ghostscript(
        self,
        src: Path,
        workdir: Path,
        name: str,
        dpi: int | None,
        quality: int | None,
        options: CompressionOptions,
    ) -> _Candidate | None:
        started = time.monotonic()
        raw = workdir / f"{name}.raw.pdf"
        try:
            ghostscript.rewrite(
                src,
                raw,
                dpi=dpi or 300,
                jpeg_quality=quality or 90,
                grayscale=options.grayscale,
                timeout=self.timeout,
            )
            candidate = self._structure(raw, workdir / f"{name}.pdf", name)
            candidate.lossless = False  # Ghostscript re-renders: always gated
        except PressroomError as exc:
            if exc.retryable:
                raise
            log.warning("ghostscript candidate failed: %s %s", exc.code, exc.details)
            return None  # Ghostscript is one candidate among others
        candidate.report.seconds = round(time.monotonic() - started, 3)
        return candidate

    # -- choosing ------------------------------------------------------------------------
    def _gentler(
        self,
        best: _Candidate,
        images: _Candidate,
        base: _Candidate,
        workdir: Path,
        dpi: int | None,
        quality: int,
        options: CompressionOptions,
        gate: _Gate,
        progress: Progress,
    ) -> tuple[_Candidate, list[_Candidate]]:
        """GENTLE_STEPS in turn after ``images`` failed the gate on SSIM,
        until one passes: the best candidate then, and every candidate tried.
        Progress stays within 82-88 %."""
        tried: list[_Candidate] = []
        share = 6 / len(GENTLE_STEPS)
        last = images
        for step, (dpi_factor, more_quality) in enumerate(GENTLE_STEPS):
            start = 82 + step * share
            step_dpi = round(dpi * dpi_factor) if dpi else None
            step_quality = min(95, quality + more_quality)
            if step_quality == quality and not last.report.details.get("downsampled"):
                # the last try downsampled nothing: a higher resolution would
                # give the same file, refused again; only more quality can help
                continue
            progress.report(
                start,
                "images",
                f"Trying gentler image settings ({step + 1} of {len(GENTLE_STEPS)})",
            )
            gentle = self._images(
                base,
                workdir,
                f"images_gentle_{step + 1}",
                step_dpi,
                step_quality,
                options,
                _steps(progress, start, start + share / 2, "images", "Image"),
            )
            if gentle is None:
                break  # nothing left to change at these settings
            tried.append(gentle)
            last = gentle
            chosen = gate.choose(
                [best, gentle],
                _steps(
                    progress, start + share / 2, start + share, "quality_check", "Comparing page"
                ),
            )
            if chosen is gentle:
                return gentle, tried
            if not _failed_ssim(gentle):
                break  # refused for another reason (not smaller): gentler cannot help
        return best, tried

    def _meet_target(
        self,
        workdir: Path,
        best: _Candidate,
        base: _Candidate,
        candidates: list[_Candidate],
        options: CompressionOptions,
        progress: Progress,
    ) -> tuple[_Candidate, dict[str, Any]]:
        """Stronger image settings in turn, on what the image pass builds on
        (``base``: the font and path passes' output), until the file fits;
        else the closest."""
        target = options.target_size_bytes or 0
        tried = 0
        for step, (dpi, quality) in enumerate(TARGET_STEPS):
            if best.size <= target:
                break
            progress.report(88 + step, "target_size", f"Trying {dpi} dpi at quality {quality}")
            candidate = self._images(base, workdir, f"target-{step}", dpi, quality, options)
            tried += 1
            if candidate is None:
                break  # no image left to shrink
            candidates.append(candidate)
            if candidate.size < best.size:
                best = candidate
        return best, {
            "requested_bytes": target,
            "achieved_bytes": best.size,
            "met": best.size <= target,
            "settings_tried": tried,
        }
