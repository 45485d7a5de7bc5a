"""GET /metrics: Prometheus metrics, computed from the database at scrape time.

Why from the database: jobs run in many worker processes, often on other
hosts, and every fact worth counting is already in a row (status, task type,
timings, error code, delivery state). Reading it at scrape time is correct
with any number of API and worker processes, needs no multiprocess
directory, and survives restarts. The cost is a handful of indexed
aggregate queries per scrape. Counts cover the rows still retained
(``PRESSROOM_JOB_RETENTION_HOURS``), so they are gauges, not counters.

Metrics (all prefixed ``pressroom_``):
- ``jobs{task_type,status}``: jobs in the table.
- ``queue_depth{queue}``: pending jobs that are due (waiting for a worker);
  ``queue_processing{queue}``: jobs running now.
- ``job_duration_seconds{task_type}``: a gauge histogram of the run time
  (start to finish) of jobs completed in the last hour.
- ``job_errors{task_type,code}``: failed jobs by error code, which shows engine
  time-outs (``ENGINE_TIMEOUT``) and engine failures (``ENGINE_FAILED``);
  ``job_retries_pending{task_type,code}``: jobs waiting for a retry, by the
  transient error that caused it.
- ``stored_files``, ``stored_bytes``: files and bytes under the storage root
  (walked at most every 30 s).
- ``webhook_deliveries{status}``; ``workers_live``; ``queue_consumers{queue}``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response
from sqlalchemy import func, select

from pressroom.api.submission import runtime
from pressroom.db.models import Job, WebhookDelivery, WorkerHeartbeat, utcnow
from pressroom.jobs.states import JobStatus, Queue
from pressroom.runtime import Runtime

if TYPE_CHECKING:
    from prometheus_client.core import Metric

bp = Blueprint("metrics", __name__)

DURATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
DURATION_WINDOW = timedelta(hours=1)
STORAGE_CACHE_SECONDS = 30.0

_storage_lock = threading.Lock()
_storage_cache: dict[str, tuple[float, int, int]] = {}


def _walk_storage(root: Path) -> tuple[int, int]:
    files = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            try:
                size += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
            files += 1
    return files, size


def storage_totals(root: Path) -> tuple[int, int]:
    with _storage_lock:
        cached = _storage_cache.get(str(root))
        if cached is None or time.monotonic() - cached[0] > STORAGE_CACHE_SECONDS:
            files, size = _walk_storage(root / "jobs")
            cached = _storage_cache[str(root)] = (time.monotonic(), files, size)
    return cached[1], cached[2]


class DatabaseCollector:
    """A prometheus_client collector that queries the job store when scraped."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        ops, now = self.rt.ops, utcnow()

        jobs = GaugeMetricFamily(
            "pressroom_jobs",
            "Jobs in the table, by type and status.",
            labels=["task_type", "status"],
        )
        for task_type, status, count in ops.read(
            select(Job.task_type, Job.status, func.count()).group_by(Job.task_type, Job.status)
        ):
            jobs.add_metric([task_type, status], count)
        yield jobs

        depth = GaugeMetricFamily(
            "pressroom_queue_depth", "Pending jobs that are due, by queue.", labels=["queue"]
        )
        running = GaugeMetricFamily(
            "pressroom_queue_processing", "Jobs running now, by queue.", labels=["queue"]
        )
        counts: dict[tuple[str, str], int] = {}
        for queue, status, count in ops.read(
            select(Job.queue, Job.status, func.count())
            .where(
                Job.status.in_([JobStatus.PENDING.value, JobStatus.PROCESSING.value]),
                (Job.status != JobStatus.PENDING.value) | (Job.scheduled_at <= now),
            )
            .group_by(Job.queue, Job.status)
        ):
            counts[(queue, status)] = count
        for queue in Queue:
            depth.add_metric([queue.value], counts.get((queue.value, "pending"), 0))
            running.add_metric([queue.value], counts.get((queue.value, "processing"), 0))
        yield depth
        yield running

        yield self._durations(now)

        errors = GaugeMetricFamily(
            "pressroom_job_errors",
            "Failed jobs by error code (ENGINE_TIMEOUT, ENGINE_FAILED, ...).",
            labels=["task_type", "code"],
        )
        retries = GaugeMetricFamily(
            "pressroom_job_retries_pending",
            "Jobs waiting for a retry, by the transient error that caused it.",
            labels=["task_type", "code"],
        )
        for task_type, status, code, count in ops.read(
            select(Job.task_type, Job.status, Job.error_code, func.count())
            .where(
                Job.error_code.is_not(None),
                Job.status.in_([JobStatus.FAILED.value, JobStatus.PENDING.value]),
            )
            .group_by(Job.task_type, Job.status, Job.error_code)
        ):
            (errors if status == JobStatus.FAILED.value else retries).add_metric(
                [task_type, code], count
            )
        yield errors
        yield retries

        deliveries = GaugeMetricFamily(
            "pressroom_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        for status, count in ops.read(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        ):
            deliveries.add_metric([status], count)
        yield deliveries

        since = now - timedelta(seconds=3 * self.rt.settings.heartbeat_interval_seconds + 5)
        beats = ops.read(select(WorkerHeartbeat.queues).where(WorkerHeartbeat.last_seen >= since))
        yield GaugeMetricFamily(
            "pressroom_workers_live", "Workers seen recently.", value=len(beats)
        )
        consumers = GaugeMetricFamily(
            "pressroom_queue_consumers", "Live workers consuming each queue.", labels=["queue"]
        )
        for queue in Queue:
            consumers.add_metric([queue.value], sum(queue.value in row[0] for row in beats))
        yield consumers

        files, size = storage_totals(self.rt.settings.files_root)
        yield GaugeMetricFamily("pressroom_stored_files", "Files in storage.", value=files)
        yield GaugeMetricFamily("pressroom_stored_bytes", "Bytes in storage.", value=size)

    def _durations(self, now: Any) -> Metric:
        from prometheus_client.core import GaugeHistogramMetricFamily

        family = GaugeHistogramMetricFamily(
            "pressroom_job_duration_seconds",
            "Run time of the jobs completed in the last hour.",
            labels=["task_type"],
        )
        per_type: dict[str, list[float]] = {}
        for task_type, started, finished in ops_rows(self.rt, now - DURATION_WINDOW):
            if started is not None and finished is not None:
                per_type.setdefault(task_type, []).append((finished - started).total_seconds())
        for task_type, seconds in sorted(per_type.items()):
            buckets = [
                (str(bound), sum(1 for s in seconds if s <= bound)) for bound in DURATION_BUCKETS
            ]
            buckets.append(("+Inf", len(seconds)))
            family.add_metric([task_type], buckets, gsum_value=sum(seconds))
        return family


def ops_rows(rt: Runtime, since: Any) -> list[Any]:
    return rt.ops.read(
        select(Job.task_type, Job.started_at, Job.finished_at)
        .where(Job.status == JobStatus.COMPLETED.value, Job.finished_at >= since)
        .limit(20000)
    )


@bp.get("/metrics")
def metrics() -> Response:
    # imported here: the API boots faster, and only scrapes pay for it
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(runtime()))  # type: ignore[arg-type]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
