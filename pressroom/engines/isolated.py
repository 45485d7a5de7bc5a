"""Running Pressroom's own PDF-parsing code in a child process.

The image pass and the visual comparison parse untrusted PDFs with native
libraries (qpdf through pikepdf, PDFium). They run as ``python -m MODULE``
through the one runner, so a crash, a hang or a memory explosion costs that
child, under a time-out and a memory cap, never the worker. They print one
JSON object on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pressroom.engines.runner import run
from pressroom.errors import EngineError

MEMORY_LIMIT = 3 * 1024**3


def run_module(module: str, args: list[str | Path], *, timeout: float) -> dict[str, Any]:
    result = run([sys.executable, "-m", module, *args], timeout=timeout, memory_bytes=MEMORY_LIMIT)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise EngineError(detail=(lines[-1][-300:] if lines else f"exit {result.returncode}"))
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise EngineError(detail="unreadable output") from None
    return data
