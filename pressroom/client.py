"""A small HTTP client for a Pressroom server: what the command-line client
(pressroom.cli_client) uses, and usable from Python on its own.

It knows the contract, not the operations: which operations exist, their
fields and body kinds come from ``GET /api/extended-features/capabilities``.
An API key, when given, is sent as the ``X-API-Key`` header.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

TERMINAL = frozenset({"completed", "failed", "cancelled"})
DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(Exception):
    """An error answer of the API (its envelope), or a server that could not be reached."""

    def __init__(
        self, code: str, message: str, status: int = 0, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}

    def problems(self) -> list[str]:
        """Each problem ``details`` names, as a line of plain words."""
        lines = [
            f"{p.get('field', '')}: {p.get('problem', '')}"
            for p in self.details.get("errors", [])
            if isinstance(p, dict)
        ]
        for entry in self.details.get("files", []):
            error = entry.get("error") if isinstance(entry, dict) else None
            if error:
                lines.append(
                    f"{entry.get('filename')}: {error.get('message')} ({error.get('code')})"
                )
        return lines


def form_value(value: Any) -> str:
    """A field's value as multipart text: objects and lists as JSON, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class PressroomClient:
    def __init__(self, url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if api_key:
            self.session.headers["X-API-Key"] = api_key

    # -- plumbing --------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.url + path, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(
                "CONNECTION_FAILED", f"Could not reach {self.url}: {exc.__class__.__name__}"
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise ApiError(
                "BAD_RESPONSE", f"The server's answer to {path} is not Pressroom's JSON."
            ) from None

    # -- the API -----------------------------------------------------------------
    def operations(self) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = self._data("GET", "/api/extended-features/capabilities")[
            "operations"
        ]
        return ops

    def submit(
        self,
        operation: dict[str, Any],
        fields: dict[str, Any],
        files: Iterable[Path] = (),
    ) -> dict[str, Any]:
        """POST one operation; answers the job view (queued) or the data (at once)."""
        path = operation["path"]
        if operation["body"] == "json":
            data: dict[str, Any] = self._data("POST", path, json=fields)
            return data
        field = "files" if operation["body"] == "files" else "file"
        with ExitStack() as stack:
            parts = [
                (field, (p.name, stack.enter_context(p.open("rb")), "application/octet-stream"))
                for p in files
            ]
            form = {name: form_value(value) for name, value in fields.items()}
            data = self._data("POST", path, data=form, files=parts)
        return data

    def job(self, job_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._data("GET", f"/api/jobs/{job_id}")
        return data

    def jobs(self, status: str | None = None, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        data: dict[str, Any] = self._data("GET", "/api/jobs", params=params)
        return data

    def cancel(self, job_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._data("DELETE", f"/api/jobs/{job_id}")
        return data

    def wait(
        self,
        job_id: str,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = 3600,
        interval: float = 0.5,
    ) -> dict[str, Any]:
        """Follow the job until it is terminal; ``on_update`` sees every view.

        It reads the job's event stream, so it learns of each change as the
        server sends it (on PostgreSQL, when the change commits), and opens
        it again when the server ends a long stream. Where the stream cannot
        be read (a proxy that buffers it, an older server), it polls the job
        every ``interval`` seconds instead."""
        deadline = time.monotonic() + timeout
        streaming = True
        while True:
            if streaming:
                try:
                    for view in self._events(job_id, deadline):
                        if on_update:
                            on_update(view)
                        if view["status"] in TERMINAL:
                            return view
                except (requests.RequestException, ValueError, KeyError, TypeError):
                    streaming = False
            if not streaming:
                view = self.job(job_id)
                if on_update:
                    on_update(view)
                if view["status"] in TERMINAL:
                    return view
            if time.monotonic() > deadline:
                raise ApiError("WAIT_TIMEOUT", f"Job {job_id} did not finish in {timeout:.0f} s.")
            time.sleep(interval)  # between polls, or before a stream is opened again

    def _events(self, job_id: str, deadline: float) -> Iterator[dict[str, Any]]:
        """The job views of one ``GET /api/jobs/{id}/events`` stream, until it
        ends or ``deadline`` passes. An error answer raises ApiError; a stream
        that cannot be read raises what requests raises."""
        # the server sends a keep-alive comment every 15 s: a read waits less than 60
        with self._request(
            "GET",
            f"/api/jobs/{job_id}/events",
            stream=True,
            headers={"Accept": "text/event-stream"},
            timeout=(self.timeout, 60),
        ) as response:
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise ValueError("not an event stream")
            for line in response.iter_lines():
                if line.startswith(b"data: "):
                    data = json.loads(line[len(b"data: ") :])
                    if "status" in data:  # a job view (an error event has a code only)
                        yield data
                if time.monotonic() > deadline:
                    return

    def download(self, job_id: str, target: Path) -> int:
        """Stream the result to ``target`` (written beside it, then renamed); its size."""
        response = self._request("GET", f"/api/jobs/{job_id}/download", stream=True)
        partial = target.with_name(target.name + ".part")
        written = 0
        try:
            with partial.open("wb") as out:
                for chunk in response.iter_content(1024 * 1024):
                    out.write(chunk)
                    written += len(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
            response.close()
        return written


def _error_of(response: requests.Response) -> ApiError:
    try:
        body = response.json()
        error = body["error"]
        return ApiError(
            str(error["code"]),
            str(error["message"]),
            response.status_code,
            error.get("details") or {},
        )
    except (ValueError, KeyError, TypeError):
        return ApiError(
            f"HTTP_{response.status_code}",
            f"The server answered HTTP {response.status_code}.",
            response.status_code,
        )


class JobHistory:
    """The jobs this user submitted from the command line, per server: a
    server without API keys does not list jobs (every job id is a
    capability), so ``pressroom jobs`` shows the ones it remembers, as the
    web page does with its browser's storage. Kept in
    ``$XDG_STATE_HOME/pressroom/jobs.json`` (``~/.local/state``), at most
    ``KEEP`` per server."""

    KEEP = 200

    def __init__(self, path: Path | None = None) -> None:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        self.path = path or base / "pressroom" / "jobs.json"

    def _load(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def add(self, url: str, job_id: str) -> None:
        data = self._load()
        ids = [job_id, *(i for i in data.get(url, []) if i != job_id)][: self.KEEP]
        data[url] = ids
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path)
        except OSError:
            pass  # a history that cannot be written is not worth failing a submission

    def ids(self, url: str) -> list[str]:
        return list(self._load().get(url, []))
