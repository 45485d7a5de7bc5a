"""Maintenance tasks run by beat on the maintenance queue."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from pressroom.jobs.maintenance import cleanup_expired, reap_stuck_jobs
from pressroom.runtime import get_runtime
from pressroom.tasks.celery_app import CLEANUP_TASK, REAP_TASK


@shared_task(name=REAP_TASK, queue="maintenance", ignore_result=True, acks_late=True)
def reap_stuck_jobs_task() -> dict[str, Any]:
    """Re-queue or fail jobs whose worker died or whose message was lost."""
    return asdict(reap_stuck_jobs(get_runtime()))


@shared_task(name=CLEANUP_TASK, queue="maintenance", ignore_result=True, acks_late=True)
def cleanup_expired_task() -> dict[str, Any]:
    """Delete expired result files, old job rows and orphaned files."""
    return asdict(cleanup_expired(get_runtime()))
