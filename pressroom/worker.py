"""Entry module of the Celery worker and beat (``celery -A pressroom.worker``).

It wires the process-level concerns: a fresh database engine in every forked
pool process, the CPU class of the engines it runs and its fork server, and a
heartbeat row that tells the health check which queues have a consumer.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery.signals import worker_process_init, worker_ready, worker_shutdown

from pressroom.config import get_settings
from pressroom.engines.isolated import use_fork_server
from pressroom.engines.runner import use_idle_cpu
from pressroom.logging import configure_logging
from pressroom.runtime import get_runtime, reset_runtime
from pressroom.tasks.celery_app import celery_app

configure_logging()
log = logging.getLogger("pressroom.worker")
app = celery_app

_stop = threading.Event()


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    reset_runtime()
    use_idle_cpu(get_settings().engine_scheduling == "idle")
    use_fork_server()


def _worker_name(sender: Any) -> str:
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    return f"{hostname}:{os.getpid()}"


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    queues = sorted(q.name for q in sender.task_consumer.queues) if sender else []
    name = _worker_name(sender)
    rt = get_runtime()
    interval = rt.settings.heartbeat_interval_seconds

    def beat() -> None:
        while not _stop.is_set():
            try:
                rt.ops.record_heartbeat(name, queues, os.getpid())
            except Exception:  # the database may be restarting; keep trying
                log.warning("heartbeat failed", exc_info=True)
            _stop.wait(interval)

    threading.Thread(target=beat, name="pressroom-heartbeat", daemon=True).start()
    log.info("worker %s consuming %s", name, queues)


@worker_shutdown.connect
def _stop_heartbeat(sender: Any = None, **_: Any) -> None:
    _stop.set()
    try:
        get_runtime().ops.forget_worker(_worker_name(sender))
    except Exception:
        log.warning("could not remove heartbeat row", exc_info=True)
