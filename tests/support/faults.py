"""Fault injection for the worker started by the tests (loaded with
``celery worker --include tests.support.faults``).

Like OCRmyPDF's tests, it replaces the engine runner: before an engine call
made for a job whose id has a file in ``$PRESSROOM_TEST_FAULTS_DIR``, it does
what that file says, then (unless told to fail) runs the real program.

``{"action": "sleep", "seconds": 5, "attempts": [1]}`` - stall (and write the
  process id to ``<job_id>.pid`` so a test can kill the process);
``{"action": "transient", "attempts": [1, 2]}`` - raise an engine time-out;
``{"action": "fail", "attempts": [1]}`` - raise a permanent engine error.
Attempts are counted per job in ``<job_id>.count``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pressroom.engines import qpdf, runner
from pressroom.errors import EngineError, EngineTimeoutError
from tests.support.processes import parent_of

FAULTS = Path(os.environ.get("PRESSROOM_TEST_FAULTS_DIR", "/nonexistent"))
_real_run = runner.run


def _job_for(args: list[str]) -> str | None:
    if not FAULTS.is_dir():
        return None
    joined = " ".join(args)
    for spec in FAULTS.glob("*.json"):
        job_id = spec.stem
        if f"job-{job_id}-" in joined:
            return job_id
    return None


def _attempt(job_id: str, args: list[str]) -> int:
    """Count attempts by distinct scratch folders seen for this job (the
    folder named ``job-<id>-*``, whatever sub-folder the engine works in)."""
    marker = f"job-{job_id}-"
    scratch = next((part for arg in args for part in arg.split("/") if part.startswith(marker)), "")
    seen_file = FAULTS / f"{job_id}.seen"
    seen = seen_file.read_text().split() if seen_file.exists() else []
    if scratch not in seen:
        seen.append(scratch)
        seen_file.write_text("\n".join(seen))
    return seen.index(scratch) + 1


def _pool_process() -> int:
    """The Celery pool process running this job: this one, or an ancestor
    of the compression pipeline's child (forked by the pool process's fork
    server). It is the one whose parent, the worker's main process, was not
    started by a worker process."""
    pid = os.getpid()
    while _command(parent_of(parent_of(pid))) == _command(parent_of(pid)):
        pid = parent_of(pid)
    return pid


def _command(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read()


def faulty_run(args: Any, **kwargs: Any) -> runner.Completed:
    argv = [str(a) for a in args]
    job_id = _job_for(argv)
    if job_id is not None:
        spec = json.loads((FAULTS / f"{job_id}.json").read_text())
        attempt = _attempt(job_id, argv)
        if attempt in spec.get("attempts", [1]):
            action = spec["action"]
            if action == "sleep":
                (FAULTS / f"{job_id}.parent").write_text(str(os.getppid()))
                (FAULTS / f"{job_id}.pid").write_text(str(_pool_process()))
                time.sleep(float(spec.get("seconds", 5)))
            elif action == "transient":
                raise EngineTimeoutError("injected transient failure")
            elif action == "fail":
                raise EngineError("injected permanent failure")
    return _real_run(args, **kwargs)


runner.run = faulty_run
qpdf.run = faulty_run  # qpdf imported the name; replace it there too
