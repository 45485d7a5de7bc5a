"""Fixtures: backends (embedded, and real PostgreSQL + Redis), runtimes, the
Flask app, and a real Celery worker per backend.

``backend`` is parametrized, so a test that uses it runs on each backend.
Tests marked ``services`` are skipped when PRESSROOM_TEST_EMBEDDED_ONLY=1.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pressroom.api import create_app
from pressroom.db.migrate import upgrade
from pressroom.runtime import Runtime
from tests.support import pdfs
from tests.support.backends import (
    Backend,
    flush_redis,
    fresh_postgres_database,
    purge_rabbitmq,
    services_wanted,
)
from tests.support.live import LiveServer, start_live_server
from tests.support.worker import QUEUES, WorkerProcess

BACKENDS = ["embedded", pytest.param("pg_redis", marks=pytest.mark.services)]
_counter = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if services_wanted():
        return
    skip = pytest.mark.skip(reason="PRESSROOM_TEST_EMBEDDED_ONLY=1")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


def make_backend(kind: str, root: Path, *, shared: bool = False) -> Backend:
    """A fresh backend of ``kind`` with its own data folder and database.

    The shared backend (which has a worker) uses Redis database 15; isolated
    ones (no consumer) cycle through 1-12, so flushing one never touches
    the shared worker's queue.
    """
    n = next(_counter)
    data_dir = root / f"{kind}-{n}"
    if kind == "embedded":
        backend = Backend(kind, data_dir)
    elif kind == "pg_redis":
        backend = Backend(
            kind,
            data_dir,
            database_url=fresh_postgres_database(f"pressroom_test_{n}"),
            broker_url=flush_redis(15 if shared else 1 + n % 12),
        )
    elif kind == "pg_rabbitmq":
        backend = Backend(
            kind,
            data_dir,
            database_url=fresh_postgres_database(f"pressroom_test_{n}"),
            broker_url=purge_rabbitmq(QUEUES.split(",")),
        )
    else:
        raise ValueError(kind)
    upgrade(backend.settings())
    return backend


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pressroom")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_root: Path) -> Backend:
    """A shared backend per kind, with a worker available through ``worker``."""
    return make_backend(request.param, tmp_root, shared=True)


@pytest.fixture(params=BACKENDS)
def isolated_backend(request: pytest.FixtureRequest, tmp_root: Path) -> Backend:
    """A fresh backend that no worker consumes: for tests of the job layer itself."""
    return make_backend(request.param, tmp_root)


@pytest.fixture(scope="session")
def _runtimes() -> dict[str, Runtime]:
    return {}


@pytest.fixture
def runtime(backend: Backend, _runtimes: dict[str, Runtime]) -> Runtime:
    key = str(backend.data_dir)
    if key not in _runtimes:
        _runtimes[key] = Runtime.build(backend.settings())
    return _runtimes[key]


@pytest.fixture
def isolated_runtime(isolated_backend: Backend) -> Runtime:
    return Runtime.build(isolated_backend.settings())


@pytest.fixture(scope="session")
def _apps() -> dict[str, Flask]:
    return {}


@pytest.fixture
def app(backend: Backend, _apps: dict[str, Flask]) -> Flask:
    key = str(backend.data_dir)
    if key not in _apps:
        _apps[key] = create_app(backend.settings())
    return _apps[key]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def _workers() -> Iterator[dict[str, WorkerProcess]]:
    workers: dict[str, WorkerProcess] = {}
    yield workers
    for worker in workers.values():
        worker.stop()


@pytest.fixture
def worker(backend: Backend, runtime: Runtime, _workers: dict[str, WorkerProcess]) -> WorkerProcess:
    """The backend's real Celery worker (+ beat), started on first use."""
    key = str(backend.data_dir)
    current = _workers.get(key)
    if current is None or current.proc is None or current.proc.poll() is not None:
        faults = backend.data_dir / "faults"
        faults.mkdir(parents=True, exist_ok=True)
        current = WorkerProcess(backend, faults, backend.data_dir / "worker.log")
        current.start(runtime.ops)
        _workers[key] = current
    return current


@pytest.fixture
def faults(worker: WorkerProcess) -> FaultPlan:
    return FaultPlan(worker.faults_dir)


class FaultPlan:
    """Tells the test worker to misbehave for one job id (tests/support/faults.py)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, action: str, attempts: list[int] | None = None, **params: Any) -> str:
        job_id = f"fault-{action}-{uuid.uuid4().hex[:12]}"
        spec = {"action": action, "attempts": attempts or [1], **params}
        (self.folder / f"{job_id}.json").write_text(json.dumps(spec))
        return job_id

    def pid(self, job_id: str, timeout: float = 30, *, of: str = "pool") -> int:
        """The pid of the pool process running the stalled job, or (``of``
        "parent") of the stalled process's parent: in a pool process's
        compression child, the pool process's fork server."""
        path = self.folder / f"{job_id}.{'pid' if of == 'pool' else of}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return int(path.read_text())
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} never reached its injected stall")


# -- PDFs ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pdf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdfs")


def _made(name: str, maker: Any) -> Any:
    @pytest.fixture(scope="session", name=name)
    def fixture(pdf_dir: Path) -> Path:
        return Path(maker(pdf_dir / f"{name}.pdf"))

    return fixture


text_pdf = _made("text_pdf", pdfs.text_pdf)
uncompressed_pdf = _made("uncompressed_pdf", pdfs.uncompressed_pdf)
optimal_pdf = _made("optimal_pdf", pdfs.optimal_pdf)
encrypted_pdf = _made("encrypted_pdf", pdfs.encrypted_pdf)
truncated_pdf = _made("truncated_pdf", pdfs.truncated_pdf)


# -- a real embedded service, for the tests that use it from outside -------------
@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``pressroom serve`` on a free port, shared by the browser, CLI and
    OpenAPI conformance tests."""
    server = start_live_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()
