"""GET /api/health: database, broker, storage, engines and queue consumers.

200 when every check passes, 503 otherwise, with each check's finding. A
routed queue that no live worker consumes fails the check: jobs sent there
would wait for ever.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify

from pressroom.api.submission import runtime
from pressroom.db.models import utcnow
from pressroom.engines.runner import run
from pressroom.jobs.states import QUEUE_OF, Queue

bp = Blueprint("health", __name__, url_prefix="/api")

#: the programs the registered operations run (grows with each operation)
ENGINES = {
    "qpdf": ["qpdf", "--version"],
    "ghostscript": ["gs", "--version"],
    "pdftotext": ["pdftotext", "-v"],
    "tesseract": ["tesseract", "--version"],
    # its installed version, read without importing it (an import takes seconds)
    "ocrmypdf": [
        sys.executable,
        "-c",
        "import importlib.metadata as m; print(m.version('ocrmypdf'))",
    ],
}
_engine_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _check_database() -> dict[str, Any]:
    runtime().ops.ping()
    return {"ok": True}


def _check_broker() -> dict[str, Any]:
    settings = runtime().settings
    if settings.broker_url.startswith("filesystem"):
        folder = settings.broker_folder / "queue"
        ok = folder.is_dir() and shutil.disk_usage(folder).free > 0
        return {"ok": ok, "transport": "filesystem"}
    with runtime().celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": conn.transport_cls}


def _check_storage() -> dict[str, Any]:
    root = runtime().settings.files_root
    probe = root / ".health-probe"
    probe.write_bytes(b"ok")
    probe.unlink()
    free = shutil.disk_usage(root).free
    return {"ok": free > 100 * 1024 * 1024, "free_bytes": free}


def _check_engines() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, argv in ENGINES.items():
        cached = _engine_cache.get(name)
        if cached is None or time.monotonic() - cached[0] > 300:
            try:
                out = run(argv, timeout=10)
                text = (out.stdout or out.stderr).strip().splitlines()
                info = {"ok": out.returncode == 0, "version": text[0] if text else ""}
            except Exception as exc:
                info = {"ok": False, "error": getattr(exc, "code", exc.__class__.__name__)}
            _engine_cache[name] = cached = (time.monotonic(), info)
        found[name] = cached[1]
    return {"ok": all(v["ok"] for v in found.values()), **found}


def _check_queues() -> dict[str, Any]:
    rt = runtime()
    since = utcnow() - timedelta(seconds=3 * rt.settings.heartbeat_interval_seconds + 5)
    live = rt.ops.live_queues(since)
    routed = sorted({q.value for q in QUEUE_OF.values()} | {Queue.MAINTENANCE.value})
    missing = [q for q in routed if q not in live]
    return {"ok": not missing, "consumed": sorted(live), "without_consumer": missing}


CHECKS = {
    "database": _check_database,
    "broker": _check_broker,
    "storage": _check_storage,
    "engines": _check_engines,
    "queues": _check_queues,
}


@bp.get("/health")
def health() -> Response:
    checks: dict[str, Any] = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = {"ok": False, "error": exc.__class__.__name__}
    healthy = all(c["ok"] for c in checks.values())
    response = jsonify({"status": "healthy" if healthy else "unhealthy", "checks": checks})
    response.status_code = 200 if healthy else 503
    return response
