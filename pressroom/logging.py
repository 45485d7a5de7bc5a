"""Logging set-up shared by every process: one line per record, UTC times."""

from __future__ import annotations

import logging
import time

from pressroom.config import get_settings


def configure_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    if getattr(root, "_pressroom_configured", False):
        return
    handler = logging.StreamHandler()
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(process)d %(name)s: %(message)s")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level or get_settings().log_level)
    root._pressroom_configured = True  # type: ignore[attr-defined]
