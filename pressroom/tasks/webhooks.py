"""Webhook tasks, on the maintenance queue: one delivery attempt, and the
sweeper that re-sends deliveries whose message was lost."""

from __future__ import annotations

from celery import shared_task

from pressroom.logging import job_log_context
from pressroom.runtime import get_runtime
from pressroom.webhooks.delivery import DELIVER_TASK, SWEEP_TASK, deliver, sweep


@shared_task(name=DELIVER_TASK, ignore_result=True, acks_late=True, time_limit=120)
def deliver_webhook_task(delivery_id: str) -> str:
    """POST one job's webhook; reschedules itself on a retryable failure."""
    rt = get_runtime()
    row = rt.webhooks.get(delivery_id)
    with job_log_context(row.job_id if row is not None else "-"):
        return deliver(rt.settings, rt.ops, rt.webhooks, rt.celery, delivery_id)


@shared_task(name=SWEEP_TASK, ignore_result=True, acks_late=True, time_limit=120)
def sweep_webhooks_task() -> dict[str, int]:
    """Re-publish pending deliveries past their due time; purge old rows."""
    rt = get_runtime()
    return sweep(rt.settings, rt.webhooks, rt.celery)
