"""Send files through every operation a server declares, and judge the answers.

Shared by tests/test_fuzz.py (Flask's test client, a small set) and
bench/fuzz.py and bench/soak.py (HTTP, the large set). The operations come
from ``GET /api/extended-features/capabilities``, so an operation added by
another part of the project is fuzzed with no change here: every declared
operation whose body is a file (or files) and that accepts PDF gets every
mutant, with its required fields filled from their schema.

A case passes when the answer is a 2xx, or a 4xx/5xx carrying the error
envelope (never a bare 500), and a queued job ends ``completed`` or
``failed`` with an error code that is not ``INTERNAL_ERROR`` or
``WORKER_LOST`` (an unexpected exception, or a worker that died under it).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Protocol

TERMINAL = {"completed", "failed", "cancelled"}
#: job error codes that mean the service, not the file, went wrong
BAD_CODES = {"INTERNAL_ERROR", "WORKER_LOST"}


class Transport(Protocol):
    def post(
        self, path: str, field: str, filename: str, data: bytes, form: dict[str, str]
    ) -> tuple[int, Any]: ...

    def get(self, path: str) -> tuple[int, Any]: ...


@dataclass
class Case:
    operation: str
    mutant: str
    http_status: int
    answer: str  # the error code, or "accepted"/"ok"
    job_status: str | None = None
    job_code: str | None = None
    seconds: float = 0.0
    problem: str | None = None  # None when the case passed


def pdf_operations(transport: Transport) -> list[dict[str, Any]]:
    status, body = transport.get("/api/extended-features/capabilities")
    if status != 200:
        raise RuntimeError(f"capabilities answered {status}: {body}")
    return [
        op
        for op in body["data"]["operations"]
        if op["body"] in {"file", "files"}
        and "application/pdf" in op["accepts"]
        and op.get("available", True)
    ]


def form_for(op: dict[str, Any], **choices: str) -> dict[str, str]:
    """The operation's required fields, each at its first allowed value or its
    default, plus ``choices`` for fields the operation has."""
    schema = op.get("fields") or {}
    props: dict[str, Any] = schema.get("properties", {})
    form: dict[str, str] = {}
    for name in schema.get("required", []):
        prop = props.get(name, {})
        if "enum" in prop:
            form[name] = str(prop["enum"][0])
        elif "default" in prop:
            form[name] = str(prop["default"])
    form.update({k: v for k, v in choices.items() if k in props})
    return form


def envelope_code(body: Any) -> str | None:
    """The error code of a well-formed error envelope, else None."""
    if not isinstance(body, dict) or body.get("success") is not False:
        return None
    error = body.get("error")
    if not isinstance(error, dict) or not error.get("code") or not error.get("message"):
        return None
    if not body.get("request_id"):
        return None
    return str(error["code"])


def run_case(
    transport: Transport,
    op: dict[str, Any],
    mutant: str,
    data: bytes,
    *,
    timeout: float = 180,
    form: dict[str, str] | None = None,
) -> Case:
    started = time.monotonic()
    field = "files" if op["body"] == "files" else "file"
    status, body = transport.post(
        op["path"], field, f"{mutant}.pdf", data, form if form is not None else form_for(op)
    )
    case = Case(op["name"], mutant, status, "ok")
    if status >= 400:
        code = envelope_code(body)
        case.answer = code or "no envelope"
        if code is None:
            case.problem = f"{status} without an error envelope"
        elif code == "INTERNAL_ERROR":
            case.problem = f"{status} INTERNAL_ERROR"
    elif status == 202:
        case.answer = "accepted"
        job_id = body["data"]["job_id"]
        view = wait_job(transport, job_id, timeout)
        case.job_status = view.get("status") if view else None
        error = (view or {}).get("error") or {}
        case.job_code = error.get("code")
        if case.job_status not in TERMINAL:
            case.problem = f"job {job_id} not terminal after {timeout:.0f}s"
        elif case.job_status == "failed" and not case.job_code:
            case.problem = f"job {job_id} failed without a code"
        elif case.job_code in BAD_CODES:
            case.problem = f"job {job_id} failed with {case.job_code}"
    elif not 200 <= status < 300:
        case.problem = f"unexpected status {status}"
    case.seconds = round(time.monotonic() - started, 2)
    return case


def wait_job(transport: Transport, job_id: str, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        status, body = transport.get(f"/api/jobs/{job_id}")
        if status == 200:
            view = body["data"]
            if view["status"] in TERMINAL:
                return view
        time.sleep(0.2)
    return view


def summarize(cases: list[Case]) -> dict[str, Any]:
    outcomes = Counter(
        f"{c.operation}: {c.job_status or c.http_status} {c.job_code or c.answer}" for c in cases
    )
    return {
        "cases": len(cases),
        "problems": [asdict(c) for c in cases if c.problem],
        "bare_5xx": sum(1 for c in cases if c.http_status >= 500 and c.answer == "no envelope"),
        "outcomes": dict(sorted(outcomes.items())),
    }
