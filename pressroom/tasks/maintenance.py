"""Maintenance tasks run by beat on the maintenance queue."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from pressroom.config import get_settings
from pressroom.jobs.maintenance import cleanup_expired, reap_stuck_jobs
from pressroom.runtime import get_runtime
from pressroom.tasks.celery_app import CLEANUP_TASK, REAP_TASK

LIMITS = {
    "time_limit": get_settings().time_limit_maintenance,
    "soft_time_limit": max(1, get_settings().time_limit_maintenance - 10),
}


@shared_task(name=REAP_TASK, ignore_result=True, acks_late=True, **LIMITS)
def reap_stuck_jobs_task() -> dict[str, Any]:
    """Re-queue or fail jobs whose worker died or whose message was lost."""
    return asdict(reap_stuck_jobs(get_runtime()))


@shared_task(name=CLEANUP_TASK, ignore_result=True, acks_late=True, **LIMITS)
def cleanup_expired_task() -> dict[str, Any]:
    """Delete expired result files, old job rows and orphaned files."""
    return asdict(cleanup_expired(get_runtime()))
