#!/usr/bin/env python3
"""Soak: many mixed jobs from concurrent clients while the parts around the
service fail, then count what became of every job.

It starts, in a temporary folder, a private PostgreSQL and a private Redis
(tests/support/servers.py; the machine's shared servers are never touched),
runs ``pressroom migrate``, the API (``pressroom api``, gunicorn), two workers
(``pressroom worker --concurrency 1``) and one ``pressroom beat``, all with
short retry and reaper timings. The storage root is a small tmpfs when this
runs as root (so that "storage full" is a real full filesystem), else a plain
folder (and that fault is skipped, which the report says).

Clients (threads, each with its own HTTP session) submit ``--jobs`` jobs. The
mix comes from ``GET /api/extended-features/capabilities``: every declared
operation that takes a PDF file (compress at each level, bulk compress, and
whatever other operations the server declares) and JSON text operations;
a share of bad files (hostile and broken PDFs, tests/support/mutants.py) and
a share of cancels. While they run, faults are injected at fixed points of
the submission count:

- a worker's pool process killed mid-job (SIGKILL), twice;
- a whole worker killed (SIGKILL to its process group), restarted 3 s later;
- Redis restarted (no persistence: queued messages are lost);
- the broker down at submission (Redis stopped for 6 s);
- PostgreSQL restarted (fast shutdown), and PostgreSQL killed (SIGKILL);
- storage full (the tmpfs filled to the last byte for 10 s).

At the end it waits for every accepted job to end, downloads every result,
and prints: submitted, accepted, refused (by code), completed, failed (by
code), cancelled, lost (accepted, then unknown), stuck (accepted, never
terminal), failed without a code, duplicated results (a job completed twice
in the workers' logs, or two result files on disk), corrupt downloads, and
5xx answers without the error envelope. Figures go to bench/out/soak.json.

    sudo .venv/bin/python bench/soak.py --jobs 1000 --clients 8
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import mutants, pdfs  # noqa: E402
from tests.support.fuzzing import envelope_code, form_for  # noqa: E402
from tests.support.servers import PrivateServers, free_port  # noqa: E402

PRESSROOM = REPO / ".venv" / "bin" / "pressroom"
OUT_DIR = REPO / "bench" / "out"
TERMINAL = {"completed", "failed", "cancelled"}

#: short timings, so retries and the reaper act within the run
TIMINGS = {
    "PRESSROOM_RETRY_BACKOFF_SECONDS": "1",
    "PRESSROOM_REAPER_INTERVAL_SECONDS": "3",
    "PRESSROOM_REAPER_GRACE_SECONDS": "5",
    "PRESSROOM_PENDING_TIMEOUT_SECONDS": "60",
    "PRESSROOM_TIME_LIMIT_PDF": "90",
    "PRESSROOM_TIME_LIMIT_OCR": "180",
    "PRESSROOM_TIME_LIMIT_AI": "90",
    "PRESSROOM_ENGINE_TIMEOUT_SECONDS": "60",
    "PRESSROOM_HEARTBEAT_INTERVAL_SECONDS": "2",
    "PRESSROOM_PROGRESS_INTERVAL_SECONDS": "0.5",
    "PRESSROOM_MAX_ATTEMPTS": "3",
    "PRESSROOM_DATABASE_PATIENCE_SECONDS": "30",
    "PRESSROOM_MAX_UPLOAD_MB": "20",
    "PRESSROOM_LOG_LEVEL": "INFO",
}

#: compression levels and their share of the compress jobs
#: (the levels with a quality gate cost 4-20 s a job on a busy 2-core machine,
#: lossless 0.2 s: the mix keeps 1,000 jobs within about 15 minutes)
LEVEL_WEIGHTS = {"lossless": 78, "low": 10, "medium": 7, "high": 4, "maximum": 1}
#: bad files sent, from tests/support/mutants.py (cheap ones: the fuzz run has the rest)
BAD_FILES = [
    "truncated_50pct",
    "byte_flips_1",
    "startxref_wrong",
    "xref_claims_10m_objects",
    "nested_arrays_20000",
    "page_tree_loop",
    "jpeg_declares_65500x65500",
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------
# the service's processes
# --------------------------------------------------------------------------
class Proc:
    """One service process, started in its own session so that it (and its
    children) can be signalled as a group, by its own process id."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(FileNotFoundError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.pid:
                    found.append(int(stat.parent.name))
        return found

    def kill_group(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class Service:
    root: Path
    servers: PrivateServers
    storage: Path
    tmpfs: bool
    env: dict[str, str]
    base: str
    api: Proc
    workers: list[Proc]
    beat: Proc

    def stop(self) -> None:
        for proc in [self.api, *self.workers, self.beat]:
            with contextlib.suppress(Exception):
                proc.stop()
        with contextlib.suppress(Exception):
            self.servers.stop()
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.storage)], check=False, timeout=30)


def start_service(root: Path, storage_mb: int) -> Service:
    logs = root / "logs"
    logs.mkdir(parents=True)
    servers = PrivateServers(root / "servers").start()
    storage = root / "storage"
    storage.mkdir()
    tmpfs = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={storage_mb}m", "tmpfs", str(storage)],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
    env.update(TIMINGS)
    env.update(
        PRESSROOM_DATA_DIR=str(root / "data"),
        PRESSROOM_STORAGE_ROOT=str(storage),
        PRESSROOM_DATABASE_URL=servers.postgres.url,
        PRESSROOM_BROKER_URL=servers.redis.url,
        PRESSROOM_HOST="127.0.0.1",
        PRESSROOM_PORT=str(port),
        PYTHONPATH=str(REPO),
    )
    subprocess.run([str(PRESSROOM), "migrate"], env=env, check=True, timeout=120)
    api = Proc("api", [str(PRESSROOM), "api", "--workers", "2", "--threads", "8"], env, logs)
    workers = [
        Proc(f"worker{n}", [str(PRESSROOM), "worker", "--concurrency", "1"], env, logs)
        for n in (1, 2)
    ]
    beat = Proc("beat", [str(PRESSROOM), "beat"], env, logs)
    for proc in [api, *workers, beat]:
        proc.start()
    service = Service(
        root, servers, storage, tmpfs, env, f"http://127.0.0.1:{port}", api, workers, beat
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{service.base}/api/health", timeout=5).status_code == 200:
                return service
        time.sleep(0.5)
    service.stop()
    raise RuntimeError(f"the service did not become healthy; see {logs}")


# --------------------------------------------------------------------------
# what the clients send
# --------------------------------------------------------------------------
@dataclass
class Spec:
    kind: str  # operation name, or "bad:<mutant>"
    op: dict[str, Any]
    files: list[tuple[str, bytes]]
    form: dict[str, str]
    cancel: bool = False


def make_inputs(folder: Path, corpus: Path | None) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "text-1p": pdfs.text_pdf(folder / "t1.pdf", pages=1),
        "text-3p": pdfs.text_pdf(folder / "t3.pdf", pages=3),
        "uncompressed-4p": pdfs.uncompressed_pdf(folder / "u4.pdf", pages=4),
        "photo": pdfs.photo_pdf(folder / "photo.pdf", width=600, height=400, dpi=150),
        "type1": pdfs.type1_pdf(folder / "type1.pdf", pages=1),
    }
    inputs = {name: path.read_bytes() for name, path in made.items()}
    if corpus is not None:
        for rel in ("text/octave-refcard-a4.pdf", "scan/r-exts-p024-025.pdf"):
            if (corpus / rel).exists():
                inputs["corpus:" + rel] = (corpus / rel).read_bytes()
    return inputs


def plan_jobs(
    count: int,
    operations: list[dict[str, Any]],
    inputs: dict[str, bytes],
    bad: dict[str, bytes],
    rng: random.Random,
    *,
    bad_share: float,
    cancel_share: float,
) -> list[Spec]:
    """The jobs to send, in order: a fixed random mix of every declared operation."""
    by_name = {op["name"]: op for op in operations}
    compress = by_name.get("compress")
    others = [op for op in operations if op["name"] not in {"compress"}]
    levels = (compress or {}).get("levels") or list(LEVEL_WEIGHTS)
    names = list(inputs)
    light = [n for n in names if not n.startswith("corpus:")]
    specs: list[Spec] = []
    for _ in range(count):
        roll = rng.random()
        name = rng.choice(light)
        if roll < bad_share:
            mutant = rng.choice(list(bad))
            op = compress or rng.choice(operations)
            specs.append(Spec(f"bad:{mutant}", op, [(f"{mutant}.pdf", bad[mutant])], form_for(op)))
            continue
        other_share = min(0.35, 0.08 * len(others))  # bulk and each other declared operation
        if compress is not None and (not others or roll >= bad_share + other_share):
            level = rng.choices(levels, [LEVEL_WEIGHTS.get(lv, 5) for lv in levels])[0]
            op, form = compress, form_for(compress, compressionLevel=level)
            kind = f"compress:{level}"
            if level in {"lossless", "low"} and rng.random() < 0.15:
                name = rng.choice(names)  # now and then a real document from the corpus
        else:
            op = rng.choice(others)
            form = form_for(op, compressionLevel=rng.choice(["lossless", "low"]))
            kind = op["name"]
        if op["body"] == "files":
            picks = [rng.choice(light) for _ in range(rng.randint(2, 4))]
            files = [(f"{p}-{i}.pdf", inputs[p]) for i, p in enumerate(picks)]
        elif op["body"] == "json":
            files = []
        else:
            files = [(f"{name.replace(':', '-').replace('/', '-')}.pdf", inputs[name])]
        specs.append(Spec(kind, op, files, form, cancel=rng.random() < cancel_share))
    return specs


def json_body(op: dict[str, Any]) -> dict[str, Any]:
    """A JSON operation's required fields: enums and defaults from the schema,
    and a paragraph of text for free strings."""
    schema = op.get("fields") or {}
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = schema.get("properties", {}).get(name, {})
        if "enum" in prop:
            body[name] = prop["enum"][0]
        elif "default" in prop:
            body[name] = prop["default"]
        else:
            body[name] = (
                "Pressroom soak run. The quarterly report shows revenue of 1,200 units. "
                "Costs fell by ten percent. The board approved the plan. " * 3
            )
    return body


# --------------------------------------------------------------------------
# clients
# --------------------------------------------------------------------------
@dataclass
class Record:
    kind: str
    http_status: int = 0
    answer: str = ""  # error code of a refused submission, or "accepted"
    job_id: str | None = None
    cancelled_by_client: bool = False
    final: dict[str, Any] | None = None


@dataclass
class Tally:
    records: list[Record] = field(default_factory=list)
    bare_5xx: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)


def submit(session: requests.Session, base: str, spec: Spec, tally: Tally) -> Record:
    record = Record(spec.kind)
    op = spec.op
    try:
        if op["body"] == "json":
            response = session.post(base + op["path"], json=json_body(op), timeout=60)
        else:
            field_name = "files" if op["body"] == "files" else "file"
            response = session.post(
                base + op["path"],
                files=[(field_name, (name, data, "application/pdf")) for name, data in spec.files],
                data=spec.form,
                timeout=120,
            )
    except requests.RequestException as exc:
        record.answer = f"connection error: {exc.__class__.__name__}"
        return record
    record.http_status = response.status_code
    body = _json(response)
    if response.status_code == 202:
        record.answer = "accepted"
        record.job_id = body["data"]["job_id"]
    else:
        code = envelope_code(body)
        record.answer = code or f"{response.status_code} without envelope"
        if code is None and response.status_code >= 500:
            with tally.lock:
                tally.bare_5xx.append(f"POST {op['path']} -> {response.status_code}")
    return record


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def client_loop(
    base: str,
    queue: list[Spec],
    qlock: threading.Lock,
    tally: Tally,
    window: int,
    rng: random.Random,
    submitted: list[int],
) -> None:
    session = requests.Session()
    in_flight: list[Record] = []
    while True:
        spec = None
        if len(in_flight) < window:
            with qlock:
                if queue:
                    spec = queue.pop()
                    submitted[0] += 1
        if spec is None and not in_flight:
            with qlock:
                if not queue:
                    return
        if spec is not None:
            record = submit(session, base, spec, tally)
            tally.add(record)
            if record.job_id:
                if spec.cancel:
                    time.sleep(rng.uniform(0, 0.5))
                    with contextlib.suppress(requests.RequestException):
                        session.delete(f"{base}/api/jobs/{record.job_id}", timeout=30)
                        record.cancelled_by_client = True
                in_flight.append(record)
            continue
        time.sleep(0.3)
        for record in list(in_flight):
            with contextlib.suppress(requests.RequestException):
                response = session.get(f"{base}/api/jobs/{record.job_id}", timeout=30)
                if response.status_code >= 500 and envelope_code(_json(response)) is None:
                    with tally.lock:
                        tally.bare_5xx.append(f"GET job -> {response.status_code}")
                if response.status_code == 200 and response.json()["data"]["status"] in TERMINAL:
                    record.final = response.json()["data"]
                    in_flight.remove(record)
            # a job not yet terminal is followed again in the final sweep


# --------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------
@dataclass
class Fault:
    at: float  # share of the jobs submitted
    name: str
    action: Callable[[], str]
    started: str = ""
    note: str = ""


def fill(folder: Path) -> Path:
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for block in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * block):
                    pass
    finally:
        os.close(fd)
    return ballast


def build_faults(service: Service) -> list[Fault]:
    w1, w2 = service.workers

    def kill_pool_process(worker: Proc) -> Callable[[], str]:
        def act() -> str:
            children = worker.children()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return f"killed pool processes {children} of {worker.name}"

        return act

    def kill_worker() -> str:
        w2.kill_group()
        time.sleep(3)
        w2.start()
        return f"{w2.name} killed (whole process group) and restarted after 3 s"

    def redis_restart() -> str:
        service.servers.redis.restart(down_seconds=3)
        return "Redis restarted, down 3 s, queued messages lost"

    def broker_down() -> str:
        service.servers.redis.stop()
        time.sleep(6)
        service.servers.redis.start()
        return "Redis stopped for 6 s (submissions meet a dead broker)"

    def pg_restart() -> str:
        service.servers.postgres.stop()
        time.sleep(3)
        service.servers.postgres.start()
        return "PostgreSQL fast shutdown, down 3 s, started"

    def pg_kill() -> str:
        service.servers.postgres.kill()
        time.sleep(2)
        service.servers.postgres.start()
        return "PostgreSQL postmaster SIGKILLed, started 2 s later (crash recovery)"

    def storage_full() -> str:
        if not service.tmpfs:
            return "skipped: storage is not a tmpfs (run as root)"
        ballast = fill(service.storage)
        time.sleep(10)
        ballast.unlink()
        return "storage tmpfs full for 10 s"

    return [
        Fault(0.08, "worker pool process killed", kill_pool_process(w1)),
        Fault(0.18, "whole worker killed", kill_worker),
        Fault(0.30, "Redis restarted", redis_restart),
        Fault(0.42, "broker down at submission", broker_down),
        Fault(0.54, "PostgreSQL restarted", pg_restart),
        Fault(0.66, "PostgreSQL killed", pg_kill),
        Fault(0.78, "storage full", storage_full),
        Fault(0.88, "worker pool process killed", kill_pool_process(w1)),
    ]


def inject(faults: list[Fault], total: int, submitted: list[int], done: threading.Event) -> None:
    for fault in faults:
        while submitted[0] < fault.at * total and not done.is_set():
            time.sleep(0.2)
        if done.is_set():
            fault.note = "not reached"
            continue
        fault.started = datetime.now(UTC).strftime("%H:%M:%S")
        log(f"fault: {fault.name} (after {submitted[0]} submissions)")
        try:
            fault.note = fault.action()
        except Exception as exc:  # report it; the run goes on
            fault.note = f"injection failed: {exc!r}"
        log(f"fault done: {fault.note}")


# --------------------------------------------------------------------------
# the final count
# --------------------------------------------------------------------------
def final_sweep(base: str, tally: Tally, deadline_s: float) -> None:
    session = requests.Session()
    pending = [r for r in tally.records if r.job_id and r.final is None]
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        for record in list(pending):
            with contextlib.suppress(requests.RequestException):
                response = session.get(f"{base}/api/jobs/{record.job_id}", timeout=30)
                if response.status_code == 404:
                    record.final = {"status": "lost"}
                    pending.remove(record)
                elif response.status_code == 200:
                    view = response.json()["data"]
                    if view["status"] in TERMINAL:
                        record.final = view
                        pending.remove(record)
        if pending:
            log(f"waiting for {len(pending)} jobs to end")
            time.sleep(2)
    for record in pending:
        with contextlib.suppress(requests.RequestException):
            view = session.get(f"{base}/api/jobs/{record.job_id}", timeout=30).json()["data"]
            record.final = {"status": f"stuck:{view['status']}", "job": view}


def check_downloads(base: str, tally: Tally) -> tuple[int, int, list[str]]:
    """(downloaded, corrupt, examples): every completed job's file, checked
    against its size and its type's framing (PDF, zip, JSON, text)."""
    session = requests.Session()
    downloaded = corrupt = 0
    examples: list[str] = []
    for record in tally.records:
        view = record.final or {}
        if view.get("status") != "completed" or not view.get("download_url"):
            continue
        response = session.get(base + view["download_url"], timeout=60)
        downloaded += 1
        body = response.content
        descriptor = (view.get("result") or {}).get("file", {})
        mime = str(descriptor.get("mime", ""))
        ok = response.status_code == 200 and len(body) == descriptor.get("size")
        if mime == "application/pdf":
            ok = ok and body.startswith(b"%PDF") and b"%%EOF" in body[-2048:]
        elif mime == "application/zip" or mime.endswith(".sheet"):
            ok = ok and body.startswith(b"PK") and b"PK\x05\x06" in body[-65536:]
        elif mime == "application/json":
            try:
                json.loads(body)
            except ValueError:
                ok = False
        elif mime.startswith("text/"):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                ok = False
        if not ok:
            corrupt += 1
            if len(examples) < 5:
                examples.append(f"{record.job_id}: {response.status_code}, {len(body)} bytes")
    return downloaded, corrupt, examples


def duplicates(service: Service, tally: Tally) -> dict[str, Any]:
    """Jobs completed twice (the workers' 'job X completed' lines) and jobs
    with more than one result file on disk."""
    completions: Counter[str] = Counter()
    pattern = re.compile(r"job (\S+) completed \(attempt")
    for worker in service.workers:
        for match in pattern.finditer(worker.log_path.read_text(errors="replace")):
            completions[match.group(1)] += 1
    twice = sorted(job for job, n in completions.items() if n > 1)
    files = []
    jobs_root = service.storage / "jobs"
    for record in tally.records:
        if not record.job_id:
            continue
        out = jobs_root / record.job_id / "output"
        if out.is_dir() and sum(1 for p in out.rglob("*") if p.is_file()) > 1:
            files.append(record.job_id)
    return {"completed_twice": twice, "two_result_files": files}


def worker_deaths(service: Service) -> int:
    """Pool processes that died, as the workers' logs report them."""
    return sum(
        w.log_path.read_text(errors="replace").count("exited with 'signal") for w in service.workers
    )


def report(
    tally: Tally, faults: list[Fault], service: Service, started: float, args: argparse.Namespace
) -> dict[str, Any]:
    refused = Counter(r.answer for r in tally.records if not r.job_id)
    finals = [r for r in tally.records if r.job_id]
    statuses = Counter((r.final or {}).get("status", "unknown") for r in finals)
    failed = Counter(
        ((r.final or {}).get("error") or {}).get("code") or "NO CODE"
        for r in finals
        if (r.final or {}).get("status") == "failed"
    )
    by_kind: dict[str, Counter[str]] = {}
    for r in tally.records:
        view = r.final or {}
        outcome = (
            r.answer
            if not r.job_id
            else view.get("status", "?")
            + (f" {view['error']['code']}" if view.get("status") == "failed" else "")
        )
        by_kind.setdefault(
            r.kind.split(":")[0] if r.kind.startswith("bad:") else r.kind, Counter()
        )[outcome] += 1
    downloaded, corrupt, corrupt_examples = check_downloads(service.base, tally)
    dup = duplicates(service, tally)
    lost = [r.job_id for r in finals if (r.final or {}).get("status") == "lost"]
    stuck = [
        r.job_id for r in finals if str((r.final or {}).get("status", "stuck")).startswith("stuck")
    ]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(sys.argv),
        "minutes": round((time.monotonic() - started) / 60, 1),
        "clients": args.clients,
        "jobs_submitted": len(tally.records),
        "jobs_accepted": len(finals),
        "refused_at_submission": dict(refused.most_common()),
        "completed": statuses.get("completed", 0),
        "failed": sum(failed.values()),
        "failed_by_code": dict(failed.most_common()),
        "failed_without_code": failed.get("NO CODE", 0),
        "cancelled": statuses.get("cancelled", 0),
        "cancel_requests": sum(1 for r in finals if r.cancelled_by_client),
        "lost": len(lost),
        "stuck": len(stuck),
        "lost_ids": lost[:20],
        "stuck_ids": stuck[:20],
        "duplicated_results": len(dup["completed_twice"]) + len(dup["two_result_files"]),
        "duplicates": dup,
        "downloads_checked": downloaded,
        "corrupt_downloads": corrupt,
        "corrupt_examples": corrupt_examples,
        "bare_5xx": len(tally.bare_5xx),
        "bare_5xx_examples": tally.bare_5xx[:10],
        "pool_process_deaths_in_logs": worker_deaths(service),
        "faults": [{"at": f.at, "name": f.name, "time": f.started, "note": f.note} for f in faults],
        "by_kind": {k: dict(v.most_common()) for k, v in sorted(by_kind.items())},
        "storage_tmpfs": service.tmpfs,
    }


def print_report(figures: dict[str, Any]) -> None:
    print()
    print(
        f"Soak: {figures['jobs_submitted']} jobs from {figures['clients']} clients "
        f"in {figures['minutes']} min"
    )
    rows = [
        ("jobs submitted", figures["jobs_submitted"]),
        ("accepted (202)", figures["jobs_accepted"]),
        ("refused at submission", sum(figures["refused_at_submission"].values())),
        ("completed", figures["completed"]),
        ("failed with a code", figures["failed"] - figures["failed_without_code"]),
        ("failed without a code", figures["failed_without_code"]),
        ("cancelled", figures["cancelled"]),
        ("lost (accepted, then unknown)", figures["lost"]),
        ("stuck (never terminal)", figures["stuck"]),
        ("duplicated results", figures["duplicated_results"]),
        ("downloads checked", figures["downloads_checked"]),
        ("corrupt downloads", figures["corrupt_downloads"]),
        ("5xx without the error envelope", figures["bare_5xx"]),
    ]
    for label, value in rows:
        print(f"  {label:34s} {value:>6}")
    print("  refused, by code:", figures["refused_at_submission"])
    print("  failed, by code:", figures["failed_by_code"])
    print("  faults:")
    for fault in figures["faults"]:
        print(f"    {fault['time'] or '--:--:--'} {fault['name']}: {fault['note']}")
    print("  by kind:")
    for kind, outcomes in figures["by_kind"].items():
        print(f"    {kind}: {outcomes}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--window", type=int, default=2, help="jobs in flight per client")
    parser.add_argument("--bad-share", type=float, default=0.06)
    parser.add_argument("--cancel-share", type=float, default=0.03)
    parser.add_argument("--storage-mb", type=int, default=256)
    parser.add_argument("--drain-seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--corpus", type=Path, default=Path("/work/corpus"), help="real PDFs, if present"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    started = time.monotonic()
    # a stop request (also SIGTERM, which a background job gets) still
    # stops every process and server this run started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="pressroom-soak-"))
    log(f"working in {root}")
    service = start_service(root, args.storage_mb)
    try:
        log(f"service up at {service.base} (storage tmpfs: {service.tmpfs})")
        session = requests.Session()
        operations = [
            op
            for op in session.get(
                f"{service.base}/api/extended-features/capabilities", timeout=30
            ).json()["data"]["operations"]
            if op["queued"]
            and op.get("available", True)
            and (op["body"] == "json" or "application/pdf" in op["accepts"])
        ]
        log("operations: " + ", ".join(op["name"] for op in operations))
        rng = random.Random(args.seed)
        inputs = make_inputs(root / "inputs", args.corpus if args.corpus.exists() else None)
        seed_pdf = inputs["text-3p"]
        hostile = mutants.mutants(seed_pdf)
        bad = {name: hostile[name] for name in BAD_FILES if name in hostile}
        specs = plan_jobs(
            args.jobs,
            operations,
            inputs,
            bad,
            rng,
            bad_share=args.bad_share,
            cancel_share=args.cancel_share,
        )
        specs.reverse()  # clients pop from the end
        tally = Tally()
        submitted = [0]
        qlock = threading.Lock()
        done = threading.Event()
        faults = build_faults(service)
        injector = threading.Thread(
            target=inject, args=(faults, args.jobs, submitted, done), daemon=True
        )
        injector.start()
        clients = [
            threading.Thread(
                target=client_loop,
                args=(
                    service.base,
                    specs,
                    qlock,
                    tally,
                    args.window,
                    random.Random(args.seed + n),
                    submitted,
                ),
                daemon=True,
            )
            for n in range(args.clients)
        ]
        for thread in clients:
            thread.start()
        last = time.monotonic()
        while any(t.is_alive() for t in clients):
            time.sleep(1)
            if time.monotonic() - last > 30:
                last = time.monotonic()
                log(f"{submitted[0]} submitted")
        injector.join(timeout=120)
        done.set()
        log("every job submitted; waiting for the rest to end")
        final_sweep(service.base, tally, args.drain_seconds)
        figures = report(tally, faults, service, started, args)
        figures["machine"] = machine()
        print_report(figures)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / "soak.json").write_text(json.dumps(figures, indent=2))
        keep_logs = OUT_DIR / "logs-soak"
        shutil.rmtree(keep_logs, ignore_errors=True)
        shutil.copytree(root / "logs", keep_logs)
        ok = (
            figures["lost"] == 0
            and figures["stuck"] == 0
            and figures["duplicated_results"] == 0
            and figures["failed_without_code"] == 0
            and figures["corrupt_downloads"] == 0
            and figures["bare_5xx"] == 0
        )
        print("\nAIM MET" if ok else "\nAIM NOT MET")
        return 0 if ok else 1
    finally:
        service.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": cpu, "load_at_end": os.getloadavg()}


if __name__ == "__main__":
    sys.exit(main())
