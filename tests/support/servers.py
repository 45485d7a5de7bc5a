"""Private PostgreSQL and Redis servers, in a temporary folder, on free ports.

Fault tests and the soak restart, stop and kill their servers. The machine's
shared servers (5432, 6379) must never be touched, so each run starts its
own: ``redis-server`` with no persistence, and a PostgreSQL cluster made with
``initdb`` (run as the ``postgres`` user when we are root, because initdb
refuses root). Every server is started by us, and stopped or killed by its
own process id, never by name.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.processes import stat_fields

PG_BIN = Path(os.environ.get("PRESSROOM_PG_BIN", "/usr/lib/postgresql/15/bin"))
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def binaries_available() -> bool:
    """True when both servers can be started here (the tests skip otherwise)."""
    return (PG_BIN / "initdb").exists() and shutil.which("redis-server") is not None


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} after {timeout:.0f}s")


class PrivateRedis:
    """A throw-away redis-server: no snapshots, no append-only file, so a
    restart loses every queued message, as a crashed cache node would."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait(lambda: port_answers(self.port), timeout, f"redis on {self.port} did not start")

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        _wait(lambda: not port_answers(self.port, 0.2), 10, f"redis on {self.port} still answers")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        state = stat_fields(pid)[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_fields(int(stat.parent.name))
        except (FileNotFoundError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust authentication, fsync off)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.data = folder / "data"
        self._as_postgres = os.geteuid() == 0
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def _run(self, argv: list[str], timeout: float = 120) -> None:
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed: {(done.stderr or done.stdout)[-2000:]}")

    def init(self) -> None:
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            # initdb refuses root: the cluster folder belongs to postgres, and
            # every folder above it must let postgres through
            for parent in [self.folder, *self.folder.parents]:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o011)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )

    def start(self, timeout: float = 60) -> None:
        if not self.data.exists():
            self.init()
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.folder / "postgres.log"),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            timeout=timeout + 10,
        )

    def stop(self, mode: str = "fast") -> None:
        if self.pid() is None:
            return
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would. Its backends notice and
        exit; a new postmaster refuses to start until they are gone."""
        pid = self.pid()
        if pid is None:
            return
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        _wait(
            lambda: not any(_alive(p) for p in [pid, *children]),
            30,
            f"postgres {pid} or its backends still alive",
        )
        # a killed daemon may linger as a zombie until init reaps it, and
        # PostgreSQL takes a lock file naming a zombie for a live server
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.folder / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class PrivateServers:
    """PostgreSQL + Redis for one test module or one soak run."""

    def __init__(self, folder: Path) -> None:
        self.postgres = PrivatePostgres(folder / "pg")
        self.redis = PrivateRedis(folder / "redis")

    def start(self) -> PrivateServers:
        self.redis.start()
        self.postgres.start()
        return self

    def stop(self) -> None:
        try:
            self.redis.stop()
        finally:
            self.postgres.destroy()
