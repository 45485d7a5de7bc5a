"""The periodic work that keeps the job table honest: the reaper and cleanup.

Both are plain functions over the runtime (beat calls them through
pressroom.tasks.maintenance; tests and the CLI call them directly). Every
decision is re-checked on the locked row, so two reapers running at once
cannot both act on one job.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_

from pressroom.db.models import Job, utcnow
from pressroom.errors import BrokerUnavailableError, JobNotFoundError
from pressroom.jobs.states import TERMINAL_STATUSES, JobStatus, Queue, TaskType
from pressroom.runtime import Runtime
from pressroom.tasks.dispatch import dispatch

log = logging.getLogger(__name__)


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reap_stuck_jobs(rt: Runtime, now: datetime | None = None) -> ReapReport:
    """Finish or re-queue jobs whose worker died or whose message was lost.

    - processing past its queue's hard time limit plus a grace: its worker is
      gone. Re-queued with a new dispatch id while attempts remain, else
      failed with ``WORKER_LOST``.
    - pending past its due time plus ``pending_timeout``: its message was
      lost (a broker restart, a failed publish). Re-dispatched.
    """
    now = now or utcnow()
    settings = rt.settings
    report = ReapReport()
    for queue in Queue:
        cutoff = now - timedelta(
            seconds=settings.queue_time_limit(queue.value) + settings.reaper_grace_seconds
        )
        stuck = rt.ops.iter_ids(
            Job.status == JobStatus.PROCESSING.value,
            Job.queue == queue.value,
            Job.started_at < cutoff,
        )
        for job_id in stuck:
            _reap_processing(rt, job_id, cutoff, report)
    pending_cutoff = now - timedelta(seconds=settings.pending_timeout_seconds)
    for job_id in rt.ops.iter_ids(
        Job.status == JobStatus.PENDING.value, Job.scheduled_at < pending_cutoff
    ):
        _redispatch(rt, job_id, JobStatus.PENDING, report)
    if report.requeued or report.failed:
        log.warning("reaper: requeued %s, failed %s", report.requeued, report.failed)
    return report


def _reap_processing(rt: Runtime, job_id: str, cutoff: datetime, report: ReapReport) -> None:
    decision = rt.ops.reap_processing(job_id, cutoff, rt.settings.max_attempts)
    if decision == "failed":
        rt.files.delete_input(job_id)
        report.failed.append(job_id)
    elif decision == "requeue":
        _redispatch(rt, job_id, JobStatus.PROCESSING, report)


def _redispatch(rt: Runtime, job_id: str, expected: JobStatus, report: ReapReport) -> None:
    new_task_id = str(uuid.uuid4())
    try:
        if not rt.ops.redispatch(job_id, new_task_id=new_task_id, expected_status=expected):
            return
    except JobNotFoundError:
        return
    job = rt.ops.get_job(job_id)
    if job is None:
        return
    try:
        dispatch(rt.celery, job_id, TaskType(job.task_type), new_task_id)
    except BrokerUnavailableError:
        log.warning("reaper: broker unavailable; job %s stays pending for the next round", job_id)
        return
    report.requeued.append(job_id)


@dataclass
class CleanupReport:
    files_expired: int = 0
    rows_deleted: int = 0
    orphans_removed: int = 0
    bytes_freed: int = 0
    staging_removed: int = 0


def cleanup_expired(rt: Runtime, now: datetime | None = None) -> CleanupReport:
    """Delete what passed its retention, and nothing else.

    - files of finished jobs past ``expires_at`` (the row stays, so a
      download answers 410 Gone rather than 404);
    - rows of jobs finished more than ``job_retention_hours`` ago;
    - job folders with no row, older than ``orphan_grace_minutes``;
    - staging files of uploads that died mid-request.
    """
    now = now or utcnow()
    settings = rt.settings
    report = CleanupReport()
    terminal = [s.value for s in TERMINAL_STATUSES]

    for job_id in rt.ops.iter_ids(
        Job.status.in_(terminal),
        Job.expires_at < now,
        Job.files_deleted_at.is_(None),
        limit=5000,
    ):
        report.bytes_freed += rt.files.delete_job_files(job_id)
        try:
            rt.ops.mark_files_deleted(job_id)
        except JobNotFoundError:
            continue
        report.files_expired += 1

    row_cutoff = now - timedelta(hours=settings.job_retention_hours)
    for job_id in rt.ops.iter_ids(
        and_(Job.status.in_(terminal), Job.finished_at < row_cutoff), limit=5000
    ):
        report.bytes_freed += rt.files.delete_job_files(job_id)
        if rt.ops.delete_job(job_id):
            report.rows_deleted += 1

    grace = settings.orphan_grace_minutes * 60
    for job_id, age in list(rt.files.job_folders()):
        if age > grace and rt.ops.get_job(job_id) is None:
            report.bytes_freed += rt.files.delete_job_files(job_id)
            report.orphans_removed += 1

    report.staging_removed = rt.files.sweep_staging(older_than_seconds=max(grace, 3600))
    log.info("cleanup: %s", report)
    return report
