"""OCRmyPDF: a text layer on scanned pages, run as a child process.

OCRmyPDF (MPL-2.0) rasterises each page, runs Tesseract on it and grafts the
recognised words, invisible and in place, onto the page. It runs as
``python -m ocrmypdf`` through the one runner: a wall-clock time-out for the
whole document, a CPU-time and an address-space limit, its process group
killed on time-out or cancel; Tesseract's own per-page limit is
``--tesseract-timeout``. A crash or a hang of OCRmyPDF or Tesseract costs
one failed (or retried) job, never the worker.

Progress comes from our plugin (pressroom.engines.ocrmypdf_progress), which
records each progress-bar update in a file the worker reads while it waits.
A second plugin (pressroom.engines.ocrmypdf_jpeg), loaded whenever pages are
deskewed, keeps a straightened JPEG page at its original's JPEG quality.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pressroom.engines.ocrmypdf_progress import progress_path
from pressroom.engines.runner import run
from pressroom.errors import (
    EncryptedPDFError,
    EngineError,
    EngineMissingError,
    PressroomError,
)

log = logging.getLogger(__name__)

PLUGIN = "pressroom.engines.ocrmypdf_progress"
# Tesseract runs with one OpenMP thread (set by the progress plugin's
# ``validate``). OCRmyPDF gives a short document's pages two or three threads
# each, which spin while they wait: beside a loaded core the corpus's
# one-page r-data scan took 10-21 CPU-s (16-33 s); on a quiet machine
# 4.6 CPU-s (3.6-4.2 s). With one thread: 3.7 CPU-s and 3.6 s, and nothing to
# spin. (Threads that sleep instead, OMP_WAIT_POLICY=PASSIVE, cost 5 s of
# system time and 12 s on the quiet machine.) Pages still run in parallel,
# one OCRmyPDF worker each; a worker host runs one job per core.
JPEG_PLUGIN = "pressroom.engines.ocrmypdf_jpeg"

#: OCRmyPDF's exit codes (ocrmypdf.exceptions.ExitCode)
EXIT_OK = 0
EXIT_BAD_ARGS = 1
EXIT_INPUT_FILE = 2
EXIT_MISSING_DEPENDENCY = 3
EXIT_ENCRYPTED = 8
EXIT_PDFA_FAILED = 10  # the output is a valid PDF, but not PDF/A

#: where in a run's 0-100 % each of OCRmyPDF's steps lies
SCAN_SHARE = (0.0, 5.0)
OCR_SHARE = (5.0, 88.0)
AFTER_SHARE = (88.0, 99.0)

MODE_ARGS = {"skip": ["--skip-text"], "redo": ["--redo-ocr"], "force": ["--force-ocr"]}


@dataclass(frozen=True)
class OcrRequest:
    """One OCRmyPDF run: what to recognise and how."""

    languages: Sequence[str]
    mode: str = "skip"  # skip | redo | force
    pdfa: bool = False
    args: Sequence[str] = ()  # the quality preset's and the user's switches
    page_timeout: float = 180.0
    jobs: int = 0  # 0: every core
    keep_hocr: bool = False  # keep Tesseract's per-page hOCR (for words with boxes)
    invalidate_signatures: bool = False

    def argv(self, src: Path, dest: Path) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "ocrmypdf",
            "--plugin",
            PLUGIN,
            *(["--plugin", JPEG_PLUGIN] if "--deskew" in self.args else []),
            "--language",
            "+".join(self.languages),
            *MODE_ARGS[self.mode],
            "--output-type",
            "pdfa" if self.pdfa else "pdf",
            # PDF/A made by pikepdf, images passed through: Ghostscript would
            # re-encode them, and Debian 12's 10.0.0 is refused by OCRmyPDF
            # for pages that keep their text (skip, redo)
            *(["--pdfa-backend", "internal"] if self.pdfa else []),
            "--tesseract-timeout",
            f"{self.page_timeout:g}",
            *(["--jobs", str(self.jobs)] if self.jobs > 0 else []),
            *(["--keep-temporary-files"] if self.keep_hocr else []),
            *(["--invalidate-digital-signatures"] if self.invalidate_signatures else []),
            *self.args,
            str(src),
            str(dest),
        ]
        return args


@dataclass
class StepProgress:
    """One line of the plugin's record: a step, how far it got."""

    desc: str
    done: float
    total: float | None

    @property
    def percentage(self) -> float:
        """Where the run as a whole stands (0-100)."""
        fraction = min(1.0, self.done / self.total) if self.total else 0.0
        if self.desc == "Scanning contents":
            low, high = SCAN_SHARE
        elif self.desc in ("OCR", "Image processing"):
            low, high = OCR_SHARE
        else:
            low, high = AFTER_SHARE
        return low + fraction * (high - low)


@dataclass
class OcrOutcome:
    output: Path
    #: OCRmyPDF's working folder, kept when ``keep_hocr`` (holds NNNNNN_ocr_hocr.hocr)
    work_folder: Path | None
    pdfa: bool
    warnings: list[str] = field(default_factory=list)

    def hocr_file(self, page: int) -> Path | None:
        if self.work_folder is None:
            return None
        path = self.work_folder / f"{page:06d}_ocr_hocr.hocr"
        return path if path.is_file() else None


class _ProgressReader:
    def __init__(self, path: Path, on_progress: Callable[[StepProgress], None]) -> None:
        self.path = path
        self.on_progress = on_progress
        self.offset = 0
        self.last: StepProgress | None = None

    def __call__(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]
        if not complete:
            return
        self.offset += len(complete)
        for raw in complete.splitlines():
            try:
                line = json.loads(raw)
                self.last = StepProgress(str(line["desc"]), float(line["done"]), line["total"])
            except (ValueError, KeyError, TypeError):
                continue
        if self.last is not None:
            self.on_progress(self.last)


def ocr(
    src: Path,
    dest: Path,
    request: OcrRequest,
    *,
    workdir: Path,
    timeout: float,
    memory_bytes: int,
    on_progress: Callable[[StepProgress], None] | None = None,
) -> OcrOutcome:
    """Run OCRmyPDF on ``src`` (a PDF) into ``dest``; raise a domain error on failure.

    ``workdir`` receives OCRmyPDF's temporary folder (TMPDIR), so whatever it
    leaves goes with the job's scratch folder.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    reader = _ProgressReader(progress_path(dest), on_progress) if on_progress else None
    result = run(
        request.argv(src, dest),
        timeout=timeout,
        memory_bytes=memory_bytes,
        poll=reader,
        poll_interval=0.5,
        env={"TMPDIR": str(workdir)},
    )
    if reader is not None:
        reader()
    progress_path(dest).unlink(missing_ok=True)
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    warnings: list[str] = []
    pdfa = request.pdfa
    if result.returncode == EXIT_PDFA_FAILED and dest.is_file():
        warnings.append("The output is a valid PDF, but the conversion to PDF/A did not pass.")
        pdfa = False
    elif result.returncode != EXIT_OK or not dest.is_file():
        dest.unlink(missing_ok=True)
        raise _error(result.returncode, lines)
    work = sorted(workdir.glob("ocrmypdf.io.*")) if request.keep_hocr else []
    return OcrOutcome(dest, work[-1] if work else None, pdfa, warnings)


def _error(code: int, lines: list[str]) -> PressroomError:
    detail = next((line for line in reversed(lines) if not line.startswith("Traceback")), "")
    detail = detail[-300:]
    if code == EXIT_ENCRYPTED:
        return EncryptedPDFError()
    if code == EXIT_MISSING_DEPENDENCY:
        return EngineMissingError(f"OCRmyPDF is missing a program it needs: {detail}")
    if code < 0:
        return EngineError(
            f"The OCR engine was stopped by signal {-code} (memory or CPU limit, or a crash).",
            detail=detail,
        )
    if code == EXIT_INPUT_FILE:
        return EngineError(f"OCRmyPDF cannot process this file: {detail}", detail=detail)
    return EngineError(f"OCR failed (OCRmyPDF exit {code}): {detail}", detail=detail)


def version(*, timeout: float = 30) -> str:
    result = run([sys.executable, "-m", "ocrmypdf", "--version"], timeout=timeout)
    return result.stdout.strip()
