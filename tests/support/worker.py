"""A real Celery worker (with beat) started by the tests, in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from pressroom.cli import worker_argv
from pressroom.db.models import utcnow
from pressroom.jobs.operations import JobOperations
from pressroom.jobs.states import Queue
from tests.support.backends import Backend

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ",".join(q.value for q in Queue)


class WorkerProcess:
    def __init__(self, backend: Backend, faults_dir: Path, log_path: Path) -> None:
        self.backend = backend
        self.faults_dir = faults_dir
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ops: JobOperations, timeout: float = 60) -> None:
        env = {
            **os.environ,
            **self.backend.env,
            "PRESSROOM_TEST_FAULTS_DIR": str(self.faults_dir),
            "PYTHONPATH": str(ROOT),
        }
        argv = worker_argv(
            self.backend.settings(),
            QUEUES,
            2,
            beat=True,
            hostname=f"test-{self.backend.name}-{os.getpid()}@%h",
        ) + ["--include", "tests.support.faults"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: see {self.log_path}")
            if set(QUEUES.split(",")) <= ops.live_queues(utcnow() - timedelta(seconds=5)):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker did not report ready in {timeout}s: see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
