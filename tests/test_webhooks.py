"""Webhooks: signed, retried on 5xx and 429 through a real worker, written in
the transaction that ends the job, and never sent to private addresses unless
allowed (checked at submission and again on the connected socket)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from pressroom.api import create_app
from pressroom.errors import CallbackUrlNotAllowedError
from pressroom.jobs.states import JobStatus, TaskType
from pressroom.runtime import Runtime
from pressroom.webhooks.delivery import deliver, sweep
from pressroom.webhooks.urls import check_callback_url
from tests.support.api import error_code, submit_compress, wait_for
from tests.support.backends import FAST, Backend

SECRET = FAST["PRESSROOM_WEBHOOK_SECRET"]


class Receiver:
    """A local HTTP server that answers the scripted statuses in turn."""

    def __init__(self, statuses: list[tuple[int, dict[str, str]]]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((time.monotonic(), dict(self.headers), body))
                n = len(receiver.requests) - 1
                status, headers = receiver.statuses[min(n, len(receiver.statuses) - 1)]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pressroom?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"{len(self.requests)} requests, wanted {count}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(statuses: list[tuple[int, dict[str, str]]]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def test_signed_webhook_retried_after_503_and_429(
    client: FlaskClient, runtime: Runtime, worker: object, text_pdf: Path, receiver_factory: Any
) -> None:
    receiver = receiver_factory([(503, {}), (429, {"Retry-After": "1"}), (200, {})])
    answer = submit_compress(client, text_pdf, callback_url=receiver.url)
    assert answer.status_code == 202, answer.json
    job_id = answer.json["data"]["job_id"]  # type: ignore[index]
    assert wait_for(client, job_id)["status"] == "completed"
    receiver.wait(3)

    deliveries = set()
    for n, (_, headers, body) in enumerate(receiver.requests[:3], 1):
        timestamp = headers["X-Pressroom-Timestamp"]
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        assert headers["X-Pressroom-Signature"] == "sha256=" + expected.hexdigest()
        assert abs(int(timestamp) - time.time()) < 120
        payload = json.loads(body)
        assert payload["event"] == "job.completed" == headers["X-Pressroom-Event"]
        assert payload["attempt"] == n
        assert payload["data"]["job_id"] == job_id and payload["data"]["status"] == "completed"
        assert payload["data"]["download_url"] == f"/api/jobs/{job_id}/download"
        deliveries.add(payload["delivery_id"])
    assert len(deliveries) == 1  # one delivery, three attempts
    # Retry-After of the 429 was honoured (the backoff alone would be 1 s too)
    assert receiver.requests[2][0] - receiver.requests[1][0] >= 0.9

    row = wait_delivered(runtime, job_id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)
    time.sleep(1.5)
    assert len(receiver.requests) == 3  # nothing after the 2xx


def wait_delivered(runtime: Runtime, job_id: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = runtime.webhooks.for_job(job_id)
        if row is not None and row.status != "pending":
            return row
        time.sleep(0.05)
    raise AssertionError("delivery not finished")


def test_a_4xx_answer_is_final(
    client: FlaskClient, runtime: Runtime, worker: object, text_pdf: Path, receiver_factory: Any
) -> None:
    receiver = receiver_factory([(410, {})])
    job_id = submit_compress(client, text_pdf, callback_url=receiver.url).json["data"]["job_id"]  # type: ignore[index]
    wait_for(client, job_id)
    receiver.wait(1)
    row = wait_delivered(runtime, job_id)
    assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, 410)


def test_every_terminal_transition_records_its_delivery_in_the_same_transaction(
    isolated_runtime: Runtime,
) -> None:
    ops = isolated_runtime.ops
    announced: list[str] = []
    ops.on_deliveries = announced.extend
    data = {"options": {}, "callback_url": "https://hooks.example.com/x"}
    ops.create_job_safely("cancel-me", TaskType.COMPRESS, data, celery_task_id="t1")
    ops.create_job_safely("no-callback", TaskType.COMPRESS, {"options": {}}, celery_task_id="t2")
    ops.create_job_safely("worker-lost", TaskType.COMPRESS, data, celery_task_id="t3")
    assert announced == []  # not before the end

    ops.update_job_status_safely("cancel-me", JobStatus.CANCELLED, error=("JOB_CANCELLED", "x"))
    ops.update_job_status_safely("no-callback", JobStatus.CANCELLED, error=("JOB_CANCELLED", "x"))
    assert ops.claim("worker-lost", "t3", max_attempts=0) is None  # out of attempts: failed
    cancelled = isolated_runtime.webhooks.for_job("cancel-me")
    lost = isolated_runtime.webhooks.for_job("worker-lost")
    assert cancelled is not None and lost is not None
    assert (cancelled.event, cancelled.status, cancelled.url) == (
        "job.cancelled",
        "pending",
        "https://hooks.example.com/x",
    )
    assert lost.event == "job.failed"
    assert isolated_runtime.webhooks.for_job("no-callback") is None
    assert announced == [cancelled.id, lost.id]


def test_a_lost_message_is_sent_again_by_the_sweeper(isolated_runtime: Runtime) -> None:
    ops = isolated_runtime.ops
    ops.on_deliveries = None  # as if the broker was down right after the commit
    data = {"options": {}, "callback_url": "https://hooks.example.com/x"}
    ops.create_job_safely("lost-message", TaskType.COMPRESS, data, celery_task_id="t1")
    ops.update_job_status_safely("lost-message", JobStatus.CANCELLED, error=("JOB_CANCELLED", "x"))
    row = isolated_runtime.webhooks.for_job("lost-message")
    assert row is not None

    class Publisher:
        sent: list[tuple[str, list[str], str]] = []

        def send_task(self, name: str, args: list[str], queue: str, **_: Any) -> None:
            self.sent.append((name, args, queue))

    publisher = Publisher()
    settings = isolated_runtime.settings
    report = sweep(settings, isolated_runtime.webhooks, publisher, grace=timedelta(0))  # type: ignore[arg-type]
    assert report["republished"] == 1
    assert publisher.sent == [("pressroom.webhooks.deliver", [row.id], "maintenance")]
    # a fresh pending row is left alone with the normal grace
    assert sweep(settings, isolated_runtime.webhooks, publisher)["republished"] == 0  # type: ignore[arg-type]


SSRF_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "ftp://93.184.216.34/hook",
    "http://user:pw@93.184.216.34/hook",
    "not a url",
]


def test_private_callback_urls_are_refused_at_submission(
    isolated_backend: Backend, isolated_runtime: Runtime, text_pdf: Path
) -> None:
    settings = isolated_backend.settings(webhook_allow_private=False)
    client = create_app(settings).test_client()
    for url in SSRF_URLS:
        answer = submit_compress(client, text_pdf, callback_url=url)
        assert answer.status_code == 400, url
        assert error_code(answer) == "CALLBACK_URL_NOT_ALLOWED", url
    assert isolated_runtime.ops.list_jobs(owner=None)[1] == 0
    assert not list(isolated_runtime.files.staging_dir.glob("upload-*"))
    # a public address passes the same check; without a secret, webhooks are off
    assert check_callback_url("https://93.184.216.34/hook", allow_private=False)
    unsigned = create_app(isolated_backend.settings(webhook_secret="")).test_client()
    off = submit_compress(unsigned, text_pdf, callback_url="https://93.184.216.34/hook")
    assert off.status_code == 400 and off.json["error"]["details"]["reason"] == "webhooks_disabled"  # type: ignore[index]
    with pytest.raises(CallbackUrlNotAllowedError):
        check_callback_url("http://127.0.0.1/", allow_private=False)


def test_the_connected_address_is_checked_again_at_delivery(
    isolated_backend: Backend, receiver_factory: Any
) -> None:
    """DNS rebinding: a URL accepted at submission that now leads to a private
    address is refused on the socket itself, before any byte is sent."""
    receiver = receiver_factory([(200, {})])
    rt = Runtime.build(isolated_backend.settings(webhook_allow_private=False))
    rt.ops.on_deliveries = None
    data = {"options": {}, "callback_url": receiver.url}
    rt.ops.create_job_safely("rebound", TaskType.COMPRESS, data, celery_task_id="t1")
    rt.ops.update_job_status_safely("rebound", JobStatus.CANCELLED, error=("JOB_CANCELLED", "x"))
    row = rt.webhooks.for_job("rebound")
    assert row is not None
    assert deliver(rt.settings, rt.ops, rt.webhooks, rt.celery, row.id) == "failed"
    assert receiver.requests == []
    final = rt.webhooks.for_job("rebound")
    assert final is not None and final.status == "failed" and "private" in (final.last_error or "")
    # a second copy of the message finds the delivery finished and does nothing
    assert deliver(rt.settings, rt.ops, rt.webhooks, rt.celery, row.id) == "skipped"
