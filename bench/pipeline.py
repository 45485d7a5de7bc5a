#!/usr/bin/env python3
"""Pipeline benchmark: throughput, latency, memory and disk of a real Pressroom.

It starts its own service processes (migrate, the API under gunicorn, one
Celery worker with two processes, beat) in a temporary data folder, on
PostgreSQL + Redis by default or on the embedded defaults (SQLite and the
filesystem broker) with ``--embedded``, and measures, in one run:

1. the engine alone: one job's engine work called directly, without the job
   layer (the upload's ``qpdf.inspect``, then ``CompressionService.compress``
   at ``--level``, lossless by default), sequentially and two at a time;
2. compression jobs submitted through ``POST /api/compress`` at ``--level``
   and followed with ``GET /api/jobs/{id}`` (or, with ``--follow events``,
   ``GET /api/jobs/{id}/events``): one client (unloaded latency and server
   overhead), then N jobs at concurrency C (throughput);
3. ``GET /api/jobs/{id}`` under concurrent load (wrk when installed);
4. a 200 MB upload, sampling the API processes' RSS and the broker's memory;
5. disk use of the storage folder before and after ``pressroom cleanup``.

During the job phases it also counts, from /proc, the CPU each part of the
system used per job (API, worker, the qpdf processes they start, PostgreSQL,
Redis, this client, anything else), and the machine is first given up to
``--wait-quiet`` seconds to fall idle: other work on the same cores would
show up as lost throughput (a warning says when it did).

Figures are printed as a table and written to bench/out/pipeline.json (one
entry per mode, so the PostgreSQL + Redis and the embedded runs sit side by
side; ``--markdown`` prints them as one Markdown table), with the services'
logs in bench/out/logs/. Only 127.0.0.1 is contacted. Every loop is bounded
in count and time. Needs gs, qpdf, and for the default mode psql, PostgreSQL
and Redis on 127.0.0.1; wrk is used when installed.

    .venv/bin/python bench/pipeline.py              # PostgreSQL + Redis
    .venv/bin/python bench/pipeline.py --embedded   # SQLite + filesystem broker
    .venv/bin/python bench/pipeline.py --level medium --follow events
    .venv/bin/python bench/pipeline.py --markdown   # the stored runs, side by side
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pressroom.engines.forkserver import SERVER_NAME as FORK_SERVER_NAME  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
PRESSROOM = VENV_BIN / "pressroom"
PYTHON = VENV_BIN / "python"
OUT_DIR = REPO / "bench" / "out"

HOST = "127.0.0.1"
PG_ADMIN = [
    "psql",
    "-h",
    HOST,
    "-p",
    "5432",
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-v",
    "ON_ERROR_STOP=1",
    "-qAt",
    "-c",
]
REDIS_PORT = 6379
REDIS_DB = 14
API_WORKERS, API_THREADS = 2, 16
WORKER_PROCESSES = 2

MB = 1_000_000
MIB = 1024 * 1024

#: figures quoted from issue 2 (the PDF Smaller service, same 2-core machine)
REFERENCE = {
    "jobs_per_s": "10.4 jobs/s with 8 clients",
    "pct_of_engine": "58 %",
    "overhead": "26 ms",
    "get_rps": "550-690 req/s",
    "get_p99": "58-80 ms",
    "upload_api": "768 MB (100 MB upload)",
    "upload_broker": "201 MB (100 MB upload)",
    "stall": "3-5 s when a worker recycles",
    "disk": "177 MB never cleaned after 400 jobs",
}
AIMS = {
    "pct_of_engine": ">= 90 %",
    "overhead": "p50 < 10 ms",
    "get_rps": "> 1,000 req/s",
    "get_p99": "< 50 ms",
    "upload_api": "< 64 MB",
    "upload_broker": "< 1 MB",
    "stall": "none over 1 s",
    "disk": "back to empty after retention",
}


class BenchError(RuntimeError):
    """A step of the benchmark could not be carried out."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], pct: float) -> float | None:
    """Linear-interpolated percentile (``pct`` in 0..100), None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = parse_ts(start), parse_ts(end)
    return round((b - a).total_seconds(), 2) if a and b else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def dir_usage(root: Path) -> dict[str, Any]:
    """Files and bytes under ``root`` (bounded: stops counting at 1,000,000 files)."""
    files = total = 0
    examples: list[str] = []
    if root.is_dir():
        for path in root.rglob("*"):
            if files >= 1_000_000:
                break
            with contextlib.suppress(FileNotFoundError):
                if path.is_file():
                    files += 1
                    total += path.stat().st_size
                    if len(examples) < 5:
                        examples.append(str(path.relative_to(root)))
    return {"files": files, "bytes": total, "examples": examples}


def run_checked(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 120, what: str = ""
) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what or argv[0]} took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise BenchError(
            f"{what or ' '.join(argv)} failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-1500:]}"
        )
    return done.stdout


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


# --------------------------------------------------------------------------
# process memory (/proc) and the broker's memory
# --------------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes (empty if it is gone)."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    found[key] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    return found


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                kids += [int(k) for k in handle.read().split()]
        return kids
    except OSError:
        pass
    for entry in os.listdir("/proc"):  # fallback: scan parent ids
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid``, its direct children (gunicorn master + workers; celery + pool),
    and the pool processes' fork servers (which reap the compression
    children: their CPU is in the servers' children's time)."""
    tree = [pid, *children_of(pid)]
    return tree + [
        grandchild
        for child in tree[1:]
        for grandchild in children_of(child)
        if process_name(grandchild) == FORK_SERVER_NAME
    ]


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def redis_info_memory() -> int:
    """used_memory of the local Redis, through a bare RESP ``INFO memory``."""
    with socket.create_connection((HOST, REDIS_PORT), timeout=2) as sock:
        sock.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
        data = b""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            header, _, rest = data.partition(b"\r\n")
            if header.startswith(b"$") and len(rest) >= int(header[1:]):
                break
        match = re.search(rb"used_memory:(\d+)", data)
        if not match:
            raise BenchError("redis INFO memory gave no used_memory")
        return int(match.group(1))


class MemorySampler:
    """Samples RSS of process trees and the broker's footprint in a thread."""

    def __init__(
        self,
        roots: dict[str, int],
        broker: Callable[[], int] | None,
        interval: float = 0.02,
        max_seconds: float = 900,
    ) -> None:
        self.roots = roots
        self.broker = broker
        self.interval = interval
        self.max_seconds = max_seconds
        self.baseline: dict[int, dict[str, int]] = {}
        self.group_of: dict[int, str] = {}
        self.peak_rss: dict[int, int] = {}
        self.broker_before = self.broker_peak = self.broker_after = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mem-sampler", daemon=True)

    def _pids(self) -> Iterator[tuple[str, int]]:
        for group, root in self.roots.items():
            for pid in process_tree(root):
                yield group, pid

    def start(self) -> None:
        for group, pid in self._pids():
            status = proc_status(pid)
            if status:
                self.baseline[pid] = status
                self.group_of[pid] = group
                self.peak_rss[pid] = status.get("VmRSS", 0)
        if self.broker:
            self.broker_before = self.broker_peak = self.broker()
        self._thread.start()

    def _loop(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
            for group, pid in self._pids():
                rss = proc_status(pid).get("VmRSS")
                if rss is None:
                    continue
                self.group_of.setdefault(pid, group)
                self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)
            if self.broker:
                with contextlib.suppress(OSError, BenchError):
                    self.broker_peak = max(self.broker_peak, self.broker())
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.broker:
            with contextlib.suppress(OSError, BenchError):
                self.broker_after = self.broker()
        per_process: list[dict[str, Any]] = []
        for pid, group in sorted(self.group_of.items(), key=lambda kv: (kv[1], kv[0])):
            before = self.baseline.get(pid, {})
            after = proc_status(pid)
            rss_before = before.get("VmRSS", 0)
            peak = self.peak_rss.get(pid, 0)
            # VmHWM catches a peak between two samples, if it is a new high
            if after.get("VmHWM", 0) > before.get("VmHWM", 0):
                peak = max(peak, after["VmHWM"])
            per_process.append(
                {
                    "group": group,
                    "pid": pid,
                    "rss_before_mb": round(rss_before / MIB, 1),
                    "peak_rss_mb": round(peak / MIB, 1),
                    "peak_increase_mb": round((peak - rss_before) / MIB, 1) if before else None,
                    "hwm_before_mb": round(before.get("VmHWM", 0) / MIB, 1),
                    "hwm_after_mb": round(after.get("VmHWM", 0) / MIB, 1),
                }
            )
        return {
            "samples": self.samples,
            "processes": per_process,
            "broker_before_bytes": self.broker_before,
            "broker_peak_bytes": self.broker_peak,
            "broker_after_bytes": self.broker_after,
            "broker_peak_increase_mb": round((self.broker_peak - self.broker_before) / MIB, 3),
        }


# --------------------------------------------------------------------------
# CPU accounting: where the cores went during a phase
# --------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int, part: str = "all") -> float:
    """CPU seconds of ``pid``: ``own`` (utime + stime), ``children`` (cutime +
    cstime: the children it waited for, e.g. qpdf), or ``all``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    own = int(fields[11]) + int(fields[12])
    children = int(fields[13]) + int(fields[14])
    value = {"own": own, "children": children, "all": own + children}[part]
    return value / CLK_TCK


def pids_named(*names: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() in names:
                    found.append(int(entry))
    return found


def machine_cpu() -> dict[str, float]:
    """CPU seconds of the machine since boot, from /proc/stat: busy, total,
    and the parts no process is charged for (interrupts, steal)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    return {
        "busy": (total - idle) / CLK_TCK,
        "total": total / CLK_TCK,
        "irq": (values[5] + values[6]) / CLK_TCK,
        "steal": values[7] / CLK_TCK,
    }


def machine_busy_pct(seconds: float = 2.0) -> float:
    first = machine_cpu()
    time.sleep(seconds)
    last = machine_cpu()
    return 100 * (last["busy"] - first["busy"]) / max(last["total"] - first["total"], 1e-9)


def wait_for_quiet(limit_pct: float, max_wait: float) -> dict[str, Any]:
    """Wait (bounded) until the machine is idle enough to measure anything."""
    started = time.monotonic()
    busy = machine_busy_pct()
    while busy > limit_pct and time.monotonic() - started < max_wait:
        log(f"machine {busy:.0f} % busy before the start (other processes); waiting for quiet")
        time.sleep(5)
        busy = machine_busy_pct()
    quiet = busy <= limit_pct
    if not quiet:
        log(f"warning: the machine is still {busy:.0f} % busy; figures will be disturbed")
    return {
        "busy_pct_before": round(busy, 1),
        "quiet": quiet,
        "waited_s": round(time.monotonic() - started, 1),
    }


class CpuMeter:
    """CPU seconds used by each part of the system between ``start`` and ``stop``."""

    def __init__(self, roots: dict[str, int], embedded: bool) -> None:
        self.roots = roots
        self.embedded = embedded
        self.first: dict[str, float] = {}
        self.first_all: dict[int, tuple[str, float]] = {}

    @staticmethod
    def all_processes() -> dict[int, tuple[str, float]]:
        found: dict[int, tuple[str, float]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    comm = Path(f"/proc/{entry}/comm").read_text().strip()
                    found[int(entry)] = (comm, proc_cpu_seconds(int(entry)))
        return found

    def snapshot(self) -> dict[str, float]:
        snap: dict[str, float] = {}
        for group, root in self.roots.items():
            tree = process_tree(root)
            snap[group] = sum(proc_cpu_seconds(pid, "own") for pid in tree)
            snap[f"{group} subprocesses"] = sum(proc_cpu_seconds(pid, "children") for pid in tree)
        if not self.embedded:
            snap["postgres"] = sum(proc_cpu_seconds(pid) for pid in pids_named("postgres"))
            snap["redis"] = sum(proc_cpu_seconds(pid) for pid in pids_named("redis-server"))
        times = os.times()
        snap["bench client"] = times.user + times.system
        snap.update({f"_{k}": v for k, v in machine_cpu().items()})
        return snap

    def start(self) -> None:
        self.first_all = self.all_processes()
        self.first = self.snapshot()

    def stop(self, jobs: int) -> dict[str, Any]:
        last = self.snapshot()
        ours = {pid for root in self.roots.values() for pid in process_tree(root)}
        ours |= {os.getpid()}
        if not self.embedded:
            ours |= set(pids_named("postgres", "redis-server"))
        busiest = sorted(
            (
                (cpu - self.first_all.get(pid, (comm, 0.0))[1], comm, pid)
                for pid, (comm, cpu) in self.all_processes().items()
                if pid not in ours
            ),
            reverse=True,
        )[:3]
        delta = {k: last[k] - self.first.get(k, 0.0) for k in last}
        delta = {k: v for k, v in delta.items() if v > 0 or not k.endswith("subprocesses")}
        wall_cpu = delta.pop("_total")
        busy = delta.pop("_busy")
        irq, steal = delta.pop("_irq"), delta.pop("_steal")
        delta["other processes"] = max(0.0, busy - irq - steal - sum(delta.values()))
        delta["kernel irq"] = irq
        delta["steal"] = steal
        cores = os.cpu_count() or 1
        return {
            "machine_busy_pct": round(100 * busy / wall_cpu, 1) if wall_cpu else None,
            "cpu_ms_per_job": {k: round(1000 * v / max(jobs, 1), 2) for k, v in delta.items()},
            "cpu_ms_per_job_total": round(1000 * busy / max(jobs, 1), 2),
            "cores": cores,
            "busiest_other_processes": [
                f"{comm} ({pid}): {1000 * cpu:.0f} ms" for cpu, comm, pid in busiest if cpu > 0
            ],
        }


# --------------------------------------------------------------------------
# the service under test
# --------------------------------------------------------------------------
@dataclass
class Mode:
    name: str
    embedded: bool
    database_url: str = ""
    broker_url: str = ""
    pg_database: str = ""


class Services:
    """migrate, then API + worker + beat as separate process groups."""

    def __init__(
        self, mode: Mode, data_dir: Path, log_dir: Path, port: int, log_level: str | None
    ) -> None:
        self.mode = mode
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.port = port
        self.base = f"http://{HOST}:{port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[Any] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
        env.update(PRESSROOM_DATA_DIR=str(data_dir), PRESSROOM_PORT=str(port), PRESSROOM_HOST=HOST)
        # the limiter stays on (its cost is part of every request), with limits
        # that one benchmark client at full speed does not reach
        env.update(
            PRESSROOM_RATE_LIMIT="1000000 per minute",
            PRESSROOM_RATE_LIMIT_SUBMIT="1000000 per minute",
        )
        if log_level:
            env["PRESSROOM_LOG_LEVEL"] = log_level
        if not mode.embedded:
            env.update(
                PRESSROOM_DATABASE_URL=mode.database_url, PRESSROOM_BROKER_URL=mode.broker_url
            )
        self.env = env

    def migrate(self) -> None:
        run_checked(
            [str(PRESSROOM), "migrate"], env=self.env, timeout=120, what="pressroom migrate"
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        handle = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
        self._logs.append(handle)
        self.procs[name] = subprocess.Popen(
            argv,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO,
        )

    def start(self) -> None:
        self._spawn(
            "api",
            [
                str(PRESSROOM),
                "api",
                "--port",
                str(self.port),
                "--workers",
                str(API_WORKERS),
                "--threads",
                str(API_THREADS),
            ],
        )
        self._spawn("worker", [str(PRESSROOM), "worker", "--concurrency", str(WORKER_PROCESSES)])
        self._spawn("beat", [str(PRESSROOM), "beat"])

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise BenchError(
                    f"the {name} process exited with {proc.returncode}; "
                    f"log tail:\n{self.log_tail(name)}"
                )

    def log_tail(self, name: str, lines: int = 25) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_healthy(self, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                response = requests.get(f"{self.base}/api/health", timeout=5)
                last = response.json()
                if response.status_code == 200:
                    return dict(last)
            except (requests.RequestException, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise BenchError(f"/api/health did not answer 200 in {timeout:.0f} s; last: {last}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():  # stragglers of each group, then the leader
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for handle in self._logs:
            handle.close()
        self._logs.clear()


def prepare_backends(mode: Mode) -> None:
    if mode.embedded:
        return
    if shutil.which("psql") is None:
        raise BenchError(
            "psql is needed to create the benchmark database (apt-get install "
            "postgresql-client), or run with --embedded"
        )
    name = mode.pg_database
    run_checked([*PG_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], what="drop db")
    run_checked([*PG_ADMIN, f'CREATE DATABASE "{name}"'], what="create db")
    redis_command(f"SELECT {REDIS_DB}", "FLUSHDB")


PG_STATS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)


def pg_stats(mode: Mode) -> dict[str, int]:
    """Cumulative counters of the benchmark database (pg_stat_database)."""
    if mode.embedded:
        return {}
    query = (
        f"SELECT {', '.join(PG_STATS)} FROM pg_stat_database WHERE datname = '{mode.pg_database}'"
    )
    try:
        row = run_checked([*PG_ADMIN, query], timeout=30, what="pg_stat_database").strip()
        return dict(zip(PG_STATS, (int(v) for v in row.split("|")), strict=True))
    except (BenchError, ValueError):  # no row yet, or an unexpected answer
        return {}


def pg_stats_per_job(before: dict[str, int], after: dict[str, int], jobs: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / max(jobs, 1), 2) for k in before if k in after}


#: PostgreSQL backends publish their counters when idle for up to 10 s (PG 15)
PG_STATS_SETTLE_S = 11.0


def release_backends(mode: Mode) -> None:
    if mode.embedded:
        return
    with contextlib.suppress(BenchError, OSError):
        redis_command(f"SELECT {REDIS_DB}", "FLUSHDB")
    try:
        run_checked(
            [*PG_ADMIN, f'DROP DATABASE IF EXISTS "{mode.pg_database}" WITH (FORCE)'],
            what="drop db",
        )
    except BenchError as exc:
        log(f"warning: {exc}")


def redis_command(*commands: str) -> None:
    """Run inline commands on one connection (``SELECT 14`` then ``FLUSHDB``)."""
    with socket.create_connection((HOST, REDIS_PORT), timeout=5) as sock:
        for command in commands:
            sock.sendall(command.encode() + b"\r\n")
            reply = sock.recv(4096)
            if not reply.startswith(b"+"):
                raise BenchError(f"redis {command!r}: {reply[:200]!r}")


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
def build_small_pdf(path: Path) -> None:
    """A 3-page text PDF made by Ghostscript from PostScript."""
    program = (
        "1 1 3 { /p exch def /Helvetica findfont 11 scalefont setfont "
        "0 1 35 { /i exch def 72 740 i 18 mul sub moveto "
        "(Pressroom benchmark: the quick brown fox jumps over the lazy dog - page ) show "
        "p 4 string cvs show (, line ) show i 1 add 4 string cvs show } for showpage } for"
    )
    run_checked(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=pdfwrite",
            "-o",
            str(path),
            "-c",
            program,
        ],
        timeout=60,
        what="ghostscript",
    )


def build_big_pdf(path: Path, total_bytes: int) -> None:
    """A valid one-page PDF of about ``total_bytes``: an uncompressed RGB image of
    random (incompressible) pixels, drawn on the page."""
    width = 8000
    height = max(1, (total_bytes - 4096) // (3 * width))
    length = width * height * 3
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q\n"
    offsets: list[int] = []
    with path.open("wb") as out:
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

        def obj(body: bytes) -> None:
            offsets.append(out.tell())
            out.write(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")

        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>"
        )
        obj(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"endstream")
        offsets.append(out.tell())
        out.write(
            f"5 0 obj\n<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {length} >>\nstream\n".encode()
        )
        remaining = length
        while remaining > 0:
            chunk = min(remaining, 4 * MIB)
            out.write(os.urandom(chunk))
            remaining -= chunk
        out.write(b"\nendstream\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for offset in offsets:
            out.write(f"{offset:010d} 00000 n \n".encode())
        trailer = f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\n"
        out.write(f"{trailer}startxref\n{xref}\n%%EOF\n".encode())


def qpdf_pages(path: Path) -> int:
    return int(run_checked(["qpdf", "--show-npages", str(path)], timeout=120).strip())


# --------------------------------------------------------------------------
# 1. the engine alone
# --------------------------------------------------------------------------
def _cpu_seconds() -> float:
    """User + system CPU of this process and of the children it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def engine_alone(
    pdf: Path, runs: int, workdir: Path, level: str, *, parallel_too: bool = True
) -> dict[str, Any]:
    """The engine work of one job, called directly without the job layer: the
    API's inspection of the upload, then ``CompressionService.compress`` at
    ``level`` (what the worker's task calls); with ``parallel_too``, the
    same runs again two at a time."""
    sys.path.insert(0, str(REPO))
    from pressroom.engines import qpdf  # the service's own engine wrapper
    from pressroom.jobs.progress import NullProgress
    from pressroom.services.compression import CompressionOptions, CompressionService

    workdir.mkdir(parents=True, exist_ok=True)
    service = CompressionService(engine_timeout=120)
    options = CompressionOptions.from_request({"compressionLevel": level})

    def one(tag: str) -> tuple[float, float]:
        dest = workdir / f"engine-{tag}"
        dest.mkdir()
        t0 = time.perf_counter()
        pages = qpdf.inspect(pdf, timeout=60).pages
        t1 = time.perf_counter()
        service.compress(pdf, dest, options, NullProgress(), pages=pages)
        t2 = time.perf_counter()
        shutil.rmtree(dest)
        return t1 - t0, t2 - t1

    for i in range(3):  # warm the page cache and the loader
        one(f"warm{i}")
    inspect_s: list[float] = []
    optimize_s: list[float] = []
    cpu_before = _cpu_seconds()
    for i in range(runs):
        a, b = one(str(i))
        inspect_s.append(a)
        optimize_s.append(b)
    cpu_per_job = (_cpu_seconds() - cpu_before) / runs
    per_job = [a + b for a, b in zip(inspect_s, optimize_s, strict=True)]

    cores = os.cpu_count() or 1
    usable = min(cores, WORKER_PROCESSES)
    mean_job = statistics.fmean(per_job)
    # the ceiling: usable cores over the engine's time per job, by the clock
    # and by CPU-seconds (an engine whose children wait, or use two cores,
    # makes the two differ); the higher of the two is the stricter yardstick
    by_wall = usable / mean_job
    by_cpu = usable / cpu_per_job if cpu_per_job > 0 else by_wall
    out: dict[str, Any] = {
        "runs": runs,
        "inspect_ms_p50": ms(percentile(inspect_s, 50)),
        "optimize_ms_p50": ms(percentile(optimize_s, 50)),
        "job_ms_mean": ms(mean_job),
        "job_ms_p50": ms(percentile(per_job, 50)),
        "job_ms_p95": ms(percentile(per_job, 95)),
        "cores": cores,
        "usable_cores": usable,
        "cpu_ms_per_job": ms(cpu_per_job),
        "max_jobs_per_s_by_wall": round(by_wall, 2),
        "max_jobs_per_s_by_cpu": round(by_cpu, 2),
        "max_jobs_per_s": round(max(by_wall, by_cpu), 2),
    }
    if not parallel_too:
        return out

    # the same work two at a time (what two worker processes could do)
    parallel = min(WORKER_PROCESSES, os.cpu_count() or 1)
    counter = iter(range(runs))
    lock = threading.Lock()

    def drain(tid: int) -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            one(f"p{tid}-{i}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=drain, args=(t,)) for t in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    parallel_wall = time.perf_counter() - t0
    out["measured_parallel_jobs_per_s"] = round(runs / parallel_wall, 2)
    out["parallel"] = parallel
    return out


def steady_jobs_per_s(records: list[JobRecord], edge: int) -> float | None:
    """Completions per second between the ``edge``-th completion and the
    ``edge``-th from the end: the closed loop's steady state, without the
    start (the first jobs all begin at once) and the drain (the last job
    may run alone on one core), which the yardstick has neither of."""
    done = sorted(r.done for r in records if r.status == "completed")
    if len(done) < 2 * edge + 2:
        return None
    first, last = done[edge - 1], done[-edge]
    return (len(done) - 2 * edge + 1) / (last - first) if last > first else None


def alternating_rounds(
    base: str,
    work: Workload,
    pdf: Path,
    workdir: Path,
    args: argparse.Namespace,
    meter: CpuMeter,
) -> dict[str, Any]:
    """The engine alone and the service under load, in turn, ``args.rounds``
    times, ending with the engine: each loaded round is compared with the
    mean of the two engine measurements just before and after it. This VM's
    speed drifts by up to 15 % within minutes; short rounds bracketed this
    way put both sides of each ratio on nearly the same machine."""
    engines: list[dict[str, Any]] = []
    loads: list[dict[str, Any]] = []
    edge = WORKER_PROCESSES * 2
    for i in range(args.rounds + 1):
        engines.append(
            engine_alone(
                pdf, args.round_engine_runs, workdir / f"round-{i}", args.level, parallel_too=False
            )
        )
        if i == args.rounds:
            break
        meter.start()
        recs, _ = run_jobs(base, work, args.round_jobs, args.concurrency, args.round_jobs * 3.0)
        cpu = meter.stop(len(recs))
        steady = steady_jobs_per_s(recs, edge)
        loads.append(
            {
                "completed": sum(r.status == "completed" for r in recs),
                "jobs": len(recs),
                "steady_jobs_per_s": round(steady, 2) if steady else None,
                "engine_share_of_machine_pct": engine_share_of_machine(cpu),
                **worker_handoffs(job_lives(recs), WORKER_PROCESSES),
            }
        )
    for i, load in enumerate(loads):
        yardstick = statistics.fmean(
            (engines[i]["max_jobs_per_s"], engines[i + 1]["max_jobs_per_s"])
        )
        load["yardstick_jobs_per_s"] = round(yardstick, 2)
        if load["steady_jobs_per_s"]:
            load["pct_of_engine"] = round(100 * load["steady_jobs_per_s"] / yardstick, 1)
    shares = [load["pct_of_engine"] for load in loads if "pct_of_engine" in load]
    in_situ = [x for load in loads if (x := load["engine_share_of_machine_pct"]) is not None]
    return {
        "engine_share_of_machine_pct_mean": round(statistics.fmean(in_situ), 1)
        if in_situ
        else None,
        "rounds": args.rounds,
        "jobs_per_round": args.round_jobs,
        "engine_runs_per_round": args.round_engine_runs,
        "edge_completions_left_out": edge,
        "engine_max_jobs_per_s": [e["max_jobs_per_s"] for e in engines],
        "loads": loads,
        "pct_of_engine_mean": round(statistics.fmean(shares), 1) if shares else None,
        "pct_of_engine_min": min(shares) if shares else None,
        "pct_of_engine_max": max(shares) if shares else None,
    }


# --------------------------------------------------------------------------
# 2. jobs through the API
# --------------------------------------------------------------------------
@dataclass
class JobRecord:
    job_id: str = ""
    submit_start: float = 0.0
    accepted: float = 0.0
    done: float = 0.0
    polls: int = 0
    status: str = ""
    error: str | None = None
    view: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """What each benchmark job sends and how its client follows it."""

    pdf_bytes: bytes
    level: str
    #: "poll": GET the job view, first after ``poll[0]`` s, each wait 1.5 times
    #: the last, at most ``poll[1]`` s; "events": read its server-sent events
    follow: str
    poll: tuple[float, float]
    job_timeout: float


class ThinClient:
    """One keep-alive HTTP/1.1 connection, on the standard library alone.

    The jobs phases run their client on the same two cores as the service, so
    whatever CPU the client spends is taken from the service: requests (with
    urllib3 under it) cost about 1.5 ms of CPU a request here, this client a
    fifth of that. wrk plays the same part for the GET load. A connection the
    server closed is opened again once per request."""

    def __init__(self, base: str, timeout: float = 60) -> None:
        host, port = base.removeprefix("http://").split(":")
        self._address = (host, int(port))
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(*self._address, timeout=self._timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                reply = self._conn.getresponse()
                data = reply.read()
            except (http.client.HTTPException, ConnectionError) as exc:
                self.close()  # a keep-alive connection the server had closed
                if attempt == 2:
                    raise BenchError(f"{method} {path}: {exc!r}") from exc
                continue
            if reply.getheader("Connection", "").lower() == "close":
                self.close()
            return reply.status, data
        raise AssertionError("unreachable")

    def events(self, path: str, deadline: float) -> Iterator[dict[str, Any]]:
        """The job views of a server-sent events stream, on a connection of its own."""
        conn = http.client.HTTPConnection(
            *self._address, timeout=max(1.0, deadline - time.perf_counter())
        )
        try:
            conn.request("GET", path, headers={"Accept": "text/event-stream"})
            reply = conn.getresponse()
            if reply.status != 200:
                return
            while time.perf_counter() < deadline:
                line = reply.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    yield json.loads(line[len(b"data: ") :])
        finally:
            conn.close()


def multipart_frame(fields: dict[str, str], filename: str) -> tuple[bytes, bytes, str]:
    """What goes before and after a PDF sent as the part ``file`` of a
    multipart/form-data body with ``fields``, and the body's Content-Type."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
    )
    tail = f"\r\n--{boundary}--\r\n".encode()
    return b"".join(parts), tail, f"multipart/form-data; boundary={boundary}"


def submit_and_wait(client: ThinClient, work: Workload) -> JobRecord:
    """Submit one job, then follow it to a terminal state (a client that polls
    flat out would compete with the service for the same cores)."""
    head, tail, content_type = multipart_frame({"compressionLevel": work.level}, "bench.pdf")
    body = head + work.pdf_bytes + tail
    record = JobRecord(submit_start=time.perf_counter())
    status, data = client.request("POST", "/api/compress", body, {"Content-Type": content_type})
    record.accepted = time.perf_counter()
    if status != 202:
        record.status, record.error = "rejected", f"{status} {data[:300]!r}"
        record.done = record.accepted
        return record
    record.job_id = json.loads(data)["data"]["job_id"]
    path = f"/api/jobs/{record.job_id}"
    deadline = record.accepted + work.job_timeout
    views = client.events(f"{path}/events", deadline) if work.follow == "events" else None
    wait = work.poll[0]
    while time.perf_counter() < deadline:
        if views is not None:
            view = next(views, None)
            if view is None:
                break
        else:
            time.sleep(wait)
            wait = min(wait * 1.5, work.poll[1])
            status, data = client.request("GET", path)
            if status != 200:
                continue
            view = json.loads(data)["data"]
        record.polls += 1
        if view["status"] in ("completed", "failed", "cancelled"):
            record.done = time.perf_counter()
            record.status, record.view = view["status"], view
            if view.get("error"):
                record.error = f"{view['error'].get('code')}: {view['error'].get('message')}"
            return record
    record.done = time.perf_counter()
    record.status, record.error = "timeout", f"not terminal after {work.job_timeout:.0f} s"
    return record


def run_jobs(
    base: str, work: Workload, total: int, concurrency: int, phase_timeout: float
) -> tuple[list[JobRecord], float]:
    """``total`` jobs from ``concurrency`` closed-loop clients; returns records and wall time."""
    records: list[JobRecord] = []
    lock = threading.Lock()
    issued = 0
    stop_at = time.perf_counter() + phase_timeout

    def closed_loop() -> None:
        nonlocal issued
        client = ThinClient(base)
        try:
            while time.perf_counter() < stop_at:
                with lock:
                    if issued >= total:
                        return
                    issued += 1
                try:
                    record = submit_and_wait(client, work)
                except (BenchError, OSError, ValueError) as exc:
                    now = time.perf_counter()
                    record = JobRecord(
                        submit_start=now, accepted=now, done=now, status="error", error=repr(exc)
                    )
                with lock:
                    records.append(record)
        finally:
            client.close()

    t0 = time.perf_counter()
    threads = [
        threading.Thread(target=closed_loop, name=f"client-{i}", daemon=True)
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=phase_timeout + work.job_timeout + 60)
    return records, time.perf_counter() - t0


def summarize_jobs(
    records: list[JobRecord], wall: float, engine: dict[str, Any] | None, concurrency: int
) -> dict[str, Any]:
    ok = [r for r in records if r.status == "completed"]
    failures: dict[str, int] = {}
    for r in records:
        if r.status != "completed":
            key = f"{r.status}: {(r.error or '')[:120]}"
            failures[key] = failures.get(key, 0) + 1
    latency = [r.done - r.submit_start for r in ok]
    post = [r.accepted - r.submit_start for r in ok]
    server: list[float] = []
    queued: list[float] = []
    running: list[float] = []
    engine_s: list[float] = []
    overhead: list[float] = []
    completions: list[datetime] = []
    lives = job_lives(ok)
    for life in lives:
        r, created, started, finished = life.record, life.created, life.started, life.finished
        completions.append(finished)
        total = (finished - created).total_seconds()
        passes = (r.view.get("result") or {}).get("passes") or []
        eng = sum(float(p.get("seconds", 0)) for p in passes)
        server.append(total)
        queued.append((started - created).total_seconds())
        running.append((finished - started).total_seconds())
        engine_s.append(eng)
        overhead.append(total - eng)
    completions.sort()
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(completions)]
    # throughput between the first and the last completion seen by a client
    first = min((r.submit_start for r in records), default=0.0)
    last = max((r.done for r in ok), default=first)
    span = max(last - first, 1e-9)
    jobs_per_s = len(ok) / span if ok else 0.0
    out: dict[str, Any] = {
        "jobs": len(records),
        "completed": len(ok),
        "failures": failures,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "jobs_per_s": round(jobs_per_s, 2),
        "latency_ms_p50": ms(percentile(latency, 50)),
        "latency_ms_p95": ms(percentile(latency, 95)),
        "latency_ms_max": ms(max(latency, default=None) if latency else None),
        "submit_ms_p50": ms(percentile(post, 50)),
        "submit_ms_p95": ms(percentile(post, 95)),
        "server_ms_p50": ms(percentile(server, 50)),
        "server_ms_p95": ms(percentile(server, 95)),
        "queued_ms_p50": ms(percentile(queued, 50)),
        "queued_ms_p95": ms(percentile(queued, 95)),
        "running_ms_p50": ms(percentile(running, 50)),
        "running_ms_p95": ms(percentile(running, 95)),
        "engine_ms_p50": ms(percentile(engine_s, 50)),
        "engine_ms_p95": ms(percentile(engine_s, 95)),
        "overhead_ms_p50": ms(percentile(overhead, 50)),
        "overhead_ms_p95": ms(percentile(overhead, 95)),
        "run_overhead_ms_p50": ms(
            percentile([a - b for a, b in zip(running, engine_s, strict=True)], 50)
        ),
        "max_completion_gap_ms": ms(max(gaps) if gaps else None),
        "polls_per_job": round(statistics.fmean([r.polls for r in ok]), 1) if ok else None,
        **worker_handoffs(lives, WORKER_PROCESSES),
    }
    if engine:
        out["pct_of_engine_max"] = round(100 * jobs_per_s / engine["max_jobs_per_s"], 1)
        # what the engine alone did on the same cores, two at a time: below
        # the yardstick when two engines slow each other down on this VM
        out["pct_of_engine_measured"] = round(
            100 * jobs_per_s / engine["measured_parallel_jobs_per_s"], 1
        )
    return out


@dataclass
class JobLife:
    """A completed job's created, started and completed times (its view's)."""

    record: JobRecord
    created: datetime
    started: datetime
    finished: datetime


def job_lives(records: list[JobRecord]) -> list[JobLife]:
    lives = []
    for r in records:
        created, started, finished = (
            parse_ts(r.view.get(k)) for k in ("created_at", "started_at", "completed_at")
        )
        if r.status == "completed" and created and started and finished:
            lives.append(JobLife(r, created, started, finished))
    return lives


def engine_share_of_machine(cpu: dict[str, Any]) -> float | None:
    """The share of the machine's time spent in engine work during a phase:
    the CPU of the engines (the worker's and the API's subprocesses) over
    all the CPU used, times how busy the machine was. Unlike a rate, it
    hardly moves with this VM's speed: every process slows down together."""
    per_job = cpu["cpu_ms_per_job"]
    total, busy = cpu["cpu_ms_per_job_total"], cpu["machine_busy_pct"]
    if not total or busy is None:
        return None
    engines = per_job.get("worker subprocesses", 0.0) + per_job.get("api subprocesses", 0.0)
    return round(busy * engines / total, 1)


def worker_handoffs(lives: list[JobLife], slots: int) -> dict[str, Any]:
    """How long a worker slot stays empty while a job waits for one.

    From each job's created, started and finished times (the job view's):
    at each finish that leaves a job waiting (created, not yet started), the
    time until the next start is a hand-off, and over the whole phase the
    empty slot-time while a job waited is given as a share of ``slots``
    times the phase. Both leave out what happens before the first start."""
    events: list[tuple[datetime, int, int]] = []  # (time, d_running, d_waiting)
    for life in lives:
        events += [(life.created, 0, 1), (life.started, 1, -1), (life.finished, -1, 0)]
    events.sort(key=lambda e: (e[0], -e[1]))  # at equal times a start before a finish
    running = waiting = 0
    idle = 0.0
    handoffs: list[float] = []
    pending_finish: datetime | None = None
    first_start = last = None
    for at, d_running, d_waiting in events:
        if first_start is not None and last is not None:
            idle += min(slots - running, waiting) * max(0.0, (at - last).total_seconds())
        last = at
        running += d_running
        waiting += d_waiting
        if d_running == 1:
            first_start = first_start or at
            if pending_finish is not None:
                handoffs.append((at - pending_finish).total_seconds())
                pending_finish = None
        elif d_running == -1 and waiting > 0 and pending_finish is None:
            pending_finish = at
    span = (last - first_start).total_seconds() if first_start and last else 0.0
    return {
        "handoff_ms_p50": ms(percentile(handoffs, 50)),
        "handoff_ms_p95": ms(percentile(handoffs, 95)),
        "slot_idle_while_waiting_pct": round(100 * idle / (slots * span), 2) if span else None,
    }


# --------------------------------------------------------------------------
# 3. GET /api/jobs/{id} under load
# --------------------------------------------------------------------------
_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return round(float(match.group(1)) * _WRK_UNITS[match.group(2)], 3)


def get_load_wrk(url: str, connections: int, seconds: float) -> dict[str, Any]:
    threads = max(1, min(connections, os.cpu_count() or 1))
    out = run_checked(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "--timeout",
            "10s",
            url,
        ],
        timeout=seconds + 60,
        what="wrk",
    )
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if not (rps and total and "50" in dist and "99" in dist):
        raise BenchError(f"cannot read wrk output:\n{out}")
    return {
        "client": f"wrk -t{threads} -c{connections} -d{int(seconds)}s",
        "requests": int(total.group(1)),
        "requests_per_s": round(float(rps.group(1)), 1),
        "latency_ms_p50": _wrk_ms(dist["50"]),
        "latency_ms_p90": _wrk_ms(dist["90"]),
        "latency_ms_p99": _wrk_ms(dist["99"]),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "none",
    }


def get_load_python(url: str, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(connections)]
    bad = [0] * connections
    stop_at = time.perf_counter() + seconds

    def client(i: int) -> None:
        with requests.Session() as session:
            for _ in range(10_000_000):
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                try:
                    ok = session.get(url, timeout=10).status_code == 200
                except requests.RequestException:
                    ok = False
                latencies[i].append(time.perf_counter() - t0)
                bad[i] += 0 if ok else 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    wall = time.perf_counter() - t0
    flat = [x for per in latencies for x in per]
    return {
        "client": f"python requests, {connections} threads, {seconds:.0f} s",
        "requests": len(flat),
        "requests_per_s": round(len(flat) / wall, 1),
        "latency_ms_p50": ms(percentile(flat, 50)),
        "latency_ms_p90": ms(percentile(flat, 90)),
        "latency_ms_p99": ms(percentile(flat, 99)),
        "non_2xx": sum(bad),
        "socket_errors": "n/a",
    }


# --------------------------------------------------------------------------
# 4. a large upload
# --------------------------------------------------------------------------
def stream_upload(base: str, path: Path, timeout: float) -> tuple[int, dict[str, Any], float]:
    """POST the file as multipart/form-data, streamed from disk with a Content-Length."""
    head, tail, content_type = multipart_frame({"compressionLevel": "lossless"}, "big.pdf")
    length = len(head) + path.stat().st_size + len(tail)
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    t0 = time.perf_counter()
    try:
        conn.putrequest("POST", "/api/compress")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        conn.send(head)
        with path.open("rb") as src:
            while chunk := src.read(MIB):
                conn.send(chunk)
        conn.send(tail)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - t0
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"raw": body[:500].decode(errors="replace")}
        return response.status, payload, elapsed
    finally:
        conn.close()


def wait_terminal(base: str, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while time.monotonic() < deadline:
            reply = session.get(f"{base}/api/jobs/{job_id}", timeout=30)
            if reply.status_code == 200:
                view = dict(reply.json()["data"])
                if view["status"] in ("completed", "failed", "cancelled"):
                    return view
            time.sleep(0.5)
    return {"status": "timeout"}


def big_upload(
    services: Services, workdir: Path, size_mb: int, job_timeout: float
) -> dict[str, Any]:
    path = workdir / "big.pdf"
    log(f"building a {size_mb} MB PDF (random, incompressible image)")
    build_big_pdf(path, size_mb * MB)
    pages = qpdf_pages(path)
    size = path.stat().st_size

    if services.mode.embedded:
        broker_folder = services.data_dir / "broker"

        def broker() -> int:
            return int(dir_usage(broker_folder)["bytes"])

        broker_kind = "filesystem broker folder (bytes on disk)"
    else:
        broker = redis_info_memory
        broker_kind = "Redis used_memory"
    roots = {"api": services.procs["api"].pid, "worker": services.procs["worker"].pid}
    sampler = MemorySampler(roots, broker)
    sampler.start()
    time.sleep(0.3)
    try:
        status, payload, upload_s = stream_upload(services.base, path, timeout=job_timeout)
        view: dict[str, Any] = {}
        if status == 202:
            view = wait_terminal(services.base, payload["data"]["job_id"], job_timeout)
        time.sleep(0.3)
    finally:
        memory = sampler.stop()
        path.unlink(missing_ok=True)
    api = [p for p in memory["processes"] if p["group"] == "api"]
    worker = [p for p in memory["processes"] if p["group"] == "worker"]
    api_increase = max((p["peak_increase_mb"] or 0 for p in api), default=None)
    worker_increase = max((p["peak_increase_mb"] or 0 for p in worker), default=None)
    result = (view.get("result") or {}) if view else {}
    return {
        "file_bytes": size,
        "file_pages": pages,
        "http_status": status,
        "upload_s": round(upload_s, 2),
        "upload_mb_per_s": round(size / MB / upload_s, 1),
        "job_status": view.get("status") if view else f"rejected: {str(payload)[:300]}",
        "job_error": view.get("error") if view else None,
        "server_s": seconds_between(view.get("created_at"), view.get("completed_at")),
        "returned_original": result.get("returned_original"),
        "engine_s": sum(float(p.get("seconds", 0)) for p in result.get("passes") or []) or None,
        "api_peak_rss_increase_mb": api_increase,
        "worker_peak_rss_increase_mb": worker_increase,
        "broker": broker_kind,
        "broker_peak_increase_mb": memory["broker_peak_increase_mb"],
        "broker_after_increase_mb": round(
            (memory["broker_after_bytes"] - memory["broker_before_bytes"]) / MIB, 3
        ),
        "memory": memory,
    }


# --------------------------------------------------------------------------
# 5. disk after cleanup
# --------------------------------------------------------------------------
AFTER_RETENTION = """
import json
from dataclasses import asdict
from datetime import timedelta
from pressroom.db.models import utcnow
from pressroom.jobs.maintenance import cleanup_expired
from pressroom.runtime import get_runtime
rt = get_runtime()
later = utcnow() + timedelta(hours=rt.settings.result_retention_hours, minutes=1)
print(json.dumps(asdict(cleanup_expired(rt, now=later))))
"""


def disk_check(services: Services) -> dict[str, Any]:
    files_root = services.data_dir / "files"
    before = dir_usage(files_root)
    env = dict(services.env, PRESSROOM_RESULT_RETENTION_HOURS="0")
    report = run_checked(
        [str(PRESSROOM), "cleanup"], env=env, timeout=300, what="pressroom cleanup"
    )
    after_cli = dir_usage(files_root)
    out: dict[str, Any] = {
        "files_before": before["files"],
        "mb_before": round(before["bytes"] / MB, 2),
        "cleanup_retention0_report": json.loads(report.strip().splitlines()[-1]),
        "files_after_cleanup_retention0": after_cli["files"],
        "mb_after_cleanup_retention0": round(after_cli["bytes"] / MB, 2),
        "left_after_cleanup_retention0": after_cli["examples"],
    }
    if after_cli["files"]:
        # expires_at is fixed when a job finishes; the retention in force then
        # (24 h by default) is what counts. Ask the service's own cleanup what
        # it does once that retention has passed.
        later = run_checked(
            [str(PYTHON), "-c", AFTER_RETENTION],
            env=services.env,
            timeout=300,
            what="cleanup after retention",
        )
        after = dir_usage(files_root)
        out.update(
            cleanup_after_retention_report=json.loads(later.strip().splitlines()[-1]),
            files_after_retention=after["files"],
            mb_after_retention=round(after["bytes"] / MB, 2),
            left_after_retention=after["examples"],
        )
    tmp = dir_usage(services.data_dir / "tmp")
    out["scratch_files_left"] = tmp["files"]
    out["scratch_left_examples"] = tmp["examples"]
    if services.mode.embedded:
        broker = dir_usage(services.data_dir / "broker")
        out["broker_files_left"] = broker["files"]
    out["empty_at_end"] = (
        out.get("files_after_retention", after_cli["files"]) == 0 and tmp["files"] == 0
    )
    return out


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    return f"{value}{unit}"


CPU_NAMES = {
    "api": "API (gunicorn processes)",
    "api subprocesses": "API subprocesses (qpdf)",
    "worker": "worker (Celery processes)",
    "worker subprocesses": "worker subprocesses (qpdf)",
    "beat": "beat",
    "postgres": "PostgreSQL",
    "redis": "Redis",
    "bench client": "bench client",
    "other processes": "other processes (not ours)",
    "kernel irq": "kernel interrupts",
    "steal": "steal (hypervisor)",
}


def cpu_rows(prefix: str, cpu: dict[str, Any] | None) -> list[tuple[str, str]]:
    """CPU per job, one row per part of the system."""
    if not cpu:
        return []
    rows = [
        (
            f"{prefix}: CPU per job, all (machine busy)",
            f"{cpu['cpu_ms_per_job_total']:.1f} ms ({cpu['machine_busy_pct']} %)",
        )
    ]
    rows += [
        (f"{prefix}:   CPU {CPU_NAMES.get(k, k)}", f"{v:.1f} ms")
        for k, v in cpu["cpu_ms_per_job"].items()
    ]
    return rows


def pg_line(stats: dict[str, float]) -> str:
    names = {
        "xact_commit": "commits (pool pings included)",
        "xact_rollback": "rollbacks",
        "tup_fetched": "rows read",
        "tup_inserted": "inserted",
        "tup_updated": "updated",
        "tup_deleted": "deleted",
    }
    return ", ".join(f"{stats[k]:g} {label}" for k, label in names.items() if k in stats)


def pair(fig: dict[str, Any], a: str, b: str, unit: str = " ms") -> str:
    return f"{fmt(fig.get(a))} / {fmt(fig.get(b))}{unit}"


def table_rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, ours, aim, reference) rows."""
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, value: str, aim: str = "", ref: str = "") -> None:
        rows.append((label, value, aim, ref))

    eng = fig["engine"]
    row(
        "engine alone: inspect + compress per job, p50",
        fmt(eng["job_ms_p50"], " ms"),
        ref="Ghostscript alone ~110 ms",
    )
    row(
        "  of which qpdf inspect / CompressionService.compress, p50",
        pair(eng, "inspect_ms_p50", "optimize_ms_p50"),
    )
    if "cpu_ms_per_job" in eng:  # runs stored before CPU-seconds were counted lack it
        row(
            "engine alone: CPU per job (with its child processes)",
            fmt(eng["cpu_ms_per_job"], " ms"),
        )
        row(
            f"engine max jobs/s ({eng['usable_cores']} cores / wall, / CPU per job)",
            pair(eng, "max_jobs_per_s_by_wall", "max_jobs_per_s_by_cpu", ""),
        )
    row(
        "engine max jobs/s (the higher: the yardstick)",
        fmt(eng["max_jobs_per_s"]),
        ref="~18 (2 / 0.110 s)",
    )
    row(
        f"engine measured, {eng['parallel']} at a time",
        fmt(eng["measured_parallel_jobs_per_s"], " jobs/s"),
    )

    serial = fig.get("serial")
    if serial:
        row(
            "1 client: submit-to-completed p50 / p95",
            pair(serial, "latency_ms_p50", "latency_ms_p95"),
        )
        row(
            "1 client: POST /api/compress p50 / p95", pair(serial, "submit_ms_p50", "submit_ms_p95")
        )
        row(
            "1 client: server created->completed p50 / p95",
            pair(serial, "server_ms_p50", "server_ms_p95"),
        )
        row(
            "1 client: engine (passes[].seconds) p50 / p95",
            pair(serial, "engine_ms_p50", "engine_ms_p95"),
        )
        row(
            "1 client: server overhead (server - engine) p50 / p95",
            pair(serial, "overhead_ms_p50", "overhead_ms_p95"),
            AIMS["overhead"],
            REFERENCE["overhead"],
        )
        if serial.get("server_ms_p50") is not None:
            # passes[].seconds leave out the quality gate; the engine measured
            # alone includes it, so this is the overhead at every level
            row(
                "1 client: server p50 - engine alone p50",
                fmt(round(serial["server_ms_p50"] - eng["job_ms_p50"], 2), " ms"),
            )
        row(
            "1 client: queued (created->started) p50 / p95",
            pair(serial, "queued_ms_p50", "queued_ms_p95"),
        )
        for label, value in cpu_rows("1 client", serial.get("cpu")):
            row(label, value)
        if serial.get("postgres_per_job"):
            row("1 client: PostgreSQL per job", pg_line(serial["postgres_per_job"]))

    load = fig.get("load")
    if load:
        c = f"{load['concurrency']} clients"
        row(f"{c}, {load['jobs']} jobs: completed", f"{load['completed']}/{load['jobs']}")
        row(f"{c}: throughput", fmt(load["jobs_per_s"], " jobs/s"), "", REFERENCE["jobs_per_s"])
        row(
            f"{c}: % of engine max",
            fmt(load.get("pct_of_engine_max"), " %"),
            AIMS["pct_of_engine"],
            REFERENCE["pct_of_engine"],
        )
        after = fig.get("engine_after")
        if after and load.get("pct_of_engine_max_after") is not None:
            row(
                f"{c}: engine max measured after the load (yardstick)",
                fmt(after["max_jobs_per_s"], " jobs/s"),
            )
            row(f"{c}: % of engine max after the load", fmt(load["pct_of_engine_max_after"], " %"))
            row(
                f"{c}: % of the mean of the two engine maxima",
                fmt(load["pct_of_engine_max_mean"], " %"),
                AIMS["pct_of_engine"],
            )
        if load.get("pct_of_engine_measured") is not None:
            row(
                f"{c}: % of the engine measured 2 at a time",
                fmt(load["pct_of_engine_measured"], " %"),
            )
        if load.get("steady_jobs_per_s") is not None:
            row(
                f"{c}: steady throughput (first and last 4 completions left out)",
                fmt(load["steady_jobs_per_s"], " jobs/s"),
            )
        row(f"{c}: submit-to-completed p50 / p95", pair(load, "latency_ms_p50", "latency_ms_p95"))
        row(f"{c}: POST /api/compress p50 / p95", pair(load, "submit_ms_p50", "submit_ms_p95"))
        row(
            f"{c}: server created->completed p50 / p95",
            pair(load, "server_ms_p50", "server_ms_p95"),
        )
        row(
            f"{c}:   of which queued (created->started)",
            pair(load, "queued_ms_p50", "queued_ms_p95"),
        )
        row(f"{c}:   of which started->completed", pair(load, "running_ms_p50", "running_ms_p95"))
        row(
            f"{c}: engine (passes[].seconds) p50 / p95",
            pair(load, "engine_ms_p50", "engine_ms_p95"),
        )
        row(
            f"{c}: overhead (server - engine) p50 / p95",
            pair(load, "overhead_ms_p50", "overhead_ms_p95"),
        )
        row(
            "longest gap between two completions",
            fmt(load["max_completion_gap_ms"], " ms"),
            AIMS["stall"],
            REFERENCE["stall"],
        )
        if load.get("handoff_ms_p50") is not None:
            row(
                f"{c}: worker slot empty between two jobs, p50 / p95 (share of slot time)",
                pair(load, "handoff_ms_p50", "handoff_ms_p95")
                + f" ({fmt(load.get('slot_idle_while_waiting_pct'), ' %')})",
            )
        row(f"{c}: polls (or events) per job", fmt(load["polls_per_job"]))
        for label, value in cpu_rows(c, load.get("cpu")):
            row(label, value)
        if load.get("postgres_per_job"):
            row(f"{c}: PostgreSQL per job", pg_line(load["postgres_per_job"]))

    rounds = fig.get("rounds")
    if rounds:
        r = f"{rounds['rounds']} rounds of {rounds['jobs_per_round']} jobs"
        row(
            f"{r}: engine max before/between/after, jobs/s",
            ", ".join(fmt(x) for x in rounds["engine_max_jobs_per_s"]),
        )
        row(
            f"{r}: steady jobs/s per round",
            ", ".join(fmt(x.get("steady_jobs_per_s")) for x in rounds["loads"]),
        )
        row(
            f"{r}: % of the engine (mean of the two beside it), per round",
            ", ".join(fmt(x.get("pct_of_engine"), " %") for x in rounds["loads"]),
        )
        row(
            f"{r}: % of the engine, mean (min-max)",
            f"{fmt(rounds['pct_of_engine_mean'], ' %')} "
            f"({fmt(rounds['pct_of_engine_min'])}-{fmt(rounds['pct_of_engine_max'])})",
            AIMS["pct_of_engine"],
        )
        if rounds["loads"] and "handoff_ms_p50" in rounds["loads"][0]:
            row(
                f"{r}: worker slot empty between two jobs, p50 per round",
                ", ".join(fmt(x.get("handoff_ms_p50"), " ms") for x in rounds["loads"]),
            )
            row(
                f"{r}: engine CPU share of the machine's time, per round (mean)",
                ", ".join(fmt(x.get("engine_share_of_machine_pct"), " %") for x in rounds["loads"])
                + f" ({fmt(rounds.get('engine_share_of_machine_pct_mean'), ' %')})",
            )
    get = fig.get("get")
    if get:
        row(
            f"GET /api/jobs/{{id}} ({get['client']}, median of {len(get.get('rounds', [0]))})",
            fmt(get["requests_per_s"], " req/s"),
            AIMS["get_rps"],
            REFERENCE["get_rps"],
        )
        row(
            "GET /api/jobs/{id} latency p50 / p99",
            pair(get, "latency_ms_p50", "latency_ms_p99"),
            AIMS["get_p99"] + " (p99)",
            REFERENCE["get_p99"] + " (p99)",
        )
        row("GET /api/jobs/{id} non-2xx answers", fmt(get["non_2xx"]))
        if len(get.get("rounds", [])) > 1:
            row(
                "GET /api/jobs/{id} every round: req/s @ p99 ms",
                ", ".join(f"{fmt(rps)} @ {fmt(p99)}" for rps, p99 in get["rounds"]),
            )

    big = fig.get("upload")
    if big:
        row(
            f"upload {big['file_bytes'] / MB:.0f} MB: HTTP status, time",
            f"{big['http_status']}, {fmt(big['upload_s'], ' s')} "
            f"({fmt(big['upload_mb_per_s'], ' MB/s')})",
        )
        row(
            "upload: job outcome, server time, engine time",
            f"{big['job_status']}, {fmt(big['server_s'], ' s')}, {fmt(big['engine_s'], ' s')}",
        )
        row(
            "upload: API process peak RSS increase",
            fmt(big["api_peak_rss_increase_mb"], " MiB"),
            AIMS["upload_api"],
            REFERENCE["upload_api"],
        )
        row(
            "upload: broker peak increase",
            f"{fmt(big['broker_peak_increase_mb'], ' MiB')} ({big['broker']})",
            AIMS["upload_broker"],
            REFERENCE["upload_broker"],
        )
        row(
            "upload: worker process peak RSS increase",
            fmt(big["worker_peak_rss_increase_mb"], " MiB"),
        )

    disk = fig.get("disk")
    if disk:
        row(
            "storage files/ at the end of the run",
            f"{disk['files_before']} files, {fmt(disk['mb_before'], ' MB')}",
        )
        row(
            "after `pressroom cleanup` with RESULT_RETENTION_HOURS=0",
            f"{disk['files_after_cleanup_retention0']} files, "
            f"{fmt(disk['mb_after_cleanup_retention0'], ' MB')}",
        )
        if "files_after_retention" in disk:
            row(
                "after the retention in force has passed (cleanup at now + 24 h)",
                f"{disk['files_after_retention']} files, {fmt(disk['mb_after_retention'], ' MB')}",
                AIMS["disk"],
                REFERENCE["disk"],
            )
        row("scratch files left in data/tmp", fmt(disk["scratch_files_left"]))
    return rows


def print_table(fig: dict[str, Any]) -> None:
    rows = [("figure", "ours", "aim", "PDF Smaller (ref)"), *table_rows(fig)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    print()
    print(f"Pressroom pipeline benchmark — {fig['mode']} — {fig['started_at']}")
    print(line)
    for n, row in enumerate(rows):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print(line)
    print(line)
    for phase in ("serial", "load"):
        cpu = (fig.get(phase) or {}).get("cpu")
        other = cpu["cpu_ms_per_job"].get("other processes", 0) if cpu else 0
        if cpu and other > 0.1 * cpu["cpu_ms_per_job_total"]:
            print(
                f"WARNING: in the {phase} phase other processes used "
                f"{other:.0f} of {cpu['cpu_ms_per_job_total']:.0f} "
                "CPU ms per job: the machine was not quiet."
            )
    failures = (fig.get("load") or {}).get("failures") or (fig.get("serial") or {}).get("failures")
    if failures:
        print(f"FAILED JOBS: {failures}")


def markdown(out: Path) -> str:
    """The runs stored in ``out`` side by side, as a Markdown table."""
    runs = [r for r in json.loads(out.read_text())["runs"].values() if "engine" in r]
    labels: list[str] = []
    values: dict[str, dict[int, str]] = {}
    notes: dict[str, tuple[str, str]] = {}
    for n, run in enumerate(runs):
        for label, value, aim, ref in table_rows(run):
            if label not in values:
                labels.append(label)
                values[label] = {}
            values[label][n] = value
            if aim or ref:
                notes[label] = (aim, ref)
    head = ["figure", *(r["mode"] for r in runs), "aim (issue 2)", "PDF Smaller (issue 2)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in labels:
        cells = [values[label].get(n, "-") for n in range(len(runs))]
        aim, ref = notes.get(label, ("", ""))
        text = label.replace("|", "\\|").strip()
        lines.append("| " + " | ".join([text, *cells, aim, ref]) + " |")
    return "\n".join(lines)


def write_json(fig: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    existing: dict[str, Any] = {}
    if out.exists():
        with contextlib.suppress(ValueError, OSError):
            existing = json.loads(out.read_text())
    runs: dict[str, Any] = existing.get("runs") or {}
    if not isinstance(runs, dict):
        runs = {}
    runs[fig["mode"]] = fig
    out.write_text(json.dumps({"runs": runs}, indent=2, default=str) + "\n")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--embedded",
        action="store_true",
        help="SQLite + filesystem broker instead of PostgreSQL + Redis",
    )
    p.add_argument("-n", "--jobs", type=int, default=200, help="jobs in the loaded phase")
    p.add_argument("-c", "--concurrency", type=int, default=8, help="clients in the loaded phase")
    p.add_argument("--serial-jobs", type=int, default=30, help="jobs sent by one client first")
    p.add_argument("--warmup-jobs", type=int, default=6, help="unmeasured jobs at the start")
    p.add_argument("--engine-runs", type=int, default=50, help="engine-alone repetitions")
    p.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="alternating rounds of engine alone and service load (0: none)",
    )
    p.add_argument("--round-jobs", type=int, default=60, help="jobs in each loaded round")
    p.add_argument(
        "--round-engine-runs", type=int, default=12, help="engine-alone runs in each round"
    )
    p.add_argument(
        "--level",
        default="lossless",
        choices=["lossless", "low", "medium", "high", "maximum"],
        help="compressionLevel of the jobs (the 200 MB upload is always lossless)",
    )
    p.add_argument("--pdf", type=Path, help="PDF to submit (default: a 3-page Ghostscript PDF)")
    p.add_argument(
        "--follow",
        default="poll",
        choices=["poll", "events"],
        help="follow each job by polling its view or by its server-sent events",
    )
    p.add_argument("--poll", type=float, default=0.02, help="first poll of a job after (s)")
    p.add_argument("--poll-max", type=float, default=0.1, help="longest wait between polls (s)")
    p.add_argument("--job-timeout", type=float, default=120, help="give up on a job after")
    p.add_argument("--get-seconds", type=float, default=5, help="GET load duration")
    p.add_argument("--get-rounds", type=int, default=3, help="GET load runs (medians are reported)")
    p.add_argument("--get-connections", type=int, default=8, help="GET load connections")
    p.add_argument(
        "--get-client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="GET load generator (auto: wrk when installed)",
    )
    p.add_argument("--upload-mb", type=int, default=200, help="size of the large upload (0: skip)")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=300,
        help="wait at most this long (s) for the machine to be idle before starting",
    )
    p.add_argument("--quiet-pct", type=float, default=15, help="idle means busy below this %%")
    p.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    p.add_argument(
        "--pg-database", default="pressroom_bench", help="database created and dropped by the run"
    )
    p.add_argument("--log-level", default=None, help="PRESSROOM_LOG_LEVEL of the services")
    p.add_argument("--keep-data", action="store_true", help="keep the temporary data folder")
    p.add_argument("--out", type=Path, default=OUT_DIR / "pipeline.json", help="JSON figures")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print the runs stored in --out as a Markdown table, and exit",
    )
    args = p.parse_args(argv)
    if args.rounds < 0:
        p.error("--rounds must be 0 or more")
    for name in (
        "jobs",
        "concurrency",
        "serial_jobs",
        "engine_runs",
        "get_connections",
        "round_jobs",
        "round_engine_runs",
    ):
        if not 0 < getattr(args, name) <= 100_000:
            p.error(f"--{name.replace('_', '-')} must be between 1 and 100000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(markdown(args.out))
        return 0
    if not PRESSROOM.exists():
        raise SystemExit(f"{PRESSROOM} not found: run `make setup` first")
    for tool in ("gs", "qpdf"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    if args.embedded:
        mode = Mode("embedded (SQLite + filesystem broker)", True)
    else:
        mode = Mode(
            "PostgreSQL + Redis",
            False,
            database_url=f"postgresql+psycopg://postgres@{HOST}:5432/{args.pg_database}",
            broker_url=f"redis://{HOST}:6379/{REDIS_DB}",
            pg_database=args.pg_database,
        )
    workdir = Path(tempfile.mkdtemp(prefix="pressroom-bench-"))
    data_dir = workdir / "data"
    data_dir.mkdir()
    log_dir = OUT_DIR / "logs" / ("embedded" if args.embedded else "postgres-redis")
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    port = args.port or free_port()
    services = Services(mode, data_dir, log_dir, port, args.log_level)

    fig: dict[str, Any] = {
        "mode": ", ".join(
            [
                mode.name,
                *([args.level] if args.level != "lossless" else []),
                *([args.pdf.name] if args.pdf else []),
                *(["followed by events"] if args.follow == "events" else []),
            ]
        ),
        "level": args.level,
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "settings": {
            "jobs": args.jobs,
            "concurrency": args.concurrency,
            "serial_jobs": args.serial_jobs,
            "follow": args.follow,
            "poll_s": [args.poll, args.poll_max],
            "api": f"gunicorn {API_WORKERS} workers x {API_THREADS} threads",
            "worker_processes": WORKER_PROCESSES,
            "database": mode.database_url or "sqlite",
            "broker": mode.broker_url or "filesystem://",
        },
        "machine": {
            "cores": os.cpu_count(),
            "qpdf": tool_version(["qpdf", "--version"]),
            "ghostscript": tool_version(["gs", "--version"]),
            "commit": tool_version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
            "pressroom_uncommitted_changes": bool(
                subprocess.run(
                    ["git", "-C", str(REPO), "status", "--porcelain", "--", "pressroom"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                ).stdout.strip()
            ),
        },
    }
    status = 1
    try:
        pdf = args.pdf or workdir / "small.pdf"
        if args.pdf is None:
            build_small_pdf(pdf)
        fig["input"] = {
            "path": str(args.pdf or "3-page Ghostscript PDF"),
            "bytes": pdf.stat().st_size,
            "pages": qpdf_pages(pdf),
        }
        pdf_bytes = pdf.read_bytes()

        fig["machine"]["before_start"] = wait_for_quiet(args.quiet_pct, args.wait_quiet)
        log(f"engine alone: {args.engine_runs} runs of qpdf inspect + compress ({args.level})")
        fig["engine"] = engine_alone(pdf, args.engine_runs, workdir / "engine", args.level)
        log(
            f"  {fig['engine']['job_ms_p50']} ms per job, "
            f"max {fig['engine']['max_jobs_per_s']} jobs/s"
        )

        log(f"starting the service ({mode.name}) on {services.base}, data in {data_dir}")
        prepare_backends(mode)
        services.migrate()
        services.start()
        health = services.wait_healthy()
        fig["health_checks"] = sorted(health.get("checks", {}))
        base = services.base
        work = Workload(
            pdf_bytes, args.level, args.follow, (args.poll, args.poll_max), args.job_timeout
        )

        if args.warmup_jobs:
            log(f"warm-up: {args.warmup_jobs} jobs")
            run_jobs(base, work, args.warmup_jobs, 2, 120)

        roots = {name: proc.pid for name, proc in services.procs.items()}
        meter = CpuMeter(roots, mode.embedded)

        log(f"one client: {args.serial_jobs} jobs")
        if not mode.embedded:  # let the warm-up's counters reach pg_stat_database
            time.sleep(PG_STATS_SETTLE_S)
        stats = pg_stats(mode)
        meter.start()
        recs, wall = run_jobs(base, work, args.serial_jobs, 1, max(120.0, args.serial_jobs * 5.0))
        fig["serial"] = summarize_jobs(recs, wall, fig["engine"], 1)
        fig["serial"]["cpu"] = meter.stop(len(recs))
        if stats:
            time.sleep(PG_STATS_SETTLE_S)
            later = pg_stats(mode)
            fig["serial"]["postgres_per_job"] = pg_stats_per_job(stats, later, len(recs))
            stats = later

        log(f"{args.concurrency} clients: {args.jobs} jobs")
        meter.start()
        recs, wall = run_jobs(base, work, args.jobs, args.concurrency, max(300.0, args.jobs * 3.0))
        fig["load"] = summarize_jobs(recs, wall, fig["engine"], args.concurrency)
        fig["load"]["cpu"] = meter.stop(len(recs))
        if stats:
            time.sleep(PG_STATS_SETTLE_S)
            fig["load"]["postgres_per_job"] = pg_stats_per_job(stats, pg_stats(mode), len(recs))
        log(f"  {fig['load']['jobs_per_s']} jobs/s, {fig['load']['completed']} completed")
        services.check_alive()
        # this VM's speed drifts by several per cent within minutes: the engine
        # measured again right after the load brackets the loaded phase
        log("engine alone again, after the loaded phase")
        fig["engine_after"] = engine_alone(
            pdf, args.engine_runs, workdir / "engine-after", args.level
        )
        yardsticks = [fig["engine"]["max_jobs_per_s"], fig["engine_after"]["max_jobs_per_s"]]
        fig["load"]["pct_of_engine_max_after"] = round(
            100 * fig["load"]["jobs_per_s"] / yardsticks[1], 1
        )
        fig["load"]["pct_of_engine_max_mean"] = round(
            100 * fig["load"]["jobs_per_s"] / statistics.fmean(yardsticks), 1
        )
        steady = steady_jobs_per_s(recs, WORKER_PROCESSES * 2)
        fig["load"]["steady_jobs_per_s"] = round(steady, 2) if steady else None
        if args.rounds:
            log(
                f"alternating: {args.rounds} x ({args.round_engine_runs} engine runs, "
                f"{args.round_jobs} jobs), then the engine"
            )
            fig["rounds"] = alternating_rounds(base, work, pdf, workdir / "rounds", args, meter)
            shares = [x.get("pct_of_engine") for x in fig["rounds"]["loads"]]
            log(f"  % of the engine, per round: {shares}")
            services.check_alive()

        target = next((r.job_id for r in reversed(recs) if r.status == "completed"), None)
        if target:
            url = f"{base}/api/jobs/{target}"
            use_wrk = args.get_client == "wrk" or (
                args.get_client == "auto" and shutil.which("wrk") is not None
            )
            log(
                f"GET load on one completed job ({'wrk' if use_wrk else 'python'}, "
                f"{args.get_rounds} x {args.get_seconds:.0f} s)"
            )
            loader = get_load_wrk if use_wrk else get_load_python
            # this VM's neighbours make one short run swing by 2x: each figure
            # is the median over the rounds, and every round is kept beside it
            rounds = [
                loader(url, args.get_connections, args.get_seconds) for _ in range(args.get_rounds)
            ]
            fig["get"] = dict(rounds[0])
            for key in ("requests_per_s", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99"):
                fig["get"][key] = statistics.median(r[key] for r in rounds)
            fig["get"]["non_2xx"] = sum(r["non_2xx"] for r in rounds)
            fig["get"]["rounds"] = [[r["requests_per_s"], r["latency_ms_p99"]] for r in rounds]

        if args.upload_mb:
            fig["upload"] = big_upload(
                services, workdir, args.upload_mb, max(600.0, args.job_timeout)
            )
            services.check_alive()

        log("disk: storage before and after cleanup")
        fig["disk"] = disk_check(services)
        fig["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        status = 0
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    except (BenchError, requests.RequestException, OSError) as exc:
        log(f"benchmark failed: {exc}")
        fig["error"] = str(exc)
    finally:
        # a second Ctrl-C or SIGTERM must not cut the clean-up short (it is bounded)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("stopping the service")
        services.stop()
        release_backends(mode)
        if args.keep_data:
            log(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if "engine" in fig:
        print_table(fig)
    if status != 0:  # keep a complete run of this mode; file the partial one apart
        fig["mode"] += " (incomplete)"
    write_json(fig, args.out)
    log(f"figures written to {args.out}; service logs in {log_dir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
