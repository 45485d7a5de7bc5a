"""FileManagementService: uploads in, results out, everything under a key per job.

Layout: ``jobs/<job_id>/input/<name>`` (``original.pdf``, or ``<n>.pdf`` for
the n-th file of a bulk job) and ``jobs/<job_id>/output/<attempt>/<name>``.
A client's filename is only ever a display name: keys use fixed names. An
upload is streamed to a staging file in chunks (the API never holds a whole
file in memory), measured, hashed and sniffed before any job row exists, so a
rejected upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from pressroom.engines import qpdf
from pressroom.errors import (
    EmptyFileError,
    FileTooLargeError,
    InputMissingError,
    StorageError,
    UnsupportedFileTypeError,
)
from pressroom.storage import sniff
from pressroom.storage.backend import Storage

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
JOB_PREFIX = "jobs"

EXTENSIONS = {
    sniff.PDF: ".pdf",
    sniff.PNG: ".png",
    sniff.JPEG: ".jpg",
    sniff.TIFF: ".tif",
    sniff.TEXT: ".txt",
    sniff.ZIP: ".zip",
    sniff.OLE: ".ole",
    sniff.RTF: ".rtf",
}


def safe_display_name(name: str | None, default: str = "document.pdf") -> str:
    """A client filename reduced to something safe to show and to put in a
    Content-Disposition header: no folders, no control characters, bounded."""
    if not name:
        return default
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    name = re.sub(r"\s+", " ", name)[:180]
    return name or default


@dataclass
class StagedUpload:
    """An upload on local disk, checked, waiting to become a job's input."""

    path: Path
    size: int
    sha256: str
    mime: str
    display_name: str
    pages: int | None = None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class FileManagementService:
    def __init__(
        self, storage: Storage, staging_dir: Path, *, max_upload_bytes: int, engine_timeout: float
    ) -> None:
        self.storage = storage
        self.staging_dir = staging_dir
        self.max_upload_bytes = max_upload_bytes
        self.engine_timeout = engine_timeout
        staging_dir.mkdir(parents=True, exist_ok=True)

    # -- keys -------------------------------------------------------------------
    @staticmethod
    def job_prefix(job_id: str) -> str:
        return f"{JOB_PREFIX}/{job_id}"

    def input_key(self, job_id: str, mime: str) -> str:
        """The key of a single-file job's input."""
        return f"{self.job_prefix(job_id)}/input/original{EXTENSIONS.get(mime, '.bin')}"

    def nth_input_key(self, job_id: str, n: int, mime: str) -> str:
        """The key of the ``n``-th input (1-based) of a job with many files."""
        if n < 1:
            raise ValueError(f"input numbers start at 1, not {n}")
        return f"{self.job_prefix(job_id)}/input/{n}{EXTENSIONS.get(mime, '.bin')}"

    def output_key(self, job_id: str, attempt: int, filename: str) -> str:
        return f"{self.job_prefix(job_id)}/output/{attempt}/{filename}"

    # -- uploads -------------------------------------------------------------------
    def stage_upload(
        self,
        stream: IO[bytes],
        filename: str | None,
        *,
        accept: Iterable[str] = (sniff.PDF,),
        password: str | None = None,
    ) -> StagedUpload:
        """Turn an uploaded stream into a checked staging file (size, type, PDF).

        When the request parser already spooled the upload into the staging
        folder (pressroom.api.uploads), the file is linked, not copied.
        """
        accept = tuple(accept)
        fd, name = tempfile.mkstemp(prefix="upload-", dir=self.staging_dir)
        path = Path(name)
        try:
            spooled = getattr(stream, "name", None)
            if isinstance(spooled, str) and Path(spooled).parent == self.staging_dir:
                os.close(fd)
                path.unlink()
                os.link(spooled, path)
                with path.open("rb") as fh:
                    size, digest, head = self._measure(fh, None)
            else:
                with os.fdopen(fd, "wb") as out:
                    size, digest, head = self._measure(stream, out)
            if size == 0:
                raise EmptyFileError()
            mime = sniff.sniff(head)
            if mime not in accept:
                raise UnsupportedFileTypeError(detected=mime or "unknown", accepted=list(accept))
            staged = StagedUpload(
                path=path,
                size=size,
                sha256=digest,
                mime=mime,
                display_name=safe_display_name(filename, "document" + EXTENSIONS[mime]),
            )
            if mime == sniff.PDF:
                info = qpdf.inspect(path, timeout=self.engine_timeout, password=password)
                staged.pages = info.pages
            return staged
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StorageError(detail=exc.strerror or str(exc)) from exc
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def stage_text(self, text: str, display_name: str = "text.txt") -> StagedUpload:
        """Stage text sent in a request's body (UTF-8), like an upload: the
        job's input is then a file under its key, never a column of its row."""
        data = text.encode("utf-8")
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".txt", dir=self.staging_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise StorageError(detail=exc.strerror or str(exc)) from exc
        return StagedUpload(
            path=path,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            mime=sniff.TEXT,
            display_name=safe_display_name(display_name, "text.txt"),
        )

    def _measure(self, stream: IO[bytes], out: IO[bytes] | None) -> tuple[int, str, bytes]:
        """Size, SHA-256 and first KiB of ``stream``, copied to ``out`` if given,
        in chunks; stops with FileTooLargeError past the limit."""
        digest = hashlib.sha256()
        size = 0
        head = b""
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > self.max_upload_bytes:
                raise FileTooLargeError(limit_bytes=self.max_upload_bytes)
            if len(head) < 1024:
                head += chunk[: 1024 - len(head)]
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
        return size, digest.hexdigest(), head

    def adopt_input(self, job_id: str, staged: StagedUpload, *, key: str | None = None) -> str:
        """Move a staged upload into the job's folder (at ``key``, by default
        the single input's key); returns its key."""
        key = key or self.input_key(job_id, staged.mime)
        try:
            self.storage.put_file(key, staged.path)
        finally:
            staged.discard()
        return key

    def fetch_input(self, key: str, dest: Path) -> Path:
        try:
            self.storage.fetch(key, dest)
        except FileNotFoundError:
            raise InputMissingError() from None
        return dest

    # -- results ---------------------------------------------------------------------
    def store_result(
        self, job_id: str, attempt: int, src: Path, *, filename: str, mime: str
    ) -> dict[str, object]:
        """Store a result file; returns the descriptor kept in ``job.result``."""
        key = self.output_key(job_id, attempt, "result" + Path(filename).suffix)
        size = self.storage.put_file(key, src)
        return {"key": key, "filename": safe_display_name(filename), "mime": mime, "size": size}

    def open_result(self, descriptor: dict[str, object]) -> BinaryIO:
        return self.storage.open(str(descriptor["key"]))

    # -- deletion --------------------------------------------------------------------
    def delete_job_files(self, job_id: str) -> int:
        return self.storage.delete_prefix(self.job_prefix(job_id))

    def delete_input(self, job_id: str) -> int:
        return self.storage.delete_prefix(f"{self.job_prefix(job_id)}/input")

    def job_folders(self) -> Iterable[tuple[str, float]]:
        """(job_id, age in seconds) of every job folder in storage."""
        for prefix, age in self.storage.list_prefixes(JOB_PREFIX):
            yield prefix.rsplit("/", 1)[-1], age

    def sweep_staging(self, older_than_seconds: float) -> int:
        """Remove staging files left by requests that died mid-upload."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        for path in self.staging_dir.glob("upload-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
