"""CompressionService: make a PDF smaller, never bigger, and keep it looking
and reading the same.

This module holds what the API and the worker share: the levels, the
options, the result. The work itself (the passes: lossless structure, Type 1
fonts to CFF, images, Ghostscript; the quality gate; the choice of the
smallest candidate that passes) is in pressroom.services.compression_pipeline
and runs in one forked child process per job (``CompressionService.compress``),
under a time-out, a CPU-time limit and a memory cap, since it parses an
untrusted PDF; a plain ``lossless`` job, where only qpdf reads the file, runs
in the worker. The API imports this module for the levels only, and so never
loads NumPy, PDFium or fontTools.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pressroom.engines.isolated import run_forked
from pressroom.jobs.progress import Progress

Level = Literal["lossless", "low", "medium", "high", "maximum"]


@dataclass(frozen=True)
class LevelPreset:
    dpi: int | None
    quality: int | None
    min_ssim: float
    ghostscript: bool
    #: 1-bit images are downsampled too (pressroom.services.pdf_images)
    bilevel: bool = False
    #: path coordinates are rounded (pressroom.services.pdf_paths)
    round_paths: bool = False


#: What each level means. ``min_ssim`` is the worst sampled page's SSIM at
#: GATE_DPI that a lossy candidate must keep.
PRESETS: dict[str, LevelPreset] = {
    "lossless": LevelPreset(None, None, 1.0, False),
    "low": LevelPreset(300, 90, 0.995, False),
    "medium": LevelPreset(200, 80, 0.99, False),
    "high": LevelPreset(150, 70, 0.97, True, bilevel=True, round_paths=True),
    "maximum": LevelPreset(100, 55, 0.93, True, bilevel=True, round_paths=True),
}

#: settings tried in turn when a target size is asked for and not yet met
TARGET_STEPS: list[tuple[int, int]] = [(150, 70), (120, 60), (100, 50), (85, 40), (72, 30)]

#: the gentler tries, in turn, when the level's image settings fail the gate:
#: (resolution factor, JPEG quality added). Resolution first: on the corpus's
#: scans, 1.25x the resolution bought more SSIM per byte than +10 quality;
#: the first try that passes is kept
GENTLE_STEPS: tuple[tuple[float, int], ...] = ((1.25, 0), (1.5, 0), (1.5, 10))

GATE_DPI = 100.0
GATE_PAGES = 6

#: the child that runs one job's passes and gate may take this many times the
#: time-out of one engine call (each qpdf or Ghostscript run inside it keeps
#: its own); the task's time limit stays the outer bound
PIPELINE_TIMEOUTS = 2


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompressionResult:
        """From what the pipeline's child sent (pressroom.services.compression_pipeline)."""
        return cls(
            output=Path(data["output"]),
            original_size=data["original_size"],
            compressed_size=data["compressed_size"],
            pages=data["pages"],
            returned_original=data["returned_original"],
            settings=data["settings"],
            passes=[PassReport(**p) for p in data["passes"]],
            target=data["target"],
            encryption_removed=data["encryption_removed"],
        )

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


class CompressionService:
    def __init__(self, *, engine_timeout: float) -> None:
        self.timeout = engine_timeout

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
        spares a second inspection.

        The pipeline runs in a fork of this process; its progress reports come
        back here and go to ``progress``, so a cancelled job (``progress``
        raises) stops the child at once."""
        # imported here, not at the top: the API imports this module for the
        # levels; workers load the pipeline once (pressroom.tasks.compression)
        from pressroom.services import compression_pipeline

        def relay(message: dict[str, Any]) -> None:
            progress.report(message["percentage"], message["stage"], message["message"])

        work = functools.partial(
            compression_pipeline.run, src, workdir, options, pages, self.timeout
        )
        if not compression_pipeline.parses_in_process(options):
            # qpdf alone reads the file, in a process of its own: a fork of the
            # worker would only add its cost (15 ms a job, half a lossless job)
            return CompressionResult.from_dict(work(relay))
        data = run_forked(
            work,
            timeout=self.timeout * PIPELINE_TIMEOUTS,
            on_message=relay,
            name="compression",
        )
        return CompressionResult.from_dict(data)
