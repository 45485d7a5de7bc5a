"""Logging set-up shared by every process: one JSON object a line (or plain
text with ``PRESSROOM_LOG_FORMAT=text``), UTC times, and the ids of the
request and the job being handled.

``bind_log_context(request_id=..., job_id=...)`` sets them for the current
thread or task (context variables); the API binds the request id of each
request, the task pattern binds the job id of each attempt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pressroom.config import get_settings

_request_id: ContextVar[str | None] = ContextVar("pressroom_request_id", default=None)
_job_id: ContextVar[str | None] = ContextVar("pressroom_job_id", default=None)


def bind_log_context(*, request_id: str | None = None, job_id: str | None = None) -> None:
    if request_id is not None:
        _request_id.set(request_id)
    if job_id is not None:
        _job_id.set(job_id)


@contextlib.contextmanager
def job_log_context(job_id: str) -> Iterator[None]:
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.job_id = getattr(record, "job_id", None) or _job_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, pid, message, ids, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name in ("request_id", "job_id"):
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str | None = None) -> None:
    root = logging.getLogger()
    if getattr(root, "_pressroom_configured", False):
        return
    settings = get_settings()
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if settings.log_format == "text":
        formatter = logging.Formatter(
            "%(asctime)sZ %(levelname)s %(process)d %(name)s: %(message)s"
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level or settings.log_level)
    root._pressroom_configured = True  # type: ignore[attr-defined]
