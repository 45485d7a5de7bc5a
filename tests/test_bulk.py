"""Bulk compression: many files in one job, one zip, per-file results and errors.

Through the real API, queue, database, worker and engines on every backend;
the submission checks on a backend with no worker; and the task function in
this process, for failures that only the engines can cause."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from pressroom.api import create_app
from pressroom.errors import DamagedPDFError, EngineTimeoutError, JobCancelledError
from pressroom.jobs.progress import ProgressSlice
from pressroom.jobs.states import TaskType
from pressroom.runtime import Runtime
from pressroom.services.compression import CompressionService
from pressroom.storage.tempfiles import TemporaryFileManager
from pressroom.tasks import compression as compression_tasks
from pressroom.tasks.base import TaskContext
from tests.conftest import FaultPlan
from tests.support import pdfs
from tests.support.api import error_code, job, submit_bulk, wait_for
from tests.support.backends import Backend
from tests.support.worker import WorkerProcess
from tests.test_api_submission import footprint


def zip_members(data: bytes, dest: Path) -> dict[str, Path]:
    """Unpack a downloaded zip; every member must be a PDF that qpdf checks clean."""
    members = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            path = dest / f"member-{len(members)}.pdf"
            path.write_bytes(archive.read(info))
            check = subprocess.run(
                ["qpdf", "--check", str(path)], capture_output=True, text=True, timeout=60
            )
            assert check.returncode == 0, (info.filename, check.stdout, check.stderr)
            members[info.filename] = path
    return members


def scratch_folders(rt: Runtime, job_id: str) -> list[Path]:
    return list((rt.settings.data_dir / "tmp").glob(f"job-{job_id}-*"))


# -- end to end, with the worker --------------------------------------------------------
@pytest.mark.worker
def test_one_bad_file_among_good_ones(
    client: FlaskClient,
    worker: WorkerProcess,
    runtime: Runtime,
    text_pdf: Path,
    uncompressed_pdf: Path,
    optimal_pdf: Path,
    truncated_pdf: Path,
    tmp_path: Path,
) -> None:
    files: list[tuple[Path | bytes, str]] = [
        (uncompressed_pdf, "report.pdf"),
        (truncated_pdf, "broken.pdf"),
        (text_pdf, "Report.pdf"),  # the same name but for case: its zip name must differ
        (optimal_pdf, "dir/../scan.pdf"),
    ]
    response = submit_bulk(client, files, compressionLevel="lossless")
    assert response.status_code == 202, response.json
    data = response.json["data"]  # type: ignore[index]
    assert data["task_type"] == "bulk_compress" and data["status"] == "pending"
    assert [(f["filename"], f["status"]) for f in data["files"]] == [
        ("report.pdf", "queued"),
        ("broken.pdf", "rejected"),
        ("Report.pdf", "queued"),
        ("scan.pdf", "queued"),
    ]
    assert data["files"][1]["error"]["code"] == "PDF_DAMAGED"

    view = wait_for(client, data["job_id"])
    assert view["status"] == "completed", view
    assert view["progress"]["percentage"] == 100
    result = view["result"]
    rows = result["files"]
    assert [(r["filename"], r["status"]) for r in rows] == [
        ("report.pdf", "completed"),
        ("broken.pdf", "failed"),
        ("Report.pdf", "completed"),
        ("scan.pdf", "completed"),
    ]
    bad = rows[1]
    assert bad["error"]["code"] == "PDF_DAMAGED" and bad["error"]["message"]
    assert bad["compressed_size"] is None and bad["compression_ratio"] is None
    for row, source in zip([rows[0], rows[2], rows[3]], [uncompressed_pdf, text_pdf, optimal_pdf]):
        assert row["error"] is None
        assert row["original_size"] == source.stat().st_size
        assert 0 < row["compressed_size"] <= row["original_size"]
        assert 0 <= row["compression_ratio"] < 100
    assert rows[0]["compressed_size"] < rows[0]["original_size"]  # uncompressed: shrinks
    totals = result["totals"]
    assert (totals["files"], totals["completed"], totals["failed"]) == (4, 3, 1)
    assert totals["original_size"] == sum(r["original_size"] for r in rows if r["error"] is None)
    assert totals["compressed_size"] == sum(
        r["compressed_size"] for r in rows if r["error"] is None
    )
    assert result["file"]["filename"] == "compressed_files.zip"
    assert result["file"]["mime"] == "application/zip" and "key" not in result["file"]

    download = client.get(view["download_url"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "compressed_files.zip" in download.headers["Content-Disposition"]
    members = zip_members(download.data, tmp_path)
    assert set(members) == {
        "report_compressed.pdf",
        "Report_compressed (2).pdf",
        "scan_compressed.pdf",
    }
    assert [r.get("output_filename") for r in rows] == [
        "report_compressed.pdf",
        None,
        "Report_compressed (2).pdf",
        "scan_compressed.pdf",
    ]
    for row in (rows[0], rows[2], rows[3]):
        assert members[row["output_filename"]].stat().st_size == row["compressed_size"]
    assert pdfs.pdf_text(members["report_compressed.pdf"]) == pdfs.pdf_text(uncompressed_pdf)
    # the inputs are gone once the job finished; only the zip stays
    inputs = runtime.settings.files_root / "jobs" / data["job_id"] / "input"
    assert not inputs.exists() or not any(inputs.iterdir())
    assert not scratch_folders(runtime, data["job_id"])


@pytest.mark.worker
def test_the_bulk_alias_with_file_repeated(
    client: FlaskClient, worker: WorkerProcess, text_pdf: Path, tmp_path: Path
) -> None:
    response = submit_bulk(
        client, [(text_pdf, "a.pdf"), (text_pdf, "b.pdf")], path="/api/bulk", field="file"
    )
    assert response.status_code == 202, response.json
    assert response.headers["Location"].startswith("/api/jobs/")
    view = wait_for(client, response.json["data"]["job_id"])  # type: ignore[index]
    assert view["status"] == "completed", view
    assert view["result"]["totals"]["completed"] == 2
    members = zip_members(client.get(view["download_url"]).data, tmp_path)
    assert set(members) == {"a_compressed.pdf", "b_compressed.pdf"}


@pytest.mark.worker
def test_cancelling_a_running_bulk_job_stops_it(
    client: FlaskClient, faults: FaultPlan, runtime: Runtime, text_pdf: Path
) -> None:
    job_id = faults.add("sleep", seconds=3, attempts=[1])  # every engine call of attempt 1
    files: list[tuple[Path | bytes, str]] = [(text_pdf, f"part-{n}.pdf") for n in range(1, 4)]
    assert submit_bulk(client, files, job_id=job_id).status_code == 202
    faults.pid(job_id)  # the worker is inside the first file's first engine call
    running = job(client, job_id)
    assert running["status"] == "processing"
    assert "file 1/3: part-1.pdf" in running["progress"]["message"]
    response = client.delete(f"/api/jobs/{job_id}")
    assert response.json["data"]["status"] == "cancelled"  # type: ignore[index]
    # the worker learns of the cancel at its next progress write, within the
    # first file, and removes its scratch folder; the two files left would
    # have taken at least 2 x 3 engine calls x 3 s more
    deadline = time.monotonic() + 12
    while scratch_folders(runtime, job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not scratch_folders(runtime, job_id), "the bulk job kept running after its cancel"
    view = job(client, job_id)
    assert view["status"] == "cancelled" and view["result"] is None
    assert view["error"]["code"] == "JOB_CANCELLED"
    folder = runtime.settings.files_root / "jobs" / job_id
    assert not any(p.is_file() for p in folder.rglob("*")) if folder.exists() else True


@pytest.mark.worker
def test_a_transient_error_retries_the_whole_bulk_job(
    client: FlaskClient, faults: FaultPlan, text_pdf: Path
) -> None:
    job_id = faults.add("transient", attempts=[1])
    files: list[tuple[Path | bytes, str]] = [(text_pdf, "a.pdf"), (text_pdf, "b.pdf")]
    assert submit_bulk(client, files, job_id=job_id).status_code == 202
    view = wait_for(client, job_id)
    assert view["status"] == "completed", view
    assert view["attempts"] == 2
    assert view["result"]["totals"]["completed"] == 2


@pytest.mark.worker
def test_every_file_failing_fails_the_job_with_each_error(
    client: FlaskClient, faults: FaultPlan, text_pdf: Path
) -> None:
    job_id = faults.add("fail", attempts=[1])  # a permanent engine error on every file
    files: list[tuple[Path | bytes, str]] = [(text_pdf, "first.pdf"), (text_pdf, "second.pdf")]
    assert submit_bulk(client, files, job_id=job_id).status_code == 202
    view = wait_for(client, job_id)
    assert view["status"] == "failed" and view["attempts"] == 1
    assert view["error"]["code"] == "BULK_ALL_FAILED"
    message = view["error"]["message"]
    assert "first.pdf: ENGINE_FAILED" in message and "second.pdf: ENGINE_FAILED" in message
    assert view["download_url"] is None


# -- submission, with no worker -----------------------------------------------------------
def _app_client(backend: Backend, **settings: Any) -> tuple[FlaskClient, Runtime]:
    app = create_app(backend.settings(**settings))
    return app.test_client(), app.extensions["pressroom"]


def test_bad_files_are_recorded_not_dropped(
    isolated_backend: Backend, text_pdf: Path, encrypted_pdf: Path
) -> None:
    client, rt = _app_client(isolated_backend)
    files: list[tuple[Path | bytes, str]] = [
        (b"", "empty.pdf"),
        (text_pdf, "good.pdf"),
        (b"GIF89a not a document" * 10, "image.pdf"),
        (encrypted_pdf, "locked.pdf"),
        (text_pdf.read_bytes() + b"%" + b"x" * (6 * 1024 * 1024), "huge.pdf"),
    ]
    response = submit_bulk(client, files)
    assert response.status_code == 202, response.json
    data = response.json["data"]  # type: ignore[index]
    statuses = [(f["filename"], f["status"], (f["error"] or {}).get("code")) for f in data["files"]]
    assert statuses == [
        ("empty.pdf", "rejected", "EMPTY_FILE"),
        ("good.pdf", "queued", None),
        ("image.pdf", "rejected", "UNSUPPORTED_FILE_TYPE"),
        ("locked.pdf", "rejected", "PDF_ENCRYPTED"),
        ("huge.pdf", "rejected", "FILE_TOO_LARGE"),
    ]
    stored = rt.ops.get_job(data["job_id"])
    assert stored is not None
    entries = stored.input_data["files"]
    assert [e.get("error", {}).get("code") for e in entries] == [
        "EMPTY_FILE",
        None,
        "UNSUPPORTED_FILE_TYPE",
        "PDF_ENCRYPTED",
        "FILE_TOO_LARGE",
    ]
    assert entries[1]["input_key"] == f"jobs/{data['job_id']}/input/2.pdf"
    assert rt.files.storage.exists(entries[1]["input_key"])
    inputs = rt.settings.files_root / "jobs" / data["job_id"] / "input"
    assert sorted(p.name for p in inputs.iterdir()) == ["2.pdf"]
    assert not list(rt.files.staging_dir.glob("upload-*"))


def test_every_file_bad_is_the_first_files_error(
    isolated_backend: Backend, truncated_pdf: Path, encrypted_pdf: Path
) -> None:
    client, rt = _app_client(isolated_backend)
    before = footprint(rt)
    files: list[tuple[Path | bytes, str]] = [
        (truncated_pdf, "broken.pdf"),
        (encrypted_pdf, "locked.pdf"),
        (b"", "empty.pdf"),
    ]
    response = submit_bulk(client, files, path="/api/bulk")
    assert (response.status_code, error_code(response)) == (422, "PDF_DAMAGED")
    details = response.json["error"]["details"]  # type: ignore[index]
    assert [(f["filename"], f["error"]["code"]) for f in details["files"]] == [
        ("broken.pdf", "PDF_DAMAGED"),
        ("locked.pdf", "PDF_ENCRYPTED"),
        ("empty.pdf", "EMPTY_FILE"),
    ]
    assert footprint(rt) == before


def test_too_many_files(isolated_backend: Backend, text_pdf: Path) -> None:
    client, rt = _app_client(isolated_backend, bulk_max_files=2)
    before = footprint(rt)
    files: list[tuple[Path | bytes, str]] = [(text_pdf, f"{n}.pdf") for n in range(3)]
    response = submit_bulk(client, files)
    assert (response.status_code, error_code(response)) == (400, "TOO_MANY_FILES")
    assert response.json["error"]["details"] == {"count": 3, "limit": 2}  # type: ignore[index]
    assert footprint(rt) == before
    assert submit_bulk(client, files[:2]).status_code == 202


def test_total_size_limit(isolated_backend: Backend, text_pdf: Path) -> None:
    client, rt = _app_client(isolated_backend, bulk_max_total_mb=1)
    before = footprint(rt)
    padded = text_pdf.read_bytes() + b"\n%" + b"x" * (600 * 1024) + b"\n"
    # within the body limit (1 MiB + form overhead), but the files add up to more
    response = submit_bulk(client, [(padded, "a.pdf"), (padded, "b.pdf")])
    assert (response.status_code, error_code(response)) == (413, "FILE_TOO_LARGE")
    # a body announced larger than the limit is refused before it is read
    big = [(padded, f"{n}.pdf") for n in range(4)]
    response = submit_bulk(client, big, path="/api/bulk")
    assert (response.status_code, error_code(response)) == (413, "FILE_TOO_LARGE")
    assert footprint(rt) == before
    assert submit_bulk(client, [(padded, "a.pdf")]).status_code == 202


def test_bulk_request_problems(isolated_backend: Backend, text_pdf: Path) -> None:
    client, rt = _app_client(isolated_backend)
    before = footprint(rt)
    missing = client.post(
        "/api/compress/bulk", data={"compressionLevel": "low"}, content_type="multipart/form-data"
    )
    assert (missing.status_code, error_code(missing)) == (400, "MISSING_FILE")
    wrong_field = submit_bulk(client, [(text_pdf, "a.pdf")], field="documents")
    assert (wrong_field.status_code, error_code(wrong_field)) == (400, "VALIDATION_ERROR")
    bad_option = submit_bulk(client, [(text_pdf, "a.pdf")], compressionLevel="extreme")
    assert (bad_option.status_code, error_code(bad_option)) == (400, "VALIDATION_ERROR")
    assert footprint(rt) == before


def test_bulk_job_id_is_idempotent(isolated_backend: Backend, text_pdf: Path) -> None:
    client, rt = _app_client(isolated_backend)
    files: list[tuple[Path | bytes, str]] = [(text_pdf, "a.pdf"), (b"", "b.pdf")]
    first = submit_bulk(client, files, job_id="bulk-client-1", compressionLevel="high")
    assert first.status_code == 202
    replay = submit_bulk(client, files, job_id="bulk-client-1", compressionLevel="high")
    assert replay.status_code == 202
    assert replay.json["message"] == "Job already submitted with this job_id"  # type: ignore[index]
    assert replay.json["data"]["files"] == first.json["data"]["files"]  # type: ignore[index]
    other = submit_bulk(client, files[:1], job_id="bulk-client-1", compressionLevel="high")
    assert (other.status_code, error_code(other)) == (409, "JOB_ID_CONFLICT")
    assert footprint(rt)[:2] == (1, 1)
    assert not list(rt.files.staging_dir.glob("upload-*"))


def test_openapi_documents_bulk(isolated_backend: Backend) -> None:
    client, _ = _app_client(isolated_backend)
    doc = client.get("/api/openapi.json").json
    assert doc is not None
    for path in ("/api/compress/bulk", "/api/bulk"):
        schema = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"][
            "schema"
        ]
        assert schema["properties"]["files"]["type"] == "array"
        assert "compressionLevel" in schema["properties"]
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert {"TOO_MANY_FILES", "BULK_ALL_FAILED"} <= set(codes["enum"])


# -- the task function in this process ---------------------------------------------------
class Recorder:
    """A progress reporter that records; it can be told the job was cancelled."""

    def __init__(self, cancel_at: str | None = None) -> None:
        self.reports: list[tuple[int, str, str]] = []
        self.cancel_at = cancel_at

    def report(self, percentage: float, stage: str, message: str = "") -> None:
        if self.cancel_at and self.cancel_at in message:
            raise JobCancelledError()
        self.reports.append((int(percentage), stage, message))


class FailsOnFile2(CompressionService):
    """The real service, except that the second file raises ``error``."""

    error: Exception = DamagedPDFError("qpdf gave up on this one")

    def compress(self, src: Path, workdir: Path, options: Any, progress: Any, **known: Any) -> Any:
        if workdir.name == "file-2":
            raise self.error
        return super().compress(src, workdir, options, progress, **known)


def run_bulk(rt: Runtime, tmp_path: Path, sources: list[Path], progress: Recorder) -> Any:
    job_id = f"bulk-unit-{time.monotonic_ns()}"
    entries = []
    for n, source in enumerate(sources, 1):
        copy = tmp_path / f"in-{n}.pdf"
        shutil.copyfile(source, copy)
        key = rt.files.nth_input_key(job_id, n, "application/pdf")
        rt.files.storage.put_file(key, copy)
        entries.append(
            {"index": n, "filename": f"f{n}.pdf", "size": source.stat().st_size, "input_key": key}
        )
    input_data = {"options": {"compressionLevel": "lossless"}, "files": entries}
    with TemporaryFileManager(rt.settings.data_dir / "tmp", prefix=f"job-{job_id}-") as scratch:
        ctx = TaskContext(job_id, input_data, 1, progress, scratch, rt)  # type: ignore[arg-type]
        outcome = compression_tasks.bulk_compress(ctx)
        if outcome.file is not None:
            shutil.copyfile(outcome.file, tmp_path / "out.zip")
        return outcome


def test_a_file_failing_in_the_engine_is_reported_and_the_others_go_on(
    isolated_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    text_pdf: Path,
    uncompressed_pdf: Path,
) -> None:
    monkeypatch.setattr(compression_tasks, "CompressionService", FailsOnFile2)
    progress = Recorder()
    outcome = run_bulk(isolated_runtime, tmp_path, [uncompressed_pdf, text_pdf, text_pdf], progress)
    rows = outcome.result["files"]
    assert [r["status"] for r in rows] == ["completed", "failed", "completed"]
    assert rows[1]["error"] == {"code": "PDF_DAMAGED", "message": "qpdf gave up on this one"}
    assert outcome.result["totals"]["completed"] == 2
    assert outcome.mime == "application/zip" and outcome.filename == "compressed_files.zip"
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.namelist() == ["f1_compressed.pdf", "f3_compressed.pdf"]
    # progress: never backwards, each file named, 3 files' slices in 0-95
    percentages = [p for p, _, _ in progress.reports]
    assert percentages == sorted(percentages) and percentages[-1] == 95
    messages = [m for _, _, m in progress.reports]
    assert any(m.startswith("file 1/3: f1.pdf") for m in messages)
    assert any(m.startswith("file 3/3: f3.pdf") for m in messages)
    assert progress.reports[-1][1] == "packaging"


@pytest.mark.parametrize("error", [EngineTimeoutError(), JobCancelledError()])
def test_transient_errors_and_cancels_stop_the_whole_job(
    error: Exception,
    isolated_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    text_pdf: Path,
) -> None:
    monkeypatch.setattr(FailsOnFile2, "error", error)
    monkeypatch.setattr(compression_tasks, "CompressionService", FailsOnFile2)
    with pytest.raises(type(error)):
        run_bulk(isolated_runtime, tmp_path, [text_pdf, text_pdf, text_pdf], Recorder())


def test_a_cancel_seen_in_progress_stops_before_the_next_file(
    isolated_runtime: Runtime, tmp_path: Path, text_pdf: Path
) -> None:
    progress = Recorder(cancel_at="file 2/3")
    with pytest.raises(JobCancelledError):
        run_bulk(isolated_runtime, tmp_path, [text_pdf, text_pdf, text_pdf], progress)
    assert not any("file 3/3" in m for _, _, m in progress.reports)


def test_zip_names_are_unique_and_safe() -> None:
    names = compression_tasks.ZipNames()
    assert names.add("a_compressed.pdf") == "a_compressed.pdf"
    assert names.add("A_compressed.pdf") == "A_compressed (2).pdf"
    assert names.add("a_compressed.pdf") == "a_compressed (3).pdf"
    assert names.add('what?: "x"|y*_compressed.pdf') == "what__ _x__y__compressed.pdf"
    assert names.add("..") == "document.pdf"


def test_progress_slice_maps_into_its_part() -> None:
    seen = Recorder()
    part = ProgressSlice(seen, 40, 60, "file 3/5: c.pdf")
    part.report(0, "inspecting", "Reading")
    part.report(50, "structure", "")
    part.report(150, "finishing", "Done")
    assert seen.reports == [
        (40, "inspecting", "file 3/5: c.pdf: Reading"),
        (50, "structure", "file 3/5: c.pdf"),
        (60, "finishing", "file 3/5: c.pdf: Done"),
    ]


def test_task_is_registered() -> None:
    from pressroom.tasks.base import REGISTRY

    assert REGISTRY[TaskType.BULK_COMPRESS] is compression_tasks.bulk_compress
