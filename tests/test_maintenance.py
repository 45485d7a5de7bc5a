"""The reaper and cleanup, called directly on a backend no worker consumes."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from pressroom.db.models import Job, utcnow
from pressroom.jobs.maintenance import cleanup_expired, reap_stuck_jobs
from pressroom.jobs.states import JobStatus, TaskType
from pressroom.runtime import Runtime


def running_job(
    rt: Runtime,
    *,
    attempts: int = 1,
    started_ago: float = 0,
    task_type: TaskType = TaskType.COMPRESS,
) -> str:
    """A job claimed by a worker ``started_ago`` seconds ago."""
    job_id = f"m-{uuid.uuid4().hex}"
    rt.ops.create_job_safely(job_id, task_type, {"options": {}}, celery_task_id="m1")
    for _ in range(attempts):
        rt.ops.claim(job_id, "m1", max_attempts=10)

    def age(job: Job) -> None:  # backdate, through the one writer
        job.created_at = job.created_at - timedelta(seconds=started_ago + 1)
        job.started_at = utcnow() - timedelta(seconds=started_ago)

    rt.ops.execute_job_operation(job_id, age)
    return job_id


def finished_job(rt: Runtime, tmp: Path, *, finished_ago: timedelta, expired: bool) -> str:
    job_id = f"m-{uuid.uuid4().hex}"
    rt.ops.create_job_safely(job_id, TaskType.COMPRESS, {"options": {}}, celery_task_id="m1")
    rt.ops.claim(job_id, "m1", max_attempts=3)
    src = tmp / f"{job_id}.pdf"
    src.write_bytes(b"%PDF-1.7 result")
    descriptor = rt.files.store_result(job_id, 1, src, filename="r.pdf", mime="application/pdf")
    rt.ops.update_job_status_safely(job_id, JobStatus.COMPLETED, result={"file": descriptor})

    def backdate(job: Job) -> None:
        job.created_at = job.created_at - finished_ago - timedelta(minutes=1)
        job.finished_at = utcnow() - finished_ago
        job.expires_at = utcnow() + (timedelta(hours=-1) if expired else timedelta(hours=1))

    rt.ops.execute_job_operation(job_id, backdate)
    return job_id


def test_reaper_requeues_a_job_whose_worker_died(isolated_runtime: Runtime) -> None:
    rt = isolated_runtime
    limit = rt.settings.time_limit_pdf + rt.settings.reaper_grace_seconds
    stuck = running_job(rt, started_ago=limit + 5)
    healthy = running_job(rt, started_ago=1)
    reap_stuck_jobs(rt)
    job = rt.ops.get_job(stuck)
    assert job is not None and job.status == "pending" and job.celery_task_id != "m1"
    assert job.progress_stage == "requeued"
    # the dead attempt's message is now stale: it may not run the job again
    assert rt.ops.claim(stuck, "m1", max_attempts=3) is None
    assert rt.ops.get_job(healthy).status == "processing"  # type: ignore[union-attr]


def test_a_bulk_job_has_the_bulk_queues_longer_limit(isolated_runtime: Runtime) -> None:
    # many files in one job may run past the pdf queue's limit without being
    # taken for a job whose worker died
    rt = isolated_runtime
    assert rt.settings.time_limit_bulk > rt.settings.time_limit_pdf
    past_pdf = rt.settings.time_limit_pdf + rt.settings.reaper_grace_seconds + 5
    bulk = running_job(rt, started_ago=past_pdf, task_type=TaskType.BULK_COMPRESS)
    single = running_job(rt, started_ago=past_pdf)
    reap_stuck_jobs(rt)
    assert rt.ops.get_job(bulk).status == "processing"  # type: ignore[union-attr]
    assert rt.ops.get_job(single).status == "pending"  # type: ignore[union-attr]
    past_bulk = rt.settings.time_limit_bulk + rt.settings.reaper_grace_seconds + 5
    reap_stuck_jobs(rt, now=utcnow() + timedelta(seconds=past_bulk - past_pdf))
    assert rt.ops.get_job(bulk).status == "pending"  # type: ignore[union-attr]


def test_reaper_fails_a_job_out_of_attempts_with_worker_lost(isolated_runtime: Runtime) -> None:
    rt = isolated_runtime
    limit = rt.settings.time_limit_pdf + rt.settings.reaper_grace_seconds
    job_id = running_job(rt, attempts=rt.settings.max_attempts, started_ago=limit + 5)
    reap_stuck_jobs(rt)
    job = rt.ops.get_job(job_id)
    assert job is not None
    assert (job.status, job.error_code) == ("failed", "WORKER_LOST")
    assert job.finished_at is not None and job.expires_at is not None


def test_reaper_redispatches_a_job_pending_too_long(isolated_runtime: Runtime) -> None:
    rt = isolated_runtime
    job_id = f"m-{uuid.uuid4().hex}"
    rt.ops.create_job_safely(job_id, TaskType.COMPRESS, {"options": {}}, celery_task_id="lost")
    reap_stuck_jobs(rt)
    assert rt.ops.get_job(job_id).celery_task_id == "lost"  # type: ignore[union-attr]
    later = utcnow() + timedelta(seconds=rt.settings.pending_timeout_seconds + 1)
    report = reap_stuck_jobs(rt, now=later)
    assert job_id in report.requeued
    job = rt.ops.get_job(job_id)
    assert job is not None and job.status == "pending" and job.celery_task_id != "lost"


def test_cleanup_removes_exactly_what_expired(isolated_runtime: Runtime, tmp_path: Path) -> None:
    rt = isolated_runtime
    expired = finished_job(rt, tmp_path, finished_ago=timedelta(hours=25), expired=True)
    fresh = finished_job(rt, tmp_path, finished_ago=timedelta(hours=1), expired=False)
    ancient = finished_job(
        rt,
        tmp_path,
        finished_ago=timedelta(hours=rt.settings.job_retention_hours + 1),
        expired=True,
    )
    running = running_job(rt)
    rt.files.storage.put_file(rt.files.input_key(running, "application/pdf"), _tmp(tmp_path))
    old_orphan, young_orphan = f"orphan-{uuid.uuid4().hex}", f"orphan-{uuid.uuid4().hex}"
    for orphan in (old_orphan, young_orphan):
        rt.files.storage.put_file(rt.files.input_key(orphan, "application/pdf"), _tmp(tmp_path))
    old = time.time() - rt.settings.orphan_grace_minutes * 60 - 60
    os.utime(rt.settings.files_root / "jobs" / old_orphan, (old, old))

    report = cleanup_expired(rt)

    def has_files(job_id: str) -> bool:
        return (rt.settings.files_root / "jobs" / job_id).exists()

    assert not has_files(expired) and rt.ops.get_job(expired).files_deleted_at  # type: ignore[union-attr]
    assert has_files(fresh) and rt.ops.get_job(fresh).files_deleted_at is None  # type: ignore[union-attr]
    assert not has_files(ancient) and rt.ops.get_job(ancient) is None
    assert has_files(running) and rt.ops.get_job(running).status == "processing"  # type: ignore[union-attr]
    assert not has_files(old_orphan) and has_files(young_orphan)
    # the ancient job's files expired first, then its row went
    assert (report.files_expired, report.rows_deleted, report.orphans_removed) == (2, 1, 1)


def test_download_after_expiry_is_gone(isolated_runtime: Runtime, tmp_path: Path) -> None:
    from pressroom.api import create_app

    rt = isolated_runtime
    job_id = finished_job(rt, tmp_path, finished_ago=timedelta(hours=25), expired=True)
    client = create_app(rt.settings).test_client()
    assert client.get(f"/api/jobs/{job_id}/download").status_code == 410
    cleanup_expired(rt)
    view = client.get(f"/api/jobs/{job_id}").json["data"]  # type: ignore[index]
    assert view["files_expired"] is True and view["download_url"] is None
    gone = client.get(f"/api/jobs/{job_id}/download")
    assert (gone.status_code, gone.json["error"]["code"]) == (410, "RESULT_EXPIRED")  # type: ignore[index]


def _tmp(folder: Path) -> Path:
    path = folder / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(b"%PDF-1.7 input")
    return path
