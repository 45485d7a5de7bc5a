"""Hostile and broken PDFs through every operation the server declares.

No answer is a 500 without the error envelope; no job fails with
INTERNAL_ERROR or WORKER_LOST; every job ends; and the worker is still alive
and still doing good work afterwards. The set here is small and bounded;
bench/fuzz.py runs the larger one.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import mutants
from tests.support.api import submit_compress, wait_for
from tests.support.fuzzing import pdf_operations, run_case, summarize
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker

#: one of each kind of damage, at a size the suite can afford
SMALL_SET = [
    "truncated_50pct",
    "byte_flips_1",
    "nested_arrays_20000",
    "page_tree_loop",
    "content_bomb_32mb",
    "image_bomb_4000px",
    "jpeg_declares_65500x65500",
]
#: what the worker's log says when a pool process died
DIED = "exited with 'signal"


class FlaskTransport:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def post(
        self, path: str, field: str, filename: str, data: bytes, form: dict[str, str]
    ) -> tuple[int, Any]:
        body: dict[str, Any] = {field: (io.BytesIO(data), filename), **form}
        response = self.client.post(path, data=body, content_type="multipart/form-data")
        return response.status_code, response.get_json(silent=True)

    def get(self, path: str) -> tuple[int, Any]:
        response = self.client.get(path)
        return response.status_code, response.get_json(silent=True)


@pytest.mark.timeout(900)  # 1-2 minutes on an idle 2-core machine; far more when shared
def test_hostile_pdfs_through_every_declared_operation(
    app: Flask, client: FlaskClient, worker: WorkerProcess, text_pdf: Path
) -> None:
    transport = FlaskTransport(client)
    deaths_before = worker.log_path.read_text(errors="replace").count(DIED)
    operations = pdf_operations(transport)
    assert {"compress", "compress_bulk"} <= {op["name"] for op in operations}
    files = mutants.mutants(text_pdf.read_bytes())
    work = [(op, name) for name in SMALL_SET for op in operations]
    # three at a time, each with its own client: the worker's two processes
    # and the API's previews overlap
    with ThreadPoolExecutor(3) as pool:
        cases = list(
            pool.map(
                lambda item: run_case(
                    FlaskTransport(app.test_client()), item[0], item[1], files[item[1]], timeout=240
                ),
                work,
            )
        )
    report = summarize(cases)
    assert report["problems"] == [], report
    # the damage was seen: the set is not all accepted and completed
    assert any(c.http_status == 422 for c in cases), report["outcomes"]
    # the worker survived it all and still compresses a good file
    assert worker.proc is not None and worker.proc.poll() is None
    assert worker.log_path.read_text(errors="replace").count(DIED) == deaths_before
    job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
    assert wait_for(client, job_id, timeout=60)["status"] == "completed"
