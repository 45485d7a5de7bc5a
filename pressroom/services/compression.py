"""CompressionService: make a PDF smaller, never bigger, and keep it looking
and reading the same.

A pipeline of measured passes, each producing a candidate:

1. ``structure`` - qpdf, lossless: object streams, unfiltered streams
   compressed, unreferenced resources dropped; damaged files are repaired
   here and encrypted ones opened with the given password.
2. ``fonts`` - above ``lossless``, embedded Type 1 font programs rewritten
   as CFF (pressroom.services.pdf_fonts); the image pass builds on it.
3. ``images`` - our image pass (pressroom.services.pdf_images) on the
   repaired file: images downsampled to the level's resolution, photos
   re-encoded as JPEG at the level's quality, flat images as indexed colour;
   then the structure pass again.
4. ``ghostscript`` - at ``high`` and ``maximum``, Ghostscript's pdfwrite
   (font subsetting, its own resampling), then the structure pass again.

Every lossy candidate goes through a quality gate: the pages rendered by
PDFium must keep an SSIM at or above the level's threshold, and the text
pdftotext extracts must be unchanged. The smallest candidate that passes is
returned; when none is smaller than the input, the input itself is returned
and the result says so.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pressroom.engines import ghostscript, poppler, qpdf
from pressroom.engines.isolated import run_module
from pressroom.errors import PressroomError
from pressroom.jobs.progress import Progress

log = logging.getLogger(__name__)

Level = Literal["lossless", "low", "medium", "high", "maximum"]


@dataclass(frozen=True)
class LevelPreset:
    dpi: int | None
    quality: int | None
    min_ssim: float
    ghostscript: bool


#: What each level means. ``min_ssim`` is the worst sampled page's SSIM at
#: GATE_DPI that a lossy candidate must keep.
PRESETS: dict[str, LevelPreset] = {
    "lossless": LevelPreset(None, None, 1.0, False),
    "low": LevelPreset(300, 90, 0.995, False),
    "medium": LevelPreset(200, 80, 0.99, False),
    "high": LevelPreset(150, 70, 0.97, True),
    "maximum": LevelPreset(100, 55, 0.93, True),
}

#: settings tried in turn when a target size is asked for and not yet met
TARGET_STEPS: list[tuple[int, int]] = [(150, 70), (120, 60), (100, 50), (85, 40), (72, 30)]

#: the gentler retry when the level's image settings fail the gate
GENTLE_DPI = 1.5
GENTLE_QUALITY = 10

GATE_DPI = 100.0
GATE_PAGES = 6


@dataclass(frozen=True)
class CompressionOptions:
    """What the user asked for. ``None`` means: the level's default."""

    level: Level = "medium"
    image_quality: int | None = None
    image_resolution: int | None = None
    grayscale: bool = False
    strip_metadata: bool = False
    linearize: bool = False
    target_size_bytes: int | None = None
    password: str | None = None

    @classmethod
    def from_request(cls, fields: dict[str, Any]) -> CompressionOptions:
        """From the validated API fields (pressroom.api.schemas.CompressForm)."""
        target = fields.get("targetSizeMb")
        return cls(
            level=fields.get("compressionLevel", "medium"),
            image_quality=fields.get("imageQuality"),
            image_resolution=fields.get("imageResolution"),
            grayscale=bool(fields.get("grayscale", False)),
            strip_metadata=bool(fields.get("stripMetadata", False)),
            linearize=bool(fields.get("linearize", False)),
            target_size_bytes=int(target * 1024 * 1024) if target else None,
            password=fields.get("password"),
        )

    def image_settings(self) -> tuple[int | None, int | None]:
        """(dpi, JPEG quality) for the image pass; None, None for lossless."""
        preset = PRESETS[self.level]
        if self.level == "lossless" and not self.grayscale:
            return None, None
        return (
            self.image_resolution or preset.dpi,
            self.image_quality or preset.quality or 90,
        )


@dataclass
class PassReport:
    name: str
    size_after: int
    seconds: float
    kept: bool = False
    ssim_worst: float | None = None
    text_unchanged: bool | None = None
    rejected: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompressionResult:
    output: Path
    original_size: int
    compressed_size: int
    pages: int
    returned_original: bool
    settings: dict[str, Any]
    passes: list[PassReport] = field(default_factory=list)
    target: dict[str, Any] | None = None
    encryption_removed: bool = False

    @property
    def compression_ratio(self) -> float:
        """Percent saved, never negative."""
        if self.original_size == 0:
            return 0.0
        return round(max(0.0, 100.0 * (1 - self.compressed_size / self.original_size)), 2)

    def as_dict(self, options: CompressionOptions) -> dict[str, Any]:
        return {
            "original_size": self.original_size,
            "compressed_size": self.compressed_size,
            "compression_ratio": self.compression_ratio,
            "pages": self.pages,
            "returned_original": self.returned_original,
            "level": options.level,
            "settings": self.settings,
            "passes": [asdict(p) for p in self.passes],
            "target": self.target,
            "encryption_removed": self.encryption_removed,
        }


@dataclass
class _Candidate:
    name: str
    path: Path
    report: PassReport
    #: True when the pass changed no pixel: no quality gate needed
    lossless: bool = False

    @property
    def size(self) -> int:
        return self.path.stat().st_size


class _Gate:
    """The quality gate for one document: its text is extracted once, however
    many candidates are judged against it."""

    def __init__(self, original: Path, min_ssim: float, timeout: float) -> None:
        self.original = original
        self.min_ssim = min_ssim
        self.timeout = timeout
        self._text: str | None = None

    def choose(self, candidates: list[_Candidate]) -> _Candidate:
        """The smallest candidate that passes (the first one always does)."""
        best = candidates[0]
        for candidate in sorted(candidates[1:], key=lambda c: c.size):
            if candidate.size >= best.size:
                candidate.report.rejected = "not smaller"
                continue
            if candidate.lossless or self.passes(candidate):  # lossless: nothing to check
                best = candidate
                break
        return best

    def passes(self, candidate: _Candidate) -> bool:
        report = candidate.report
        if self._text is None:
            self._text = poppler.extract_text(self.original, timeout=self.timeout)
        text = poppler.extract_text(candidate.path, timeout=self.timeout)
        report.text_unchanged = poppler.same_text(self._text, text)
        if not report.text_unchanged:
            report.rejected = "text changed"
            return False
        comparison = run_module(
            "pressroom.services.visual",
            [self.original, candidate.path, "--dpi", str(GATE_DPI), "--max-pages", str(GATE_PAGES)],
            timeout=self.timeout,
        )
        report.ssim_worst = round(float(comparison["worst"]), 4)
        if comparison["pages_a"] != comparison["pages_b"]:
            report.rejected = "page count changed"
            return False
        if not comparison["features_kept"]:
            report.rejected = "links, bookmarks or form fields lost"
            return False
        if report.ssim_worst < self.min_ssim:
            report.rejected = f"SSIM {report.ssim_worst} below {self.min_ssim}"
            return False
        return True


class CompressionService:
    def __init__(self, *, engine_timeout: float) -> None:
        self.timeout = engine_timeout

    # -- the pipeline ------------------------------------------------------------------
    def compress(
        self,
        src: Path,
        workdir: Path,
        options: CompressionOptions,
        progress: Progress,
        *,
        pages: int | None = None,
    ) -> CompressionResult:
        """Compress ``src`` into ``workdir``. ``pages``: the page count when the
        file was already inspected (with ``options.password``) on upload, which
        spares a second inspection."""
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
        base = structure  # what the image pass builds on
        if options.level != "lossless":
            progress.report(20, "fonts", "Rewriting embedded Type 1 fonts as CFF")
            fonts = self._fonts(structure.path, workdir)
            if fonts is not None:
                candidates.append(fonts)
                base = fonts
        images: _Candidate | None = None
        if quality is not None or options.strip_metadata:
            progress.report(30, "images", "Resampling and re-encoding images")
            images = self._images(base, workdir, "images", dpi, quality, options)
            if images is not None:
                candidates.append(images)
        if preset.ghostscript:
            progress.report(55, "ghostscript", "Trying Ghostscript's rewrite")
            candidate = self._ghostscript(
                structure.path, workdir, "ghostscript", dpi, quality, options
            )
            if candidate is not None:
                candidates.append(candidate)

        if not all(c.lossless for c in candidates):
            progress.report(75, "quality_check", "Comparing the pages with the original")
        gate = _Gate(work, preset.min_ssim, self.timeout)
        best = gate.choose(candidates)
        rejected = images.report.rejected if images is not None else None
        if quality is not None and rejected is not None and rejected.startswith("SSIM"):
            # the level's settings went too far for this document: a gentler try
            progress.report(82, "images", "Trying gentler image settings")
            gentle = self._images(
                base,
                workdir,
                "images_gentle",
                int(dpi * GENTLE_DPI) if dpi else None,
                min(95, quality + GENTLE_QUALITY),
                options,
            )
            if gentle is not None:
                candidates.append(gentle)
                best = gate.choose([best, gentle])
        target: dict[str, Any] | None = None
        if options.target_size_bytes:
            best, target = self._meet_target(work, workdir, best, candidates, options, progress)

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
        return CompressionResult(
            output=output,
            original_size=original_size,
            compressed_size=output.stat().st_size,
            pages=pages,
            returned_original=returned_original,
            settings={
                "image_resolution": dpi,
                "image_quality": quality,
                "grayscale": options.grayscale,
                "strip_metadata": options.strip_metadata,
                "linearize": options.linearize,
                "min_ssim": preset.min_ssim if options.level != "lossless" else None,
            },
            passes=[c.report for c in candidates],
            target=target,
            encryption_removed=bool(options.password) and not returned_original,
        )

    # -- passes ----------------------------------------------------------------------------
    def _structure(self, src: Path, dest: Path, name: str) -> _Candidate:
        started = time.monotonic()
        qpdf.optimize_lossless(src, dest, timeout=self.timeout)
        report = PassReport(name, dest.stat().st_size, round(time.monotonic() - started, 3))
        return _Candidate(name, dest, report, lossless=True)

    def _fonts(self, src: Path, workdir: Path) -> _Candidate | None:
        """Type 1 fonts rewritten as CFF (pressroom.services.pdf_fonts), or None
        when there was nothing to convert or the pass failed on this file."""
        started = time.monotonic()
        raw = workdir / "fonts.raw.pdf"
        try:
            details = run_module("pressroom.services.pdf_fonts", [src, raw], timeout=self.timeout)
        except PressroomError as exc:
            if exc.retryable:
                raise
            log.warning("font pass failed: %s", exc.details)
            return None
        if not raw.exists():
            return None
        candidate = self._structure(raw, workdir / "fonts.pdf", "fonts")
        candidate.lossless = False  # hints are dropped: gated like any lossy pass
        candidate.report.seconds = round(time.monotonic() - started, 3)
        candidate.report.details = {
            k: details[k] for k in ("fonts_seen", "converted", "bytes_before", "bytes_after")
        }
        return candidate

    def _images(
        self,
        base: _Candidate,
        workdir: Path,
        name: str,
        dpi: int | None,
        quality: int | None,
        options: CompressionOptions,
    ) -> _Candidate | None:
        started = time.monotonic()
        raw = workdir / f"{name}.raw.pdf"
        args: list[str | Path] = [base.path, raw, "--dpi", str(dpi or 0)]
        if quality is None:
            args.append("--keep-images")
        else:
            args += ["--quality", str(quality)]
        if options.grayscale:
            args.append("--grayscale")
        if options.strip_metadata:
            args.append("--strip-metadata")
        details = run_module("pressroom.services.pdf_images", args, timeout=self.timeout)
        if not raw.exists():  # nothing to change: no candidate
            return None
        candidate = self._structure(raw, workdir / f"{name}.pdf", name)
        # pixel-identical to the original only if its base was
        candidate.lossless = base.lossless and not details.get("changed")
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

    def _meet_target(
        self,
        original: Path,
        workdir: Path,
        best: _Candidate,
        candidates: list[_Candidate],
        options: CompressionOptions,
        progress: Progress,
    ) -> tuple[_Candidate, dict[str, Any]]:
        """Stronger settings in turn until the file fits; else the closest."""
        target = options.target_size_bytes or 0
        tried = 0
        source = next((c for c in candidates if c.name == "fonts"), candidates[0])
        for step, (dpi, quality) in enumerate(TARGET_STEPS):
            if best.size <= target:
                break
            progress.report(80 + step * 2, "target_size", f"Trying {dpi} dpi at quality {quality}")
            candidate = self._images(source, workdir, f"target-{step}", dpi, quality, options)
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
