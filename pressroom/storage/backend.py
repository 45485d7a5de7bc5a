"""Storage backends: one interface, chosen by configuration.

Keys are relative, slash-separated and built by FileManagementService from
job ids it validated; the backend still refuses any key that would leave its
root. ``LocalStorage`` serves a folder that every process can reach (a
shared volume in production); an S3-compatible backend is the scale-out step
and implements the same Protocol.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from pressroom.errors import StorageError

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


class Storage(Protocol):
    def put_file(self, key: str, src: Path) -> int: ...
    def fetch(self, key: str, dest: Path) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list_prefixes(self, parent: str) -> Iterator[tuple[str, float]]: ...
    def usage(self) -> tuple[int, int]: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
            raise ValueError(f"invalid storage key {key!r}")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def put_file(self, key: str, src: Path) -> int:
        """Move (same filesystem) or copy ``src`` to ``key`` atomically."""
        dest = self._path(key)
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            return dest.stat().st_size
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(detail=exc.strerror or str(exc)) from exc

    def fetch(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(detail=exc.strerror or str(exc)) from exc

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix``; returns bytes freed."""
        path = self._path(prefix)
        if not path.exists():
            return 0
        if path.is_file():
            size = path.stat().st_size
            path.unlink()
            return size
        freed = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path, ignore_errors=True)
        return freed

    def list_prefixes(self, parent: str) -> Iterator[tuple[str, float]]:
        """Child folders of ``parent`` with their age in seconds."""
        base = self._path(parent)
        if not base.is_dir():
            return
        now = time.time()
        for child in base.iterdir():
            if child.is_dir():
                yield f"{parent}/{child.name}", now - child.stat().st_mtime

    def usage(self) -> tuple[int, int]:
        """(files, bytes) under the root."""
        files = total = 0
        for path in self.root.rglob("*"):
            if path.is_file():
                files += 1
                total += path.stat().st_size
        return files, total
