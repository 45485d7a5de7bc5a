"""End to end through the real API, queue, database, worker and engine."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pressroom.runtime import Runtime
from tests.conftest import FaultPlan
from tests.support import pdfs
from tests.support.api import error_code, eventually, job, submit_compress, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker


def test_compress_end_to_end(
    client: FlaskClient,
    worker: WorkerProcess,
    runtime: Runtime,
    uncompressed_pdf: Path,
    tmp_path: Path,
) -> None:
    response = submit_compress(
        client, uncompressed_pdf, filename="Annual report.pdf", compressionLevel="lossless"
    )
    assert response.status_code == 202
    job_id = response.json["data"]["job_id"]  # type: ignore[index]
    view = wait_for(client, job_id)
    assert view["status"] == "completed", view
    result = view["result"]
    assert result["original_size"] == uncompressed_pdf.stat().st_size
    assert result["compressed_size"] < result["original_size"]
    assert 0 < result["compression_ratio"] < 100 and result["pages"] == 3
    assert "key" not in result["file"] and "/" not in json.dumps(result["file"]["filename"])
    assert view["progress"] == {"percentage": 100, "stage": "done", "message": "Completed"}
    assert view["attempts"] == 1 and view["expires_at"] and view["completed_at"]

    download = client.get(view["download_url"])
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert "Annual report_compressed.pdf" in download.headers["Content-Disposition"]
    out = tmp_path / "out.pdf"
    out.write_bytes(download.data)
    assert len(download.data) == result["compressed_size"]
    assert pdfs.pdf_text(out) == pdfs.pdf_text(uncompressed_pdf)  # text unchanged
    # the upload is gone once the job finished; only the result stays
    input_key = runtime.files.input_key(job_id, "application/pdf")
    assert eventually(lambda: not runtime.files.storage.exists(input_key))


def test_an_already_optimal_pdf_comes_back_unchanged(
    client: FlaskClient, worker: WorkerProcess, optimal_pdf: Path
) -> None:
    job_id = submit_compress(client, optimal_pdf, compressionLevel="lossless").json["data"][
        "job_id"
    ]  # type: ignore[index]
    view = wait_for(client, job_id)
    assert view["status"] == "completed"
    assert view["result"]["returned_original"] is True
    assert view["result"]["compression_ratio"] == 0
    assert client.get(view["download_url"]).data == optimal_pdf.read_bytes()


def test_events_stream_follows_the_job_to_its_end(
    client: FlaskClient, worker: WorkerProcess, text_pdf: Path
) -> None:
    job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
    response = client.get(f"/api/jobs/{job_id}/events")
    assert response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    events = [block for block in text.split("\n\n") if block.startswith("event:")]
    assert events[-1].startswith("event: end")
    last = json.loads(events[-1].split("data: ", 1)[1])
    assert last["status"] == "completed"
    assert last["download_url"] and last["result"]["compressed_size"] > 0
    # each change once, in order: the job never steps back to an earlier state
    views = [json.loads(e.split("data: ", 1)[1]) for e in events if e.startswith("event: progress")]
    order = {"pending": 0, "processing": 1, "completed": 2}
    seen = [(order[v["status"]], v["progress"]["percentage"]) for v in views]
    assert seen == sorted(seen), seen
    assert len({json.dumps(v, sort_keys=True) for v in views}) == len(views)
    assert views[-1]["status"] == "completed"


def test_transient_failure_retries_without_showing_failed(
    client: FlaskClient, faults: FaultPlan, text_pdf: Path
) -> None:
    job_id = faults.add("transient", attempts=[1])
    assert submit_compress(client, text_pdf, job_id=job_id).status_code == 202
    statuses = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = job(client, job_id)
        statuses.append(view["status"])
        if view["status"] in {"completed", "failed", "cancelled"}:
            break
        time.sleep(0.05)
    assert statuses[-1] == "completed", statuses
    assert "failed" not in statuses
    assert view["attempts"] == 2


def test_a_poison_job_stops_at_the_attempt_limit(
    client: FlaskClient, faults: FaultPlan, text_pdf: Path
) -> None:
    job_id = faults.add("transient", attempts=[1, 2, 3, 4, 5])
    submit_compress(client, text_pdf, job_id=job_id)
    view = wait_for(client, job_id, timeout=90)
    assert view["status"] == "failed"
    assert view["error"]["code"] == "ENGINE_TIMEOUT"
    assert view["attempts"] == 3  # PRESSROOM_MAX_ATTEMPTS in the test settings


def test_bad_input_fails_at_once_with_its_code(
    client: FlaskClient, faults: FaultPlan, text_pdf: Path
) -> None:
    job_id = faults.add("fail")
    submit_compress(client, text_pdf, job_id=job_id)
    view = wait_for(client, job_id)
    assert (view["status"], view["error"]["code"], view["attempts"]) == (
        "failed",
        "ENGINE_FAILED",
        1,
    )
    assert error_code(client.get(f"/api/jobs/{job_id}/download")) == "JOB_NOT_READY"


def test_worker_killed_mid_job_is_never_stuck(
    client: FlaskClient, faults: FaultPlan, runtime: Runtime, text_pdf: Path
) -> None:
    job_id = faults.add("sleep", seconds=20, attempts=[1])
    submit_compress(client, text_pdf, job_id=job_id)
    pid = faults.pid(job_id)
    assert job(client, job_id)["status"] == "processing"
    os.kill(pid, signal.SIGKILL)  # the pool process running the job dies
    view = wait_for(client, job_id, timeout=60)
    assert view["status"] == "completed" or view["error"]["code"] == "WORKER_LOST", view
    assert view["attempts"] == 2  # the redelivered message is a new, counted attempt


def test_a_lost_fork_server_costs_the_job_one_attempt(
    client: FlaskClient, faults: FaultPlan, text_pdf: Path
) -> None:
    """The process that forks a worker's compression children dies (the OOM
    killer, say) while one runs: the child dies with it, the job is retried,
    not failed, and the worker carries on with a new fork server."""
    job_id = faults.add("sleep", seconds=20, attempts=[1])
    submit_compress(client, text_pdf, job_id=job_id, compressionLevel="medium")
    server = faults.pid(job_id, of="parent")
    assert server != faults.pid(job_id), "the child was not forked by the pool process"
    os.kill(server, signal.SIGKILL)
    view = wait_for(client, job_id, timeout=90)
    assert (view["status"], view["attempts"]) == ("completed", 2), view


def test_cancel_a_running_job(
    client: FlaskClient, faults: FaultPlan, runtime: Runtime, text_pdf: Path
) -> None:
    job_id = faults.add("sleep", seconds=2, attempts=[1])
    submit_compress(client, text_pdf, job_id=job_id)
    faults.pid(job_id)
    response = client.delete(f"/api/jobs/{job_id}")
    assert response.json["data"]["status"] == "cancelled"  # type: ignore[index]
    time.sleep(4)  # the worker wakes up, reports progress and learns of the cancel
    view = job(client, job_id)
    assert view["status"] == "cancelled" and view["result"] is None
    folder = runtime.settings.files_root / "jobs" / job_id
    assert not any(p.is_file() for p in folder.rglob("*")) if folder.exists() else True


def test_health_reports_every_part(client: FlaskClient, worker: WorkerProcess) -> None:
    response = client.get("/api/health")
    body = response.json
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "storage", "engines", "queues"}  # type: ignore[index]
    assert body["checks"]["queues"]["without_consumer"] == []  # type: ignore[index]
