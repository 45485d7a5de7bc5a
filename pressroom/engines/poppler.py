"""Poppler's pdftotext: the reference for "the extractable text stayed the same"."""

from __future__ import annotations

from pathlib import Path

from pressroom.engines.runner import run
from pressroom.errors import EngineError


def extract_text(path: Path, *, timeout: float) -> str:
    result = run(["pdftotext", "-enc", "UTF-8", str(path), "-"], timeout=timeout)
    if result.returncode != 0:
        raise EngineError(detail=(result.stderr.strip().splitlines() or ["pdftotext failed"])[-1])
    return result.stdout


def same_text(a: str, b: str) -> bool:
    """Equal once whitespace is normalised (layout may reflow, words may not change)."""
    return a.split() == b.split()
