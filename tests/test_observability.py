"""/metrics (Prometheus text, computed from the job store) and the JSON logs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from pressroom.api import create_app
from pressroom.db.models import Job
from pressroom.logging import ContextFilter, JsonFormatter, bind_log_context, job_log_context
from pressroom.runtime import Runtime
from tests.conftest import FaultPlan
from tests.support.api import submit_compress, wait_for
from tests.support.backends import Backend


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_jobs_durations_queues_and_storage(
    client: FlaskClient, runtime: Runtime, faults: FaultPlan, text_pdf: Path
) -> None:
    job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
    wait_for(client, job_id)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    found = samples(answer.get_data(as_text=True))

    completed = found[("pressroom_jobs", (("status", "completed"), ("task_type", "compress")))]
    [(expected,)] = runtime.ops.read(
        select(func.count()).where(Job.status == "completed", Job.task_type == "compress")
    )
    assert completed == expected
    assert completed >= 1
    assert ("pressroom_queue_depth", (("queue", "pdf"),)) in found
    assert found[("pressroom_queue_consumers", (("queue", "pdf"),))] >= 1
    assert found[("pressroom_workers_live", ())] >= 1
    inf = found[
        ("pressroom_job_duration_seconds_bucket", (("le", "+Inf"), ("task_type", "compress")))
    ]
    assert inf >= 1
    assert found[("pressroom_stored_bytes", ())] > 0 and found[("pressroom_stored_files", ())] >= 1
    # engine time-outs: a job whose engine times out on every attempt fails with
    # ENGINE_TIMEOUT, and the scrape counts it under that code
    timeout_job = faults.add("transient", attempts=[1, 2, 3])
    assert submit_compress(client, text_pdf, job_id=timeout_job).status_code == 202
    assert wait_for(client, timeout_job)["error"]["code"] == "ENGINE_TIMEOUT"
    [(failures,)] = runtime.ops.read(
        select(func.count()).where(Job.status == "failed", Job.error_code == "ENGINE_TIMEOUT")
    )
    again = samples(client.get("/metrics").get_data(as_text=True))
    key = ("pressroom_job_errors", (("code", "ENGINE_TIMEOUT"), ("task_type", "compress")))
    assert again[key] == failures >= 1


def test_log_lines_are_json_with_request_and_job_ids() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pressroom.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        bind_log_context(request_id="req-12345678")
        with job_log_context("job-42"):
            logger.warning("attempt %d failed", 2)
        try:
            raise ValueError("bad")
        except ValueError:
            logger.exception("outside a job")
    finally:
        logger.removeHandler(handler)
    first, second = (
        json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")
    )
    assert first["message"] == "attempt 2 failed" and first["level"] == "WARNING"
    assert first["request_id"] == "req-12345678" and first["job_id"] == "job-42"
    assert first["time"].endswith("Z")
    assert "job_id" not in second and "ValueError: bad" in second["exc"]


def test_the_api_binds_the_request_id_to_its_log_lines(isolated_backend: Backend) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pressroom.test.request")
    logger.addHandler(handler)
    logger.propagate = False
    app = create_app(isolated_backend.settings())

    @app.get("/api/test-log-line")
    def log_line() -> str:
        logger.warning("inside a request")
        return "ok"

    try:
        app.test_client().get("/api/test-log-line", headers={"X-Request-ID": "trace-abcdef01"})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[0])
    assert line["request_id"] == "trace-abcdef01"
