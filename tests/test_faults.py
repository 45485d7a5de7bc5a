"""Faults of the parts around the service, injected while jobs run.

Redis, PostgreSQL and the workers are private to this module
(tests/support/servers.py): they are stopped, restarted and killed here, which
must never happen to the machine's shared servers. Every test checks what a
client would notice: each accepted job ends in a terminal state, with an error
code when it failed, and nothing stays pending or processing for ever.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from pressroom.api import create_app
from pressroom.db.migrate import upgrade
from pressroom.jobs.states import TaskType
from pressroom.runtime import Runtime
from pressroom.tasks import base
from tests.conftest import FaultPlan
from tests.support.api import error_code, job, submit_compress, wait_for
from tests.support.backends import Backend
from tests.support.servers import PrivateServers, binaries_available
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.worker]

#: short limits, so that the reaper's cut-offs pass within a test
PRIVATE_TIMINGS = {
    "PRESSROOM_TIME_LIMIT_PDF": "20",  # reaper: processing for more than 20 + 3 s
    "PRESSROOM_PENDING_TIMEOUT_SECONDS": "6",  # reaper: pending 6 s past its due time
}


class Stack:
    """Private servers, a worker and the API app, for one module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers = PrivateServers(root / "servers").start()
        self.backend = Backend(
            "private",
            root / "data",
            database_url=self.servers.postgres.url,
            broker_url=self.servers.redis.url,
            extra=PRIVATE_TIMINGS,
        )
        upgrade(self.backend.settings())
        self.app: Flask = create_app(self.backend.settings())
        self.runtime: Runtime = self.app.extensions["pressroom"]
        (root / "faults").mkdir()
        self.faults = FaultPlan(root / "faults")
        self.worker = self.new_worker()

    def new_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.backend, self.root / "faults", self.root / "worker.log")
        worker.start(self.runtime.ops)
        return worker

    def close(self) -> None:
        try:
            self.worker.stop()
        finally:
            self.servers.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not binaries_available():
        pytest.skip("needs redis-server and PostgreSQL's initdb")
    built = Stack(tmp_path_factory.mktemp("faults"))
    yield built
    built.close()


@pytest.fixture
def client(stack: Stack) -> FlaskClient:
    return stack.app.test_client()


def wait_terminal(client: FlaskClient, job_ids: list[str], timeout: float) -> list[dict]:
    """Every job's final view; a job view that cannot be read (the database is
    coming back) is asked again."""
    views: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(views) < len(job_ids):
        for job_id in job_ids:
            if job_id in views:
                continue
            response = client.get(f"/api/jobs/{job_id}")
            if response.status_code == 200 and response.json["data"]["status"] in {  # type: ignore[index]
                "completed",
                "failed",
                "cancelled",
            }:
                views[job_id] = response.json["data"]  # type: ignore[index]
        time.sleep(0.2)
    missing = [j for j in job_ids if j not in views]
    assert not missing, f"never terminal: {[(j, job(client, j)['status']) for j in missing]}"
    return [views[j] for j in job_ids]


def submit(client: FlaskClient, pdf: Path, **fields: object) -> str:
    response = submit_compress(client, pdf, compressionLevel="lossless", **fields)
    assert response.status_code == 202, response.json
    return str(response.json["data"]["job_id"])  # type: ignore[index]


def result_files(rt: Runtime, job_id: str) -> list[Path]:
    folder = rt.settings.files_root / "jobs" / job_id / "output"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def assert_single_valid_result(client: FlaskClient, rt: Runtime, view: dict) -> None:
    assert view["status"] == "completed", view
    files = result_files(rt, view["job_id"])
    assert len(files) == 1, files  # one result, however many attempts ran
    body = client.get(view["download_url"]).data
    assert body.startswith(b"%PDF") and len(body) == view["result"]["file"]["size"]


@pytest.mark.services
def test_worker_killed_mid_job_then_whole_worker_killed(
    stack: Stack, client: FlaskClient, text_pdf: Path
) -> None:
    # the pool process dies: the broker redelivers at once (late ack)
    first = stack.faults.add("sleep", seconds=30, attempts=[1])
    submit(client, text_pdf, job_id=first)
    os.kill(stack.faults.pid(first), signal.SIGKILL)
    # the whole worker dies mid-job (a host crash): nothing redelivers soon
    # (Redis waits for its visibility time-out), so the reaper must
    second = stack.faults.add("sleep", seconds=60, attempts=[1])
    submit(client, text_pdf, job_id=second)
    stack.faults.pid(second)
    assert stack.worker.proc is not None
    os.killpg(stack.worker.proc.pid, signal.SIGKILL)
    stack.worker.proc.wait(timeout=10)
    stack.worker = stack.new_worker()
    views = wait_terminal(client, [first, second], timeout=90)
    for view in views:
        assert_single_valid_result(client, stack.runtime, view)
        assert view["attempts"] == 2, view


@pytest.mark.services
def test_broker_down_at_submission_answers_503_and_leaves_no_job(
    stack: Stack, client: FlaskClient, text_pdf: Path
) -> None:
    before = client.get("/api/jobs").json["data"]["total"]  # type: ignore[index]
    stack.servers.redis.stop()
    try:
        started = time.monotonic()
        response = submit_compress(client, text_pdf, job_id="broker-down-1")
        took = time.monotonic() - started
        assert response.status_code == 503
        assert error_code(response) == "BROKER_UNAVAILABLE"
        assert response.headers["Retry-After"]
        assert took < 15, f"a dead broker must fail fast, took {took:.1f}s"
        assert client.get("/api/jobs/broker-down-1").status_code == 404
        assert client.get("/api/jobs").json["data"]["total"] == before  # type: ignore[index]
        assert not (stack.runtime.settings.files_root / "jobs" / "broker-down-1").exists()
    finally:
        stack.servers.redis.start()
    # the same request, sent again once the broker is back, is accepted and runs
    job_id = submit(client, text_pdf, job_id="broker-down-1")
    assert_single_valid_result(client, stack.runtime, wait_for(client, job_id, timeout=60))


@pytest.mark.services
def test_redis_restarted_during_a_run_loses_no_job(
    stack: Stack, client: FlaskClient, text_pdf: Path
) -> None:
    running = stack.faults.add("sleep", seconds=4, attempts=[1])
    submit(client, text_pdf, job_id=running)
    stack.faults.pid(running)
    queued = [submit(client, text_pdf) for _ in range(6)]
    # no persistence: the queued messages and the unacked one are gone
    stack.servers.redis.restart(down_seconds=2)
    views = wait_terminal(client, [running, *queued], timeout=120)
    for view in views:
        assert_single_valid_result(client, stack.runtime, view)
        # the running task was not terminated on the connection loss: it
        # finished its first attempt instead of waiting for the reaper
        assert view["attempts"] == 1, view
    # the worker outlived the outage (Celery 5.7.0's worker exited here when a
    # task was running as the connection broke): a job sent now runs too
    assert stack.worker.proc is not None and stack.worker.proc.poll() is None
    after = submit(client, text_pdf)
    assert_single_valid_result(client, stack.runtime, wait_terminal(client, [after], timeout=30)[0])


@pytest.mark.services
def test_postgres_restarted_during_a_run_loses_no_job(
    stack: Stack, client: FlaskClient, text_pdf: Path
) -> None:
    running = stack.faults.add("sleep", seconds=3, attempts=[1])
    submit(client, text_pdf, job_id=running)
    stack.faults.pid(running)
    queued = [submit(client, text_pdf) for _ in range(4)]
    stack.servers.postgres.stop()
    try:
        # while it is down, the API answers with the error envelope, not a 500
        response = client.get(f"/api/jobs/{running}")
        assert response.status_code == 503
        assert error_code(response) == "SERVICE_UNAVAILABLE"
        refused = submit_compress(client, text_pdf)
        assert refused.status_code == 503 and error_code(refused) == "SERVICE_UNAVAILABLE"
        time.sleep(4)  # the sleeping job wakes up and finishes with no database
    finally:
        stack.servers.postgres.start()
    views = wait_terminal(client, [running, *queued], timeout=120)
    for view in views:
        assert_single_valid_result(client, stack.runtime, view)
        # claims and the completion waited for the database: one attempt each,
        # no job thrown back to the reaper
        assert view["attempts"] == 1, view


@pytest.mark.services
def test_postgres_killed_during_a_run_loses_no_job(
    stack: Stack, client: FlaskClient, text_pdf: Path
) -> None:
    queued = [submit(client, text_pdf) for _ in range(6)]
    stack.servers.postgres.kill()
    time.sleep(2)
    stack.servers.postgres.start()
    views = wait_terminal(client, queued, timeout=120)
    for view in views:
        assert_single_valid_result(client, stack.runtime, view)


# -- storage full: a real, small filesystem ----------------------------------------
def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        timeout=20,
    )
    return done.returncode == 0


def _fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte with one ballast file."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (65536, 1):
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return ballast


@pytest.fixture
def full_storage(tmp_path: Path) -> Iterator[tuple[Backend, Path]]:
    storage = tmp_path / "storage"
    if not _mount_tmpfs(storage, "4m"):
        pytest.skip("needs root to mount a small tmpfs")
    backend = Backend("embedded", tmp_path / "data", extra={"PRESSROOM_STORAGE_ROOT": str(storage)})
    upgrade(backend.settings())
    try:
        yield backend, storage
    finally:
        subprocess.run(["umount", "-l", str(storage)], check=False, timeout=20)


def test_storage_full_fails_with_a_code_and_serves_nothing_corrupt(
    full_storage: tuple[Backend, Path], tmp_path: Path, text_pdf: Path
) -> None:
    backend, storage = full_storage
    app = create_app(backend.settings())
    rt: Runtime = app.extensions["pressroom"]
    client = app.test_client()
    (tmp_path / "faults").mkdir()
    faults = FaultPlan(tmp_path / "faults")
    worker = WorkerProcess(backend, tmp_path / "faults", tmp_path / "worker.log")
    worker.start(rt.ops)
    try:
        # the disk fills while a job runs: its result cannot be stored
        running = faults.add("sleep", seconds=2, attempts=[1])
        submit(client, text_pdf, job_id=running)
        faults.pid(running)
        ballast = _fill(storage)
        # a new upload cannot even be stored: refused with a code, nothing kept
        refused = submit_compress(client, text_pdf, job_id="no-room")
        assert refused.status_code == 507 and error_code(refused) == "STORAGE_ERROR"
        assert client.get("/api/jobs/no-room").status_code == 404
        view = wait_for(client, running, timeout=180)
        assert view["status"] == "failed" and view["error"]["code"] == "STORAGE_ERROR", view
        assert view["attempts"] == 3  # retried: a full disk is transient
        assert error_code(client.get(f"/api/jobs/{running}/download")) == "JOB_NOT_READY"
        leftovers = [p for p in storage.rglob("*") if p.is_file() and p != ballast]
        assert leftovers == [], leftovers  # no partial result, no stale input
        # space comes back: the service works again, and serves whole files
        ballast.unlink()
        job_id = submit(client, text_pdf)
        assert_single_valid_result(client, rt, wait_for(client, job_id, timeout=180))
        assert worker.proc is not None and worker.proc.poll() is None  # the worker lived
    finally:
        worker.stop()


# -- the worker's job writes wait out a database outage (no server needed) ------------
def _outage() -> OperationalError:
    return OperationalError("UPDATE jobs", {}, Exception("server closed the connection"))


def test_claim_and_completion_wait_out_a_database_outage(
    isolated_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = isolated_runtime
    ops = rt.ops
    task_id = str(uuid.uuid4())
    ops.create_job_safely("outage-1", TaskType.COMPRESS, {"options": {}}, celery_task_id=task_id)
    monkeypatch.setattr(base, "get_runtime", lambda: rt)
    real_claim, real_complete = ops.claim, ops.complete
    calls = {"claim": 0, "complete": 0}

    def claim(*args: object, **kwargs: object) -> object:
        calls["claim"] += 1
        if calls["claim"] == 1:  # the database is restarting
            raise _outage()
        return real_claim(*args, **kwargs)  # type: ignore[arg-type]

    def complete(*args: object, **kwargs: object) -> None:
        calls["complete"] += 1
        real_complete(*args, **kwargs)  # type: ignore[arg-type]
        if calls["complete"] == 1:  # committed, but the answer was lost with the connection
            raise _outage()

    monkeypatch.setattr(ops, "claim", claim)
    monkeypatch.setattr(ops, "complete", complete)
    outcome = base.execute_job(
        TaskType.COMPRESS, lambda ctx: base.TaskOutcome({"pages": 1}), "outage-1", task_id
    )
    assert outcome == "completed"
    job_row = ops.get_job("outage-1")
    assert job_row is not None and job_row.status == "completed" and job_row.attempts == 1
    assert calls == {"claim": 2, "complete": 2}


def test_embedded_broker_never_shows_a_half_written_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kombu's own filesystem transport wrote messages in place; a worker that
    polled the folder mid-write read an empty message and died."""
    from queue import Empty

    from kombu import Connection

    from pressroom.tasks import fsbroker

    folder = str(tmp_path)
    options = {"data_folder_in": folder, "data_folder_out": folder}
    real_replace = os.replace
    during_write: list[list[str]] = []

    def connect() -> Connection:
        return Connection("filesystem://", transport=fsbroker.TRANSPORT, transport_options=options)

    def replace_and_look(src: str, dst: str) -> None:
        # the message is written but not yet in place: a consumer finds nothing
        with connect() as c, pytest.raises(Empty):
            c.default_channel._get("pdf")
        during_write.append(sorted(os.listdir(folder)))
        real_replace(src, dst)

    monkeypatch.setattr(fsbroker.os, "replace", replace_and_look)
    with connect() as c:
        c.default_channel._put("pdf", {"body": "job-1"})
        assert c.default_channel._get("pdf") == {"body": "job-1"}
    assert len(during_write) == 1 and during_write[0][0].endswith(".pdf.part")
    assert os.listdir(folder) == []


def test_embedded_broker_is_first_in_first_out_when_the_clock_gains_a_digit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kombu takes the first message name in sorted order; unpadded times put
    a message sent at 100.000 s of uptime before one sent at 99.999 s."""
    from kombu import Connection

    from pressroom.tasks import fsbroker

    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection("filesystem://", transport=fsbroker.TRANSPORT, transport_options=options) as c:
        for now, body in ((99_999_000_000, "first"), (100_000_000_000, "second")):
            monkeypatch.setattr(fsbroker, "monotonic_ns", lambda now=now: now)
            c.default_channel._put("pdf", {"body": body})
        assert [c.default_channel._get("pdf")["body"] for _ in range(2)] == ["first", "second"]


def test_embedded_worker_loop_is_not_held_by_a_full_prefetch_window(tmp_path: Path) -> None:
    """Celery's loop for this transport acknowledges finished tasks only
    between two drain calls; each call used to poll out its whole 2-second
    time-out while the prefetch window was full, so a worker of two processes
    ran two tasks per two seconds however short they were."""
    import threading

    from kombu import Connection, Consumer, Exchange, Message
    from kombu import Queue as KombuQueue

    from pressroom.tasks import fsbroker

    folder = str(tmp_path)
    options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        # the queue's binding is written here (kombu's default is ./control)
        "control_folder": str(tmp_path / "control"),
        "polling_interval": 0.05,
    }
    # a name of its own: kombu keeps the bindings a process declared in a
    # class-wide state and writes none again, so a name another test bound
    # would leave this test's control folder without the binding
    name = f"loop{uuid.uuid4().hex}"
    queue = KombuQueue(name, Exchange(name), routing_key=name)
    received: list[str] = []
    pending_acks: list[Message] = []

    def on_message(body: dict[str, str], message: Message) -> None:
        # the "pool" finishes the task a moment later; the loop acknowledges
        # it before its next drain call, as Celery's synloop does
        received.append(body["task"])
        threading.Timer(0.01, pending_acks.append, [message]).start()

    with Connection("filesystem://", transport=fsbroker.TRANSPORT, transport_options=options) as c:
        channel = c.default_channel
        with Consumer(channel, [queue], callbacks=[on_message], accept=["json"]):
            channel.basic_qos(0, 1, False)
            producer = c.Producer(channel)
            for n in range(5):
                producer.publish(
                    {"task": f"task-{n}"},
                    serializer="json",
                    exchange=queue.exchange,
                    routing_key=name,
                )
            started = time.monotonic()
            while len(received) < 5 and time.monotonic() - started < 30:
                while pending_acks:
                    pending_acks.pop().ack()
                with contextlib.suppress(TimeoutError):
                    c.drain_events(timeout=2.0)
            took = time.monotonic() - started
    assert received == [f"task-{n}" for n in range(5)]
    # five messages through a window of one: 8 s when each full window
    # cost the whole time-out; a few polling intervals now
    assert took < 2.0, took
