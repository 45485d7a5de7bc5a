"""Running Pressroom's own PDF-parsing code in a child process.

Two ways, both under a wall-clock time-out, a CPU-time limit and an
address-space cap, so that a crash, a hang or a memory explosion costs that
child, never the worker:

- ``run_module``: ``python -m MODULE`` through the one runner; the child
  prints one JSON object on stdout. It pays its own imports, which is right
  for a one-off check (the upload inspection, the previews).
- ``run_forked``: a fork of the calling process runs a function. The child
  starts with everything the worker has already imported (NumPy, pikepdf,
  PDFium, fontTools: about a second per process otherwise), and can send
  messages (progress) while it works. Compression runs each job this way.
  In a worker the children are forked by a fork server, a copy of the
  worker process made when it starts (``use_fork_server``), so that the
  worker shares no memory with a running child.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pressroom import errors
from pressroom.engines.forkserver import ForkServer
from pressroom.engines.runner import run, to_idle_cpu, uses_idle_cpu
from pressroom.errors import EngineError, EngineTimeoutError, ForkServerLostError, PressroomError

MEMORY_LIMIT = 3 * 1024**3
#: prctl(2): the signal a process gets when its parent dies
PR_SET_PDEATHSIG = 1

#: what a forked child is given: ``send(message)`` passes a JSON-able dict to
#: the parent's ``on_message`` while the child works
Send = Callable[[dict[str, Any]], None]


def run_module(module: str, args: list[str | Path], *, timeout: float) -> dict[str, Any]:
    result = run([sys.executable, "-m", module, *args], timeout=timeout, memory_bytes=MEMORY_LIMIT)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise EngineError(detail=(lines[-1][-300:] if lines else f"exit {result.returncode}"))
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise EngineError(detail="unreadable output") from None
    return data


def run_forked(
    work: Callable[[Send], dict[str, Any]],
    *,
    timeout: float,
    memory_bytes: int = MEMORY_LIMIT,
    on_message: Callable[[dict[str, Any]], None] | None = None,
    name: str = "worker child",
) -> dict[str, Any]:
    """``work(send)`` in a forked child; returns the dict it returns.

    The child leads a process group of its own (killed as a whole, with the
    programs it started, on time-out or when ``on_message`` raises, e.g. a
    cancelled job), has a CPU-time limit of ``timeout`` and may map
    ``memory_bytes`` beyond what the parent had mapped, and is killed when
    the parent dies (``PR_SET_PDEATHSIG``). A ``PressroomError``
    raised in the child is raised again here with its class, message and
    details; any other failure becomes ``EngineError``.

    Only the calling thread exists in the child: call this from a process
    whose other threads hold no lock the work needs (a Celery pool process,
    a test, a command-line tool).
    """
    read_fd, write_fd = os.pipe()
    if _fork_server is not None:
        try:
            pid = _fork_server.start_child(work, write_fd, timeout, memory_bytes)
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            raise
        wait = _fork_server.wait_child
    else:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(work, write_fd, timeout, memory_bytes, parent)
        wait = _reap
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    buffer = b""
    outcome: dict[str, Any] | None = None
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as reader:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EngineTimeoutError(f"{name} took longer than {timeout:.0f} s.", tool=name)
                ready, _, _ = select.select([reader], [], [], left)
                if not ready:
                    continue
                chunk = reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if "message" in message and on_message is not None:
                        on_message(message["message"])
                    else:
                        outcome = message
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        # what stopped us is the error to report, even if the server is gone too
        with contextlib.suppress(ForkServerLostError):
            wait(pid)
        raise
    status = wait(pid)
    if outcome is None or ("result" not in outcome and "error" not in outcome):
        if os.WIFSIGNALED(status):
            detail = f"{name} killed by signal {os.WTERMSIG(status)} (time or memory limit?)"
        else:
            detail = f"{name} exited with {os.waitstatus_to_exitcode(status)} and no result"
        raise EngineError(detail=detail)
    if "error" in outcome:
        raise _rebuilt(outcome["error"])
    result: dict[str, Any] = outcome["result"]
    return result


#: the fork server of this process, when it has one (``use_fork_server``)
_fork_server: ForkServer | None = None


def use_fork_server() -> None:
    """Fork ``run_forked``'s children from a fork server from now on (see
    pressroom.engines.forkserver): a worker process calls this when it
    starts. ``work`` must then be picklable (a module-level function or a
    ``functools.partial`` of one)."""
    global _fork_server
    if _fork_server is None:
        _fork_server = ForkServer(_child, _die_with_parent)
        _fork_server.start()


def stop_fork_server() -> None:
    """Back to forking this process itself; the server exits."""
    global _fork_server
    if _fork_server is not None:
        _fork_server.stop()
        _fork_server = None


def _reap(pid: int) -> int:
    return os.waitpid(pid, 0)[1]


def _child(
    work: Callable[[Send], dict[str, Any]], fd: int, timeout: float, memory: int, parent: int
) -> None:
    """The forked side of ``run_forked``: limits, work, one last line, exit."""
    code = 0
    try:
        # the objects inherited from the worker are left out of garbage
        # collection: a collection would touch them all and make the kernel
        # copy every page the two processes share (about 50 ms a time)
        gc.freeze()
        os.setpgid(0, 0)
        if uses_idle_cpu():  # the work and every program it starts
            to_idle_cpu(0)
        _die_with_parent(parent)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)  # not the worker's handlers
        cpu = int(timeout) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (_mapped_bytes() + memory, resource.RLIM_INFINITY))

        def send(message: dict[str, Any]) -> None:
            _write(fd, {"message": message})

        try:
            _write(fd, {"result": work(send)})
        except PressroomError as exc:
            _write(fd, {"error": _described(exc)})
        except BaseException as exc:  # MemoryError, a bug, a parser's own exception
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            _write(fd, {"error": _described(EngineError(detail=last[-300:]))})
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this child when the worker process that forked it
    dies (a hard time limit, the OOM killer, SIGKILL): the job is then
    redelivered or reaped, and its half-done work must not go on alone."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the request took effect
        os._exit(70)


def _mapped_bytes() -> int:
    """The address space this process has mapped (the parent's, just after fork)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _write(fd: int, message: dict[str, Any]) -> None:
    view = memoryview(json.dumps(message).encode() + b"\n")
    while view:
        view = view[os.write(fd, view) :]


def _described(exc: PressroomError) -> dict[str, Any]:
    return {"class": type(exc).__name__, "message": exc.message, "details": exc.details}


def _rebuilt(described: dict[str, Any]) -> PressroomError:
    cls = getattr(errors, str(described.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, PressroomError)):
        cls = EngineError
    return cls(described.get("message"), **described.get("details", {}))
