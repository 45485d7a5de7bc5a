"""The Celery application and its configuration.

Reliability settings, and why:
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acked only
  after its task returned, and requeued when the worker process died, so a
  crash never loses a job.
- ``worker_prefetch_multiplier = 1``: a worker holds one message per process;
  long PDF jobs are not parked behind a busy process.
- Per-queue soft and hard time limits; the broker's visibility time-out is
  above the largest hard limit, so Redis does not redeliver a running task.
- No result backend: job state lives in our own table.
Messages carry a job id only; the job row holds the storage keys.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue as KombuQueue

from pressroom.config import Settings, get_settings
from pressroom.jobs.states import QUEUE_OF, Queue
from pressroom.tasks import fsbroker

TASK_MODULES = [
    "pressroom.tasks.compression",
    "pressroom.tasks.maintenance",
    "pressroom.tasks.ai",
    "pressroom.tasks.extraction",
    "pressroom.tasks.conversion",
    "pressroom.tasks.webhooks",
    "pressroom.tasks.ocr",
    "pressroom.tasks.extract_text",
]

REAP_TASK = "pressroom.maintenance.reap_stuck_jobs"
CLEANUP_TASK = "pressroom.maintenance.cleanup_expired"
WEBHOOK_DELIVER_TASK = "pressroom.webhooks.deliver"
WEBHOOK_SWEEP_TASK = "pressroom.webhooks.sweep"


def job_task_name(task_type: str) -> str:
    return f"pressroom.jobs.{task_type}"


def task_routes() -> dict[str, dict[str, str]]:
    """Every task's queue, by name: job tasks by their task type's resource
    profile, maintenance on its own queue."""
    routes = {job_task_name(t.value): {"queue": q.value} for t, q in QUEUE_OF.items()}
    for name in (REAP_TASK, CLEANUP_TASK, WEBHOOK_DELIVER_TASK, WEBHOOK_SWEEP_TASK):
        routes[name] = {"queue": Queue.MAINTENANCE.value}
    return routes


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("filesystem"):
        folder = settings.broker_folder
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        }
    largest = max(settings.queue_time_limit(q.value) for q in Queue)
    return {
        "visibility_timeout": largest + int(settings.reaper_grace_seconds) + 600,
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1,
    }


def configure(app: Celery, settings: Settings) -> Celery:
    embedded = settings.broker_url.startswith("filesystem")
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_pool_limit=10,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.3,
            "interval_max": 0.5,
        },
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=None,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        # AMQP requeues an unacked message as soon as the connection drops, so
        # a task that kept running would run twice; Redis keeps it until the
        # visibility time-out, so terminating the task only threw the work
        # away and left the job to the reaper (found by restarting Redis).
        worker_cancel_long_running_tasks_on_connection_loss=not settings.broker_url.startswith(
            ("redis", "rediss")
        ),
        task_default_queue=Queue.PDF.value,
        task_routes=task_routes(),
        task_queues=[KombuQueue(q.value, routing_key=q.value) for q in Queue],
        task_create_missing_queues=False,
        beat_schedule={
            "reap-stuck-jobs": {
                "task": REAP_TASK,
                "schedule": settings.reaper_interval_seconds,
                "options": {"queue": Queue.MAINTENANCE.value, "expires": 300},
            },
            "cleanup-expired": {
                "task": CLEANUP_TASK,
                "schedule": settings.cleanup_interval_seconds,
                "options": {"queue": Queue.MAINTENANCE.value, "expires": 1800},
            },
            "sweep-webhooks": {
                "task": WEBHOOK_SWEEP_TASK,
                "schedule": settings.webhook_sweep_seconds,
                "options": {"queue": Queue.MAINTENANCE.value, "expires": 300},
            },
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        timezone="UTC",
        enable_utc=True,
    )
    if embedded:
        # kombu's filesystem transport, but publishing atomically (fsbroker.py)
        app.conf.broker_transport = fsbroker.TRANSPORT
        # the filesystem broker has no fanout worth the polling: no gossip,
        # mingle or event heartbeats (our own heartbeat table replaces them).
        app.conf.worker_enable_remote_control = False
    return app


def make_celery(
    settings: Settings | None = None, *, set_as_current: bool = True, include_tasks: bool = True
) -> Celery:
    """The worker's app (with the task modules) or a publisher (without)."""
    settings = settings or get_settings()
    app = Celery(
        "pressroom", include=TASK_MODULES if include_tasks else [], set_as_current=set_as_current
    )
    configure(app, settings)
    return app


celery_app = make_celery()
