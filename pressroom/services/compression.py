"""CompressionService: make a PDF smaller, never bigger.

This pass is lossless structure work by qpdf (object streams, every Flate
stream recompressed at level 9, unreferenced resources dropped): the pages
render identically and the text is unchanged. When the result is not smaller
than the input, the input is returned and the result says so.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pressroom.engines import qpdf
from pressroom.jobs.progress import Progress

Level = Literal["lossless", "low", "medium", "high", "maximum"]


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


@dataclass
class PassReport:
    name: str
    size_before: int
    size_after: int
    seconds: float
    kept: bool


@dataclass
class CompressionResult:
    output: Path
    original_size: int
    compressed_size: int
    pages: int
    returned_original: bool
    passes: list[PassReport] = field(default_factory=list)

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
            "settings": {"image_quality": options.image_quality},  # replaced by the pipeline
            "passes": [asdict(p) for p in self.passes],
        }


class CompressionService:
    def __init__(self, *, engine_timeout: float) -> None:
        self.engine_timeout = engine_timeout

    def compress(
        self, src: Path, workdir: Path, options: CompressionOptions, progress: Progress
    ) -> CompressionResult:
        original_size = src.stat().st_size
        progress.report(5, "inspecting", "Reading the document")
        info = qpdf.inspect(src, timeout=self.engine_timeout, password=options.password)

        progress.report(20, "structure", "Rewriting the PDF structure losslessly")
        candidate = workdir / "structure.pdf"
        started = time.monotonic()
        qpdf.optimize_lossless(
            src, candidate, timeout=self.engine_timeout, password=options.password
        )
        size = candidate.stat().st_size
        kept = size < original_size
        report = PassReport(
            "structure", original_size, size, round(time.monotonic() - started, 3), kept
        )

        output = workdir / "compressed.pdf"
        if kept:
            candidate.replace(output)
        else:
            shutil.copyfile(src, output)
        progress.report(95, "finishing", "Checking the result")
        return CompressionResult(
            output=output,
            original_size=original_size,
            compressed_size=output.stat().st_size,
            pages=info.pages,
            returned_original=not kept,
            passes=[report],
        )
