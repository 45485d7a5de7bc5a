"""JobOperations on each backend: idempotent race-safe creation, locked
updates that lose nothing, and the state machine."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pressroom.db.models import Job
from pressroom.errors import (
    InvalidTransitionError,
    JobCancelledError,
    JobConflictError,
    StaleAttemptError,
)
from pressroom.jobs.changes import ChangeListener
from pressroom.jobs.progress import ProgressReporter
from pressroom.jobs.states import JobStatus, TaskType
from pressroom.jobs.view import job_view
from pressroom.runtime import Runtime

INPUT = {"options": {"compressionLevel": "medium"}, "fingerprint": "abc"}


def new_id() -> str:
    return f"t-{uuid.uuid4().hex}"


def test_twenty_concurrent_creates_make_one_job(isolated_runtime: Runtime) -> None:
    ops = isolated_runtime.ops
    job_id = new_id()
    barrier = threading.Barrier(20)

    def create(_: int) -> tuple[str, str, bool]:
        barrier.wait()
        job, created = ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT)
        return job.id, job.task_type, created

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(create, range(20)))

    assert {r[:2] for r in results} == {(job_id, "compress")}
    assert sum(created for *_, created in results) == 1
    rows, total = ops.list_jobs(owner=None)
    assert total == 1 and rows[0].id == job_id


def test_same_id_for_another_task_owner_or_file_is_a_conflict(isolated_runtime: Runtime) -> None:
    ops = isolated_runtime.ops
    job_id = new_id()
    ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT)
    with pytest.raises(JobConflictError):
        ops.create_job_safely(job_id, TaskType.CONVERT, INPUT)
    with pytest.raises(JobConflictError):
        ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT, owner="key-2")
    with pytest.raises(JobConflictError):
        ops.create_job_safely(job_id, TaskType.COMPRESS, {**INPUT, "fingerprint": "other"})
    again, created = ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT)
    assert (again.id, created) == (job_id, False)


def test_concurrent_locked_updates_lose_nothing(isolated_runtime: Runtime) -> None:
    ops = isolated_runtime.ops
    job_id = new_id()
    ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT)

    def bump(job):  # type: ignore[no-untyped-def]
        counts = dict(job.input_data)
        counts["n"] = counts.get("n", 0) + 1
        job.input_data = counts

    def work(_: int) -> None:
        for _ in range(15):
            ops.execute_job_operation(job_id, bump)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    job = ops.get_job(job_id)
    assert job is not None and job.input_data["n"] == 120


def test_progress_racing_a_cancel_never_breaks_the_state_machine(
    isolated_runtime: Runtime,
) -> None:
    ops = isolated_runtime.ops
    job_id = new_id()
    task_id = str(uuid.uuid4())
    ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT, celery_task_id=task_id)
    job = ops.claim(job_id, task_id, max_attempts=3)
    assert job is not None and job.status == "processing"
    fence = (task_id, job.attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def report(n: int) -> None:
        reporter = ProgressReporter(ops, job_id, fence, min_interval=0)
        for pct in range(1, 40):
            try:
                reporter.report(pct, f"stage-{n}", "working")
            except JobCancelledError:
                with lock:
                    outcomes.append("cancelled-seen")
                return
        with lock:
            outcomes.append("finished")

    threads = [threading.Thread(target=report, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    ops.update_job_status_safely(job_id, JobStatus.CANCELLED, error=("JOB_CANCELLED", "by test"))
    for t in threads:
        t.join()

    final = ops.get_job(job_id)
    assert final is not None and final.status == "cancelled" and final.finished_at is not None
    # a reporter that writes after the cancel learns of it; none may revive the job
    reporter = ProgressReporter(ops, job_id, fence, min_interval=0)
    with pytest.raises(JobCancelledError):
        reporter.report(99, "late", "")
    with pytest.raises(InvalidTransitionError):
        ops.update_job_status_safely(job_id, JobStatus.COMPLETED, result={})
    assert len(outcomes) == 4


def test_state_machine_and_fencing(isolated_runtime: Runtime) -> None:
    ops = isolated_runtime.ops
    job_id = new_id()
    ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT, celery_task_id="m1")
    with pytest.raises(InvalidTransitionError):
        ops.update_job_status_safely(job_id, JobStatus.COMPLETED, result={})
    assert ops.claim(job_id, "other-message", 3) is None  # a stale message is dropped
    job = ops.claim(job_id, "m1", 3)
    assert job is not None and job.attempts == 1 and job.started_at is not None
    # a redelivery of the same message re-claims the job as a new attempt
    again = ops.claim(job_id, "m1", 3)
    assert again is not None and again.attempts == 2
    with pytest.raises(StaleAttemptError):  # attempt 1 may no longer finish the job
        ops.update_job_status_safely(job_id, JobStatus.COMPLETED, result={}, fence=("m1", 1))
    # nor write its progress over the running attempt's
    ops.record_progress(job_id, ("m1", 2), 40, "fonts", "attempt 2")
    with pytest.raises(StaleAttemptError):
        ops.record_progress(job_id, ("m1", 1), 90, "finishing", "attempt 1")
    running = ops.get_job(job_id)
    assert running is not None and running.status == "processing"
    assert (running.progress_percentage, running.progress_message) == (40, "attempt 2")
    assert running.updated_at >= running.created_at
    done = ops.update_job_status_safely(
        job_id, JobStatus.COMPLETED, result={"ok": True}, fence=("m1", 2)
    )
    assert done.status == "completed" and done.progress_percentage == 100
    assert done.expires_at is not None and done.expires_at > done.finished_at  # type: ignore[operator]
    with pytest.raises(InvalidTransitionError):
        ops.update_job_status_safely(job_id, JobStatus.PROCESSING)


def test_a_job_past_its_attempt_limit_fails_with_worker_lost(isolated_runtime: Runtime) -> None:
    ops = isolated_runtime.ops
    job_id = new_id()
    ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT, celery_task_id="m1")
    for attempt in (1, 2):
        job = ops.claim(job_id, "m1", max_attempts=2)
        assert job is not None and job.attempts == attempt
    assert ops.claim(job_id, "m1", max_attempts=2) is None
    job = ops.get_job(job_id)
    assert job is not None
    assert (job.status, job.error_code, job.attempts) == ("failed", "WORKER_LOST", 2)


def test_a_committed_change_is_pushed_to_the_followers_of_that_job(
    isolated_runtime: Runtime,
) -> None:
    """On PostgreSQL a change is pushed to the job's followers with the
    job's new state (the event stream sends it without reading the row); a
    state older than the one a follower holds is dropped. On SQLite nothing
    is pushed and a follower is told to poll."""
    ops = isolated_runtime.ops
    followed, other = new_id(), new_id()
    for job_id in (followed, other):
        ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT, celery_task_id="t1")
    listener = ChangeListener(isolated_runtime.settings.database_url)
    with listener.follow(followed) as follower:
        if not listener.enabled:
            assert not listener.live
            return
        deadline = time.monotonic() + 10
        while not listener.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listener.live, "the LISTEN connection should be up"
        pending = ops.get_job(followed)
        assert pending is not None
        follower.next_state(pending, 0)  # the wake-up of the connection's start
        ops.claim(other, "t1", max_attempts=3)
        assert follower.next_state(pending, 0.5) is pending, (
            "another job's change must not wake this follower (it times out: read the row)"
        )
        ops.claim(followed, "t1", max_attempts=3)
        claimed = follower.next_state(pending, 5)
        assert claimed is not None and claimed is not pending, "the claim should be pushed"
        assert (claimed.status, claimed.attempts, claimed.progress_stage) == (
            "processing",
            1,
            "started",
        )
        assert claimed.version > pending.version
        ops.record_progress(followed, ("t1", 1), 40, "working", "Page 2 of 5")
        working = follower.next_state(claimed, 5)
        assert working is not None and working is not claimed
        assert job_view(working) == job_view(ops.get_job(followed)), (
            "the pushed state should be what a read of the row gives"
        )
        # a state the follower has already passed (it read the row meanwhile)
        ops.record_progress(followed, ("t1", 1), 60, "working", "Page 3 of 5")
        assert follower.next_state(ops.get_job(followed), 5) is None, "an older state is dropped"


def test_a_change_too_large_to_push_makes_the_follower_read_the_row(
    isolated_runtime: Runtime,
) -> None:
    """NOTIFY carries at most 8000 bytes: a completion with a large result is
    announced by the job's id alone, and the follower is told to read it."""
    ops = isolated_runtime.ops
    job_id = new_id()
    ops.create_job_safely(job_id, TaskType.COMPRESS, INPUT, celery_task_id="t1")
    listener = ChangeListener(isolated_runtime.settings.database_url)
    if not listener.enabled:
        pytest.skip("SQLite pushes nothing")
    with listener.follow(job_id) as follower:
        deadline = time.monotonic() + 10
        while not listener.live and time.monotonic() < deadline:
            time.sleep(0.05)
        claimed = ops.claim(job_id, "t1", max_attempts=3)
        assert claimed is not None
        for _ in range(20):  # take the claim's push and the start's wake-up, until quiet
            began = time.monotonic()
            follower.next_state(claimed, 0.3)
            if time.monotonic() - began >= 0.3:
                break
        ops.complete(claimed, {"pages": [{"text": "x" * 100} for _ in range(100)]})
        began = time.monotonic()
        assert follower.next_state(claimed, 10) is claimed, "a row too large to push is read"
        assert time.monotonic() - began < 5, "woken by the change, not by the timer"
        done = ops.get_job(job_id)
        assert done is not None and done.status == "completed" and len(done.result["pages"]) == 100


def test_the_one_statement_completion_writes_what_the_locked_path_writes(
    isolated_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``complete`` takes one UPDATE for a plain job and the locked path for a
    job with a password (removed at rest) or a webhook: the rows they leave
    differ in nothing but what the locked path must do besides."""
    ops = isolated_runtime.ops
    result = {"pages": 3, "compressed_size": 10}
    rows = {}
    locked: list[str] = []
    locked_path = ops.update_job_status_safely

    def update_job_status_safely(job_id: str, *args: Any, **kwargs: Any) -> Job:
        locked.append(job_id)
        return locked_path(job_id, *args, **kwargs)

    monkeypatch.setattr(ops, "update_job_status_safely", update_job_status_safely)
    cases = (
        ("plain", {"level": "medium"}),
        # what the API stores for a form sent without a password
        ("no password", {"level": "medium", "password": None}),
        ("secret", {"password": "hunter2"}),
    )
    for name, options in cases:
        job_id = new_id()
        ops.create_job_safely(job_id, TaskType.COMPRESS, {"options": options}, celery_task_id="t")
        claimed = ops.claim(job_id, "t", max_attempts=3)
        assert claimed is not None and claimed.status == "processing" and claimed.attempts == 1
        ops.complete(claimed, result)
        rows[name] = ops.get_job(job_id)
    plain, none_given, secret = rows["plain"], rows["no password"], rows["secret"]
    assert plain is not None and none_given is not None and secret is not None
    assert locked == [secret.id], "only the job with a password to remove takes the locked path"
    assert "password" not in secret.input_data["options"], "a finished job keeps no password"
    for job in (plain, none_given, secret):
        assert (job.status, job.result, job.progress_percentage, job.progress_stage) == (
            "completed",
            result,
            100,
            "done",
        )
        assert job.error_code is None and job.finished_at is not None
        assert job.expires_at is not None and job.finished_at <= job.expires_at
        assert job.version == 2, "created (0), claimed (1), completed (2)"
    # a second completion by the same attempt is refused, not applied twice
    with pytest.raises(InvalidTransitionError):
        ops.complete(plain, result)
