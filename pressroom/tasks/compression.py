"""Compression tasks: thin, the work is in CompressionService."""

from __future__ import annotations

import logging
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

from pressroom.errors import BulkAllFailedError, PressroomError
from pressroom.jobs.progress import ProgressSlice
from pressroom.jobs.states import TaskType
from pressroom.services import compression_pipeline  # noqa: F401  (loaded once per worker: see there)
from pressroom.services.compression import CompressionOptions, CompressionService
from pressroom.tasks.base import STOP_ERRORS, TaskContext, TaskOutcome, job_task

log = logging.getLogger(__name__)

BULK_RESULT_NAME = "compressed_files.zip"
#: the share of a bulk job's progress taken by its files; the zip gets the rest
FILES_SHARE = 95.0
#: characters some filesystems refuse in a name unpacked from a zip
_UNSAFE_IN_ZIP = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def _result_name(display_name: str) -> str:
    stem = Path(display_name).stem or "document"
    return f"{stem}_compressed.pdf"


@job_task(TaskType.COMPRESS)
def compress(ctx: TaskContext) -> TaskOutcome:
    """Compress one PDF (inputs: input_key, options.compressionLevel, options.imageQuality)."""
    options = CompressionOptions.from_request(ctx.input_data["options"])
    service = CompressionService(engine_timeout=ctx.engine_timeout)
    result = service.compress(
        ctx.input_path(),
        ctx.scratch.dir or Path(),
        options,
        ctx.progress,
        pages=ctx.input_data.get("pages"),  # inspected on upload
    )
    return TaskOutcome(
        result=result.as_dict(options),
        file=result.output,
        filename=_result_name(ctx.input_data.get("filename", "document.pdf")),
        mime="application/pdf",
    )


class ZipNames:
    """Unique, safe member names for a zip: ``a_compressed.pdf``, then
    ``a_compressed (2).pdf``... compared without case, since the archive may
    be unpacked on a filesystem that ignores it."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def add(self, name: str) -> str:
        name = _UNSAFE_IN_ZIP.sub("_", name).strip(" .") or "document.pdf"
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = name, 1
        while candidate.casefold() in self._taken:
            n += 1
            candidate = f"{stem} ({n}){suffix}"
        self._taken.add(candidate.casefold())
        return candidate


def _failed_row(filename: str, size: int | None, code: str, message: str) -> dict[str, Any]:
    return {
        "filename": filename,
        "status": "failed",
        "original_size": size,
        "compressed_size": None,
        "compression_ratio": None,
        "error": {"code": code, "message": message},
    }


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sizes over the completed files; the ratio is percent saved, never negative."""
    done = [row for row in rows if row["status"] == "completed"]
    original = sum(int(row["original_size"]) for row in done)
    compressed = sum(int(row["compressed_size"]) for row in done)
    ratio = round(max(0.0, 100.0 * (1 - compressed / original)), 2) if original else 0.0
    return {
        "files": len(rows),
        "completed": len(done),
        "failed": len(rows) - len(done),
        "original_size": original,
        "compressed_size": compressed,
        "compression_ratio": ratio,
    }


@job_task(TaskType.BULK_COMPRESS)
def bulk_compress(ctx: TaskContext) -> TaskOutcome:
    """Compress many PDFs into one zip (inputs: files[] with input_key or the
    file's submission error, options as for one file).

    A file that fails on its own (bad content: a PressroomError that a retry
    cannot fix) is reported in the result and the others go on; a cancel
    stops the whole job, and a transient error retries the whole job."""
    options = CompressionOptions.from_request(ctx.input_data["options"])
    service = CompressionService(engine_timeout=ctx.engine_timeout)
    entries: list[dict[str, Any]] = ctx.input_data["files"]
    count = len(entries)
    share = FILES_SHARE / max(1, sum(1 for entry in entries if not entry.get("error")))
    started = 0
    names = ZipNames()
    rows: list[dict[str, Any]] = []
    archive_path = ctx.scratch.path(BULK_RESULT_NAME)
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for position, entry in enumerate(entries, 1):
            filename = str(entry.get("filename") or f"document-{position}.pdf")
            size = entry.get("size")
            if entry.get("error"):  # refused at submission
                error = entry["error"]
                rows.append(_failed_row(filename, size, error["code"], error["message"]))
                continue
            progress = ProgressSlice(
                ctx.progress,
                started * share,
                (started + 1) * share,
                f"file {position}/{count}: {filename}",
            )
            started += 1
            workdir = ctx.scratch.path(f"file-{position}")
            workdir.mkdir()
            try:
                progress.report(0, "fetching", "Fetching the file")
                src = ctx.runtime.files.fetch_input(entry["input_key"], workdir / "input.pdf")
                result = service.compress(src, workdir, options, progress, pages=entry.get("pages"))
                member = names.add(_result_name(filename))
                archive.write(result.output, member)
            except STOP_ERRORS:
                raise
            except PressroomError as exc:
                if exc.retryable:
                    raise  # the whole job is retried
                log.info("job %s: file %d failed: %s", ctx.job_id, position, exc.code)
                rows.append(_failed_row(filename, size, exc.code, exc.message))
                continue
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            rows.append(
                {
                    "filename": filename,
                    "status": "completed",
                    **result.as_dict(options),
                    "output_filename": member,
                    "original_size": result.original_size,
                    "compressed_size": result.compressed_size,
                    "compression_ratio": result.compression_ratio,
                    "error": None,
                }
            )
        totals = _totals(rows)
        if totals["completed"]:
            ctx.progress.report(
                FILES_SHARE, "packaging", f"Packing {totals['completed']} files into one zip"
            )
    if not totals["completed"]:
        problems = "; ".join(
            f"{row['filename']}: {row['error']['code']} ({row['error']['message']})" for row in rows
        )
        raise BulkAllFailedError(f"None of the {count} files could be compressed: {problems}")
    return TaskOutcome(
        result={"files": rows, "totals": totals},
        file=archive_path,
        filename=BULK_RESULT_NAME,
        mime="application/zip",
    )
