#!/usr/bin/env python3
"""Fuzz run: the large set of hostile and broken PDFs (tests/support/mutants.py,
``scale="large"``: a 1 GiB decompression bomb, a 20,000 x 20,000 image bomb,
400,000 objects, arrays nested 200,000 deep...) through every operation the
server declares (``GET /api/extended-features/capabilities``), on the same
private PostgreSQL + Redis + API + two workers that bench/soak.py starts.

Prints, per operation and mutant, the answer and the job's end, then the
problems: a 5xx without the error envelope, a job that failed with no code
or with INTERNAL_ERROR / WORKER_LOST, a job that never ended, a worker
process that died. Figures go to bench/out/fuzz.json.

    .venv/bin/python bench/fuzz.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import OUT_DIR, log, machine, start_service, worker_deaths

from tests.support import mutants, pdfs
from tests.support.fuzzing import pdf_operations, run_case, summarize


class HttpTransport:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def post(
        self, path: str, field: str, filename: str, data: bytes, form: dict[str, str]
    ) -> tuple[int, Any]:
        response = self.session.post(
            self.base + path,
            files=[(field, (filename, data, "application/pdf"))],
            data=form,
            timeout=300,
        )
        return response.status_code, _json(response)

    def get(self, path: str) -> tuple[int, Any]:
        response = self.session.get(self.base + path, timeout=60)
        return response.status_code, _json(response)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=["small", "large"], default="large")
    parser.add_argument("--parallel", type=int, default=2, help="cases sent at once")
    parser.add_argument("--job-timeout", type=float, default=400)
    args = parser.parse_args()
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="pressroom-fuzz-"))
    service = start_service(root, 2048)
    try:
        seed = pdfs.text_pdf(root / "seed.pdf", pages=3).read_bytes()
        files = mutants.mutants(seed, scale=args.scale)
        operations = pdf_operations(HttpTransport(service.base))
        log(
            f"{len(files)} mutants x {len(operations)} operations: "
            + ", ".join(op["name"] for op in operations)
        )
        work = [(op, name) for name in files for op in operations]

        def one(item: tuple[dict[str, Any], str]) -> Any:
            op, name = item
            case = run_case(
                HttpTransport(service.base), op, name, files[name], timeout=args.job_timeout
            )
            log(
                f"{op['name']:18s} {name:28s} {case.http_status} {case.answer}"
                f" {case.job_status or ''} {case.job_code or ''} {case.seconds}s"
                + (f"  PROBLEM: {case.problem}" if case.problem else "")
            )
            return case

        with ThreadPoolExecutor(args.parallel) as pool:
            cases = list(pool.map(one, work))
        figures = summarize(cases)
        figures["workers_alive"] = [w.alive() for w in service.workers]
        figures["pool_process_deaths_in_logs"] = worker_deaths(service)
        figures["minutes"] = round((time.monotonic() - started) / 60, 1)
        figures["mutants"] = {name: len(data) for name, data in files.items()}
        figures["operations"] = [op["name"] for op in operations]
        figures["machine"] = machine()
        print()
        print(
            f"Fuzz: {figures['cases']} cases ({len(files)} mutants x {len(operations)} "
            f"operations) in {figures['minutes']} min"
        )
        print(f"  problems: {len(figures['problems'])}")
        for problem in figures["problems"]:
            print(f"    {problem['operation']} {problem['mutant']}: {problem['problem']}")
        print(f"  5xx without envelope: {figures['bare_5xx']}")
        print(f"  worker main processes alive: {figures['workers_alive']}")
        print(f"  pool processes that died: {figures['pool_process_deaths_in_logs']}")
        print("  outcomes:")
        for outcome, count in figures["outcomes"].items():
            print(f"    {count:4d}  {outcome}")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / "fuzz.json").write_text(json.dumps(figures, indent=2))
        ok = (
            not figures["problems"]
            and all(figures["workers_alive"])
            and figures["pool_process_deaths_in_logs"] == 0
        )
        print("\nNO PROBLEM" if ok else "\nPROBLEMS FOUND")
        return 0 if ok else 1
    finally:
        service.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
