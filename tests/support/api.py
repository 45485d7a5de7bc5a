"""Helpers to drive the API the way a client does."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

TERMINAL = {"completed", "failed", "cancelled"}


def submit_compress(
    client: FlaskClient, pdf: Path | bytes, *, filename: str = "doc.pdf", **fields: Any
) -> TestResponse:
    data = pdf if isinstance(pdf, bytes) else pdf.read_bytes()
    form: dict[str, Any] = {"file": (io.BytesIO(data), filename)}
    form.update({k: str(v) for k, v in fields.items()})
    return client.post("/api/compress", data=form, content_type="multipart/form-data")


def submit_bulk(
    client: FlaskClient,
    files: list[tuple[Path | bytes, str]],
    *,
    path: str = "/api/compress/bulk",
    field: str = "files",
    **fields: Any,
) -> TestResponse:
    """POST many files (each ``(content or path, filename)``) in ``field``, repeated."""
    parts = [
        (io.BytesIO(data if isinstance(data, bytes) else data.read_bytes()), name)
        for data, name in files
    ]
    form: dict[str, Any] = {field: parts}
    form.update({k: str(v) for k, v in fields.items()})
    return client.post(path, data=form, content_type="multipart/form-data")


def job(client: FlaskClient, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.json
    data: dict[str, Any] = response.json["data"]  # type: ignore[index]
    return data


def wait_for(
    client: FlaskClient, job_id: str, statuses: set[str] = TERMINAL, timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        view = job(client, job_id)
        if not seen or seen[-1] != view["status"]:
            seen.append(view["status"])
        if view["status"] in statuses:
            return view
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not in {statuses} after {timeout}s; went {seen}")


def error_code(response: TestResponse) -> str:
    body = response.json
    assert body is not None and body["success"] is False, body
    assert body["request_id"] and body["timestamp"]
    return str(body["error"]["code"])


def eventually(check: Any, timeout: float = 10.0) -> bool:
    """True once ``check()`` is true, polling; False if it never was within
    ``timeout``. For what a worker does just after a job's final write (the
    input file's removal), which a client may observe a moment later."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
