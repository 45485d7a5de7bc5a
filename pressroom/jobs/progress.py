"""ProgressReporter: the one way a running task reports progress.

Writes go through ``JobOperations.execute_job_operation`` on the locked row.
They are throttled (at most one write per ``min_interval`` per job) so that a
per-page loop does not hammer the database; a change of stage and the final
100 % are always written. Each write is also where a running task learns that
its job was cancelled or handed to a newer attempt: it raises then, and the
task execution pattern stops the work and cleans up.
"""

from __future__ import annotations

import time
from typing import Protocol

from pressroom.db.models import Job
from pressroom.errors import JobCancelledError, StaleAttemptError
from pressroom.jobs.operations import JobOperations
from pressroom.jobs.states import JobStatus


class Progress(Protocol):
    """What services see: they report, they know nothing of jobs."""

    def report(self, percentage: float, stage: str, message: str = "") -> None: ...


class ProgressReporter:
    def __init__(
        self,
        ops: JobOperations,
        job_id: str,
        fence: tuple[str, int],
        *,
        min_interval: float = 0.5,
    ) -> None:
        self._ops = ops
        self._job_id = job_id
        self._fence = fence
        self._min_interval = min_interval
        self._monotonic = time.monotonic
        self._last_write = float("-inf")
        self._last_stage: str | None = None
        self._last_percentage = -1
        self.writes = 0

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        pct = max(0, min(100, int(percentage)))
        now = self._monotonic()
        forced = stage != self._last_stage or pct == 100
        if not forced and (now - self._last_write < self._min_interval or pct == self._last_percentage):
            return
        self._write(pct, stage, message[:500])
        self._last_write, self._last_stage, self._last_percentage = now, stage, pct

    def check_cancelled(self) -> None:
        """Raise if the job was cancelled or superseded (no write)."""
        self._ops.execute_job_operation(self._job_id, self._guard)

    def _guard(self, job: Job) -> None:
        if job.status == JobStatus.CANCELLED.value:
            raise JobCancelledError(job_id=self._job_id)
        if (job.celery_task_id, job.attempts) != self._fence or job.status != JobStatus.PROCESSING:
            raise StaleAttemptError(job_id=self._job_id)

    def _write(self, pct: int, stage: str, message: str) -> None:
        def apply(job: Job) -> None:
            self._guard(job)
            # progress never goes backwards within one attempt
            job.progress_percentage = max(pct, job.progress_percentage) if stage == job.progress_stage else pct
            job.progress_stage = stage
            job.progress_message = message

        self._ops.execute_job_operation(self._job_id, apply)
        self.writes += 1
