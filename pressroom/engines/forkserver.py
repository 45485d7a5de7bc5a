"""A fork server: the process that forks ``run_forked``'s children for a worker.

A worker process that forks a child to run a job shares its memory with the
child for as long as the child runs, and the kernel copies every page either
side writes. The worker keeps writing while the child works: each progress
report runs the database stack and touches a few hundred pages, each one a
page fault and a 4 KiB copy (6 microseconds apiece on this project's VMs,
about 1 ms of CPU a report).

The fork server is forked once, when the worker process starts, and from
then on forks the children in its place. It does nothing between two forks,
so it touches almost no page while a child runs, and the worker, which no
longer forks, shares no page with a running child.

Protocol, over a ``SOCK_SEQPACKET`` socket pair (one message per datagram):

- worker -> server: the pickled ``(work, timeout, memory_bytes)``, with the
  write end of the child's result pipe passed as a file descriptor;
- server -> worker: ``started <pid>`` once the child exists (it leads its own
  process group), then ``exited <pid> <wait status>`` once it has been reaped.

The server calls itself ``pressroom-fork`` in ``ps``, and its children
``pressroom-job``. It closes every file it inherited (database and broker sockets
among them: a copy held open would keep a closed connection alive), dies
with the worker (``PR_SET_PDEATHSIG``), and its children die with it. A
worker that finds its server gone starts another.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import select
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from pressroom.errors import ForkServerLostError

#: the largest request (a pickled function with its arguments: paths, options)
_MAX_MESSAGE = 1024 * 1024
#: what ``ps`` and ``/proc/<pid>/comm`` call the server and its children
SERVER_NAME = "pressroom-fork"
CHILD_NAME = "pressroom-job"
#: prctl(2): set the calling thread's name (the process's, for its main thread)
_PR_SET_NAME = 15

#: what a child is started with: (work, result fd, timeout, memory bytes, its parent's pid)
ChildMain = Callable[[Callable[..., Any], int, float, int, int], None]


class ForkServer:
    """The worker side: starts the server and asks it for children, one at a
    time (a worker process runs one job at a time; a lock keeps it so)."""

    def __init__(self, child_main: ChildMain, on_server_start: Callable[[int], None]) -> None:
        self._child_main = child_main
        self._on_server_start = on_server_start
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pid = 0

    @property
    def pid(self) -> int:
        """The server's pid (0 before it starts)."""
        return self._pid

    def start(self) -> None:
        """Fork the server now, while the worker process is idle."""
        with self._lock:
            self._running()

    def start_child(
        self, work: Callable[..., Any], write_fd: int, timeout: float, memory: int
    ) -> int:
        """Have the server fork a child running ``work``; returns its pid.
        ``write_fd`` stays open here: the caller closes its copy."""
        request = pickle.dumps((work, timeout, memory))
        with self._lock:
            for attempt in (1, 2):
                sock = self._running()
                try:
                    socket.send_fds(sock, [request], [write_fd])
                    kind, pid, _ = self._receive(sock)
                    # the end of an earlier child whose wait was interrupted
                    # (a soft time limit, say) may still be on its way
                    while kind != "started":
                        kind, pid, _ = self._receive(sock)
                except (OSError, ForkServerLostError):
                    self._forget()  # it died since the last job: start another
                    if attempt == 2:
                        raise ForkServerLostError() from None
                    continue
                return pid
        raise AssertionError("unreachable")

    def wait_child(self, pid: int) -> int:
        """The wait status of child ``pid``, once the server has reaped it."""
        with self._lock:
            sock = self._sock
            if sock is None:
                raise ForkServerLostError()
            while True:
                try:
                    kind, exited, status = self._receive(sock)
                except (OSError, ForkServerLostError):
                    self._forget()
                    raise ForkServerLostError() from None
                if kind == "exited" and exited == pid:
                    return status

    def stop(self) -> None:
        with self._lock:
            self._forget()

    def _running(self) -> socket.socket:
        if self._sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            parent = os.getpid()
            pid = os.fork()
            if pid == 0:  # the server: never returns
                ours.close()
                _serve(theirs, self._child_main, parent, self._on_server_start)
            theirs.close()
            self._sock, self._pid = ours, pid
        return self._sock

    @staticmethod
    def _receive(sock: socket.socket) -> tuple[str, int, int]:
        data = sock.recv(256)
        if not data:
            raise ForkServerLostError()
        kind, pid, status = data.decode().split()
        return kind, int(pid), int(status)

    def _forget(self) -> None:
        """Close the socket (a live server exits when it sees that) and reap
        the server."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._pid:
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            self._pid = 0


def _serve(
    sock: socket.socket,
    child_main: ChildMain,
    parent: int,
    on_start: Callable[[int], None],
) -> None:
    """The server's loop: fork a child per request, report each one's end."""
    code = 0
    try:
        # no collection may run a finalizer that closes a file by a number
        # closed below and reused since (a database socket's, say)
        gc.disable()
        keep = sock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        on_start(parent)  # dies with the worker
        _set_name(SERVER_NAME)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
        me = os.getpid()
        while True:
            ready, _, _ = select.select([keep, wake_read], [], [])
            if wake_read in ready:
                os.read(wake_read, 4096)
                _report_exits(sock)
            if keep in ready:
                message, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 1)
                if not message:
                    return  # the worker closed its end
                work, timeout, memory = pickle.loads(message)  # noqa: S301 (from our worker)
                pid = os.fork()
                if pid == 0:  # the child: never returns
                    _set_name(CHILD_NAME)
                    signal.set_wakeup_fd(-1)
                    sock.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    child_main(work, fds[0], timeout, memory, me)
                os.close(fds[0])
                with contextlib.suppress(OSError):  # the child does it too: no race on killpg
                    os.setpgid(pid, pid)
                sock.send(f"started {pid} 0".encode())
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _set_name(name: str) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, name.encode(), 0, 0, 0)


def _report_exits(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(f"exited {pid} {status}".encode())
