"""ProgressReporter: the one way a running task reports progress.

Writes go through ``JobOperations.record_progress`` (one fenced UPDATE of
the job's row). They are throttled (at most one write per ``min_interval``
per job) so that a per-page loop does not hammer the database; a change of
stage and 100 % are always written. Each write is also where a running task learns that its job
was cancelled or handed to a newer attempt: it raises ``JobCancelledError``
or ``StaleAttemptError`` then, and the task execution pattern stops the work
and cleans up. A write that finds the database unreachable (restarting,
failing over) is skipped: the job goes on, and the next report writes again.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from pressroom.db.engine import is_database_outage
from pressroom.jobs.operations import JobOperations

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What services see: they report, they know nothing of jobs."""

    def report(self, percentage: float, stage: str, message: str = "") -> None: ...


class NullProgress:
    """Progress that goes nowhere: a service called outside a job (a
    benchmark, the preview)."""

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        return None


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
        self._last_write = float("-inf")
        self._last_stage: str | None = None
        self._last_percentage = -1
        self._last_message = ""
        #: writes that reached the database (for tests and benchmarks)
        self.writes = 0

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        pct = max(0, min(100, int(percentage)))
        now = time.monotonic()
        forced = stage != self._last_stage or (pct == 100 and self._last_percentage != 100)
        unchanged = pct == self._last_percentage and message == self._last_message
        if not forced and (now - self._last_write < self._min_interval or unchanged):
            return
        try:
            self._ops.record_progress(self._job_id, self._fence, pct, stage, message)
        except DBAPIError as exc:  # OperationalError among them
            if not is_database_outage(exc):
                raise
            # progress is advisory: the work goes on, the next report writes
            # again, and the completion waits the outage out
            log.warning("job %s: progress not written, the database is unavailable", self._job_id)
            return
        self.writes += 1
        self._last_write, self._last_stage = now, stage
        self._last_percentage, self._last_message = pct, message


class ProgressSlice:
    """One part of a job's progress: a step's own 0-100 mapped into
    ``[start, end]`` of the job's, with a label (e.g. ``"file 3/10:
    report.pdf"``) put in front of each message. Stages pass through, and so
    do the cancellation checks of the reporter underneath."""

    def __init__(self, progress: Progress, start: float, end: float, label: str) -> None:
        self._progress = progress
        self._start = start
        self._span = end - start
        self._label = label

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        share = max(0.0, min(100.0, percentage)) / 100.0
        text = f"{self._label}: {message}" if message else self._label
        self._progress.report(self._start + share * self._span, stage, text)
