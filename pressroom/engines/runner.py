"""The one subprocess runner: every external program goes through ``run``.

Untrusted PDFs are handled by programs in their own process, with a
wall-clock time-out, a CPU-time limit and an address-space limit, so a file
that makes a parser loop or explode costs one failed job, not a worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pressroom.errors import EngineMissingError, EngineTimeoutError

log = logging.getLogger("pressroom.engines")

#: util-linux's prlimit (always on Debian): applies the resource limits
_PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"

#: Default address-space cap of one engine process (bytes).
DEFAULT_MEMORY_LIMIT = 2 * 1024**3

#: The CPU class of the programs this process starts (``use_idle_cpu``).
_idle_cpu = False


def use_idle_cpu(enabled: bool) -> None:
    """Run the programs this process starts from now on in Linux's idle CPU
    class (``SCHED_IDLE``): they get whatever CPU the normal processes
    leave, and give it up the moment one of those wakes up.

    A worker calls this (``PRESSROOM_ENGINE_SCHEDULING=idle``) so that its
    engines never delay the API, the database or the job bookkeeping around
    them: on a busy machine a claim, a progress write or the hand-over to
    the next job would otherwise wait behind a Ghostscript run for the
    scheduler's turn. The engines lose nothing when the machine has CPU to
    spare; when it has none, they slow down first (their time-outs still
    count wall-clock time)."""
    global _idle_cpu
    _idle_cpu = enabled


def uses_idle_cpu() -> bool:
    return _idle_cpu


def to_idle_cpu(pid: int) -> None:
    """Move process ``pid`` (0: this one) and the processes it will start
    into the idle CPU class. A process that has already exited is left, and
    a system that refuses the change (a seccomp profile) only slows the
    service down: the program runs in the normal class."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except ProcessLookupError:
        pass
    except OSError as exc:
        log.debug("could not move process %s to the idle CPU class: %s", pid, exc)


@dataclass(frozen=True)
class Completed:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def _limited(argv: list[str], cpu_seconds: int, memory_bytes: int) -> list[str]:
    """``argv`` run under CPU, address-space and core-size limits.

    util-linux's ``prlimit`` sets them and then executes the program. Setting
    them from Python instead (``preexec_fn``) would force subprocess to copy
    the whole worker process with fork() on every call, about 1.7 ms each.
    """
    return [
        _PRLIMIT,
        f"--cpu={cpu_seconds}:{cpu_seconds + 5}",
        f"--as={memory_bytes}",
        "--core=0",
        "--",
        *argv,
    ]


def which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise EngineMissingError(
            f"'{program}' is not installed; run 'make setup' (or apt-get install it).",
            program=program,
        )
    return path


def run(
    args: Sequence[str | Path],
    *,
    timeout: float,
    memory_bytes: int = DEFAULT_MEMORY_LIMIT,
    cwd: Path | None = None,
    poll: Callable[[], None] | None = None,
    poll_interval: float = 1.0,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run ``args`` (never through a shell) and return what it printed.

    Raises ``EngineTimeoutError`` past ``timeout`` seconds (the whole process
    group is killed) and ``EngineMissingError`` when the program is absent.
    A non-zero exit is returned, not raised: each tool module decides what
    its exit codes mean.

    ``poll``, when given, is called every ``poll_interval`` seconds while the
    program runs (to report its progress); if it raises (a cancelled job), the
    process group is killed and the exception goes on. ``env`` adds variables
    to the program's environment.
    """
    argv = [str(a) for a in args]
    argv[0] = which(argv[0])
    tool = Path(argv[0]).name
    logger = log.getChild(tool)
    logger.debug("run %s", argv)
    proc = subprocess.Popen(
        _limited(argv, int(timeout) + 1, memory_bytes),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, **env} if env else None,
        text=True,
        errors="replace",
        process_group=0,  # killed as a group on time-out
    )
    if _idle_cpu:
        # after the start rather than in the child (``preexec_fn`` would cost
        # a fork, see ``_limited``): the program has run for microseconds
        to_idle_cpu(proc.pid)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            try:
                step = left if poll is None else max(0.01, min(poll_interval, left))
                stdout, stderr = proc.communicate(timeout=step)
                break
            except subprocess.TimeoutExpired:
                if poll is None or time.monotonic() >= deadline:
                    raise
                poll()  # communicate() may be called again: no output is lost
    except subprocess.TimeoutExpired:
        _kill(proc)
        logger.warning("%s timed out after %ss", tool, timeout)
        raise EngineTimeoutError(f"{tool} took longer than {timeout:.0f} s.", tool=tool) from None
    except BaseException:
        _kill(proc)
        raise
    if stderr.strip():
        logger.debug("%s stderr: %s", tool, stderr.strip()[:2000])
    return Completed(argv, proc.returncode, stdout, stderr)


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 9)
    proc.communicate()
