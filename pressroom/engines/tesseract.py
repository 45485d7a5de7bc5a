"""Tesseract: its version and the language packs installed on this host.

OCR itself runs through OCRmyPDF (pressroom.engines.ocrmypdf); this module
answers what the API must know before it queues a job: which languages can
be asked for. The list is read from ``tesseract --list-langs`` and kept for a
minute, so a pack installed while the service runs appears without a restart.
"""

from __future__ import annotations

import re
import threading
import time

from pressroom.engines.runner import run
from pressroom.errors import EngineError

#: not a language: Tesseract's orientation and script detection model
NOT_LANGUAGES = frozenset({"osd", "equ"})
#: how long the installed list is trusted (seconds)
CACHE_SECONDS = 60.0
#: a language code as Tesseract names its packs (``eng``, ``chi_sim``, ``script/Latin``)
LANGUAGE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,30}$")

_lock = threading.Lock()
_cache: tuple[float, list[str]] | None = None


def installed_languages(*, timeout: float = 20) -> list[str]:
    """The language packs Tesseract can use here, sorted (``osd`` left out)."""
    global _cache
    with _lock:
        if _cache is not None and time.monotonic() - _cache[0] < CACHE_SECONDS:
            return list(_cache[1])
    result = run(["tesseract", "--list-langs"], timeout=timeout)
    if result.returncode != 0:
        raise EngineError(detail=(result.stderr.strip().splitlines() or ["tesseract failed"])[-1])
    lines = result.stdout.strip().splitlines()[1:]  # the first line names the folder
    found = sorted(
        {line.strip() for line in lines if line.strip()} - NOT_LANGUAGES,
    )
    with _lock:
        _cache = (time.monotonic(), found)
    return list(found)


def split_languages(spec: str) -> list[str]:
    """``"eng+deu"`` -> ``["eng", "deu"]`` (order kept, repeats dropped)."""
    seen: list[str] = []
    for part in spec.split("+"):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def version(*, timeout: float = 20) -> str:
    result = run(["tesseract", "--version"], timeout=timeout)
    first = (result.stdout or result.stderr).strip().splitlines()
    return first[0] if first else ""
