"""Unit tests of the small pieces: sniffing, names, keys, runner, progress."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from pressroom.config import get_settings
from pressroom.engines import runner
from pressroom.engines.isolated import run_forked
from pressroom.errors import EngineMissingError, EngineTimeoutError
from pressroom.jobs.progress import ProgressReporter
from pressroom.jobs.states import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    JobStatus,
    TaskType,
    can_transition,
)
from pressroom.runtime import Runtime
from pressroom.storage import sniff
from pressroom.storage.backend import LocalStorage
from pressroom.storage.files import safe_display_name
from pressroom.storage.tempfiles import TemporaryFileManager


def test_terminal_states_are_final_and_retry_goes_back_to_pending() -> None:
    for status in TERMINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
    assert can_transition(JobStatus.PROCESSING, JobStatus.PENDING)  # a scheduled retry
    assert not can_transition(JobStatus.PENDING, JobStatus.COMPLETED)
    assert not can_transition(JobStatus.FAILED, JobStatus.PENDING)


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"%PDF-1.7\n", sniff.PDF),
        (b"junk before header %PDF-1.4", sniff.PDF),
        (b"\x89PNG\r\n\x1a\n....", sniff.PNG),
        (b"\xff\xd8\xff\xe0", sniff.JPEG),
        (b"II*\x00", sniff.TIFF),
        (b"<html>%PDF", None),  # no version: not a PDF header
        (b" " * 1100 + b"%PDF-1.4", None),  # past the first KiB
        (b"PK\x03\x04", sniff.ZIP),  # an office document (OOXML, ODF) or any zip
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", sniff.OLE),  # .doc, .xls, .ppt
        (b"PK\x05\x06", None),  # an empty zip
    ],
)
def test_sniffing_reads_bytes_not_names(head: bytes, mime: str | None) -> None:
    assert sniff.sniff(head) == mime


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00name\n.pdf", "badname.pdf"),
        ("", "document.pdf"),
        ("...", "document.pdf"),
        ("Résumé 2026.pdf", "Résumé 2026.pdf"),
    ],
)
def test_client_filenames_are_only_display_names(given: str, shown: str) -> None:
    assert safe_display_name(given) == shown


def test_storage_refuses_keys_that_leave_its_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    for key in ("../x", "jobs/../../x", "/etc/passwd", "jobs/a b", ""):
        with pytest.raises(ValueError):
            storage.exists(key)


def test_scratch_folder_is_removed_even_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), TemporaryFileManager(tmp_path) as scratch:
        scratch.path("a.pdf").write_bytes(b"x")
        kept = scratch.dir
        raise RuntimeError("boom")
    assert kept is not None and not kept.exists()
    with TemporaryFileManager(tmp_path) as scratch, pytest.raises(ValueError):
        scratch.path("../escape")


def test_runner_times_out_and_kills_the_program() -> None:
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError):
        runner.run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 5


def test_runner_limits_memory() -> None:
    result = runner.run(
        ["python3", "-c", "b = bytearray(512 * 1024 * 1024)"],
        timeout=20,
        memory_bytes=256 * 1024 * 1024,
    )
    assert result.returncode != 0 and "MemoryError" in result.stderr


_PRINT_CPU_CLASS = "import os; print(os.sched_getscheduler(0))"


@pytest.fixture
def idle_engines() -> Iterator[None]:
    runner.use_idle_cpu(True)
    try:
        yield
    finally:
        runner.use_idle_cpu(False)


@pytest.mark.usefixtures("idle_engines")
def test_engines_of_a_worker_run_in_the_idle_cpu_class() -> None:
    """The programs a worker starts, what they start in turn, and the forked
    compression child all give way to the API and the database."""
    program = runner.run(["python3", "-c", _PRINT_CPU_CLASS], timeout=20)
    grandchild = runner.run(
        [
            "python3",
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {_PRINT_CPU_CLASS!r}])",
        ],
        timeout=20,
    )
    forked = run_forked(lambda send: {"class": os.sched_getscheduler(0)}, timeout=20)
    assert int(program.stdout) == int(grandchild.stdout) == forked["class"] == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the worker itself keeps its class


def test_engines_run_in_the_normal_cpu_class_unless_asked() -> None:
    assert int(runner.run(["python3", "-c", _PRINT_CPU_CLASS], timeout=20).stdout) == os.SCHED_OTHER


@pytest.mark.parametrize(("value", "idle"), [(None, True), ("normal", False), ("idle", True)])
def test_each_worker_process_sets_up_its_engines(
    monkeypatch: pytest.MonkeyPatch, value: str | None, idle: bool
) -> None:
    """Their CPU class from the settings, and a fork server for the
    compression children (pressroom.engines.forkserver)."""
    from pressroom import worker

    if value is None:
        monkeypatch.delenv("PRESSROOM_ENGINE_SCHEDULING", raising=False)
    else:
        monkeypatch.setenv("PRESSROOM_ENGINE_SCHEDULING", value)
    monkeypatch.setattr(worker, "reset_runtime", get_settings.cache_clear)
    servers: list[bool] = []
    monkeypatch.setattr(worker, "use_fork_server", lambda: servers.append(True))
    get_settings.cache_clear()
    try:
        worker._after_fork()
        assert runner.uses_idle_cpu() is idle
        assert servers == [True]
    finally:
        runner.use_idle_cpu(False)
        get_settings.cache_clear()


def test_runner_reports_a_missing_program() -> None:
    with pytest.raises(EngineMissingError):
        runner.run(["no-such-program-pressroom"], timeout=1)


def test_a_database_outage_skips_a_progress_write_and_the_job_goes_on(
    isolated_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A progress report while the database restarts is not worth an
    attempt: it is skipped, and the next report writes the stage again. A
    statement that is wrong still fails loudly."""
    ops = isolated_runtime.ops
    job_id = f"p-{uuid.uuid4().hex}"
    ops.create_job_safely(job_id, TaskType.COMPRESS, {}, celery_task_id="m")
    assert ops.claim(job_id, "m", 3) is not None
    reporter = ProgressReporter(ops, job_id, ("m", 1), min_interval=10)
    write = ops.record_progress

    def unreachable(*args: object) -> None:
        raise OperationalError("UPDATE jobs", {}, Exception("connection refused"))

    monkeypatch.setattr(ops, "record_progress", unreachable)
    reporter.report(10, "structure")
    assert reporter.writes == 0
    monkeypatch.setattr(ops, "record_progress", write)
    reporter.report(12, "structure", "again")  # within the interval: the stage was never written
    assert reporter.writes == 1
    job = ops.get_job(job_id)
    assert job is not None and (job.progress_percentage, job.progress_stage) == (12, "structure")

    def wrong(*args: object) -> None:
        raise ProgrammingError("UPDATE jobs", {}, Exception("syntax error"))

    monkeypatch.setattr(ops, "record_progress", wrong)
    with pytest.raises(ProgrammingError):
        reporter.report(20, "fonts")


def test_progress_is_throttled_but_stage_changes_and_100_are_written(
    isolated_runtime: Runtime,
) -> None:
    ops = isolated_runtime.ops
    job_id = f"p-{uuid.uuid4().hex}"
    ops.create_job_safely(job_id, TaskType.COMPRESS, {}, celery_task_id="m")
    job = ops.claim(job_id, "m", 3)
    assert job is not None
    reporter = ProgressReporter(ops, job_id, ("m", 1), min_interval=10)
    for page in range(200):  # a page loop
        reporter.report(page / 4, "pages", f"page {page}")
    assert reporter.writes == 1
    reporter.report(60, "images")
    reporter.report(100, "images")
    assert reporter.writes == 3
    final = ops.get_job(job_id)
    assert final is not None and (final.progress_percentage, final.progress_stage) == (
        100,
        "images",
    )
