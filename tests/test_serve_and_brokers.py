"""The embedded default as a user starts it, and the RabbitMQ broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pressroom.api import create_app
from pressroom.runtime import Runtime
from tests.support.api import submit_compress, wait_for
from tests.support.worker import ROOT, WorkerProcess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pressroom_serve_runs_everything_and_stops_on_ctrl_c(
    tmp_path: Path, uncompressed_pdf: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
    env.update(PRESSROOM_DATA_DIR=str(tmp_path / "var"), PRESSROOM_PORT=str(port))
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pressroom.cli", "serve", "--concurrency", "1"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # a loaded machine can take many seconds to import and answer at first
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/health", timeout=30).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        else:
            pytest.fail((tmp_path / "serve.log").read_text()[-3000:])
        with uncompressed_pdf.open("rb") as fh:
            accepted = requests.post(
                f"{base}/api/compress", files={"file": ("a.pdf", fh)}, timeout=30
            )
        assert accepted.status_code == 202
        job_url = base + accepted.headers["Location"]
        for _ in range(300):
            view = requests.get(job_url, timeout=30).json()["data"]
            if view["status"] == "completed":
                break
            time.sleep(0.1)
        assert view["status"] == "completed"
        assert requests.get(base + view["download_url"], timeout=5).content.startswith(b"%PDF")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output[-3000:]
    assert str(tmp_path / "var") in output  # it says where its data folder is
    assert "Pressroom stopped." in output
    assert (tmp_path / "var" / "pressroom.sqlite3").exists()


@pytest.mark.services
def test_rabbitmq_broker_end_to_end(tmp_path: Path, text_pdf: Path) -> None:
    from tests.conftest import make_backend

    backend = make_backend("pg_rabbitmq", tmp_path)
    app = create_app(backend.settings())
    rt: Runtime = app.extensions["pressroom"]
    (tmp_path / "faults").mkdir()
    worker = WorkerProcess(backend, tmp_path / "faults", tmp_path / "worker.log")
    worker.start(rt.ops)
    try:
        client = app.test_client()
        job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
        assert wait_for(client, job_id)["status"] == "completed"
    finally:
        worker.stop()


def test_health_names_a_queue_without_consumer(isolated_backend: object) -> None:
    app = create_app(isolated_backend.settings())  # type: ignore[attr-defined]
    response = app.test_client().get("/api/health")
    assert response.status_code == 503
    queues = response.json["checks"]["queues"]  # type: ignore[index]
    assert queues["ok"] is False and "pdf" in queues["without_consumer"]


def test_openapi_documents_every_route(isolated_backend: object) -> None:
    app = create_app(isolated_backend.settings())  # type: ignore[attr-defined]
    client = app.test_client()
    doc = client.get("/api/openapi.json").json
    assert doc is not None and doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if (
            not rule.rule.startswith("/api/")
            or rule.rule.startswith("/api/docs")
            or (rule.rule == "/api/openapi.json")
        ):
            continue
        path = rule.rule.replace("<job_id>", "{job_id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:  # type: ignore[operator]
            assert (path, method) in documented
    level = doc["paths"]["/api/compress"]["post"]["requestBody"]["content"]["multipart/form-data"][
        "schema"
    ]["properties"]["compressionLevel"]
    assert set(level["enum"]) == {"lossless", "low", "medium", "high", "maximum"}
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    assert client.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
