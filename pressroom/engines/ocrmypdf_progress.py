"""An OCRmyPDF plugin that lets the worker follow a run page by page.

Loaded into the OCRmyPDF child (``--plugin pressroom.engines.ocrmypdf_progress``),
never into the worker. OCRmyPDF drives a progress bar for each step ("Scanning
contents", "OCR" page by page, the optimisation and the final check); this
plugin's bar appends one JSON line per update to ``<output>.progress``, which
the worker reads between polls (pressroom.engines.ocrmypdf). It writes nothing
to stdout, where OCRmyPDF may write its PDF.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocrmypdf import hookimpl

_progress_path: Path | None = None


def progress_path(output: Path) -> Path:
    """Where the progress of a run writing ``output`` is recorded."""
    return output.with_name(output.name + ".progress")


class FileProgressBar:
    """OCRmyPDF's ProgressBar protocol, recorded as JSON lines: ``{"desc",
    "done", "total"}``. It reports even when OCRmyPDF disables its console
    bar (stderr is not a terminal in a worker)."""

    def __init__(
        self,
        *,
        total: float | None = None,
        desc: str | None = None,
        unit: str | None = None,
        disable: bool = False,
        **kwargs: Any,
    ) -> None:
        self.total = total
        self.desc = desc or ""
        self.unit = unit or ""
        self.done = 0.0

    def __enter__(self) -> FileProgressBar:
        self._write()
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def update(self, n: float = 1, *, completed: float | None = None) -> None:
        self.done = completed if completed is not None else self.done + n
        self._write()

    def _write(self) -> None:
        if _progress_path is None:
            return
        line = {"desc": self.desc, "unit": self.unit, "done": self.done, "total": self.total}
        with _progress_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


@hookimpl
def check_options(options: Any) -> None:
    global _progress_path
    output = getattr(options, "output_file", None)
    if output and str(output) != "-":
        _progress_path = progress_path(Path(str(output)))


@hookimpl
def get_progressbar_class() -> type[FileProgressBar]:
    return FileProgressBar


@hookimpl(trylast=True)
def validate(pdfinfo: Any, options: Any) -> None:
    """One OpenMP thread per Tesseract (pressroom.engines.ocrmypdf explains
    why). Set here, after OCRmyPDF's own validation, not with the
    ``OMP_THREAD_LIMIT`` variable: with the variable set OCRmyPDF skips the
    check that fails a document without pages, and then hangs on it."""
    options.tesseract.omp_thread_limit = 1
