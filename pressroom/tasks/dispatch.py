"""Sending a job's message: called only after the commit that made the job
pending, with the dispatch id already stored on the row."""

from __future__ import annotations

import logging

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError

from pressroom.errors import BrokerUnavailableError
from pressroom.jobs.states import QUEUE_OF, TaskType
from pressroom.tasks.celery_app import job_task_name

log = logging.getLogger(__name__)


def dispatch(
    celery: Celery, job_id: str, task_type: TaskType, task_id: str, *, countdown: float = 0
) -> None:
    """Publish the job's message; raises BrokerUnavailableError if it cannot.

    ``send_task`` by name: the publisher needs no task code imported.
    """
    try:
        celery.send_task(
            job_task_name(TaskType(task_type).value),
            args=[job_id],
            task_id=task_id,
            queue=QUEUE_OF[TaskType(task_type)].value,
            countdown=countdown or None,
        )
    except (KombuOperationalError, OSError, ConnectionError) as exc:
        log.error("could not publish job %s: %s", job_id, exc)
        raise BrokerUnavailableError() from exc
