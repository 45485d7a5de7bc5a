"""Bad input through the real HTTP API: each case answers its own code and
status, and leaves no job row and no file behind."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pressroom.api import create_app
from pressroom.runtime import Runtime
from tests.support.api import error_code, job, submit_compress
from tests.support.backends import Backend


def footprint(rt: Runtime) -> tuple[int, int, int]:
    """(job rows, job folders, staging files): what a rejected request must not grow."""
    _, total = rt.ops.list_jobs(owner=None, limit=1)
    folders = len(list(rt.files.job_folders()))
    staging = len(list(rt.files.staging_dir.glob("upload-*")))
    return total, folders, staging


def test_a_pdf_is_accepted_with_the_contract_envelope(
    isolated_backend: Backend, text_pdf: Path
) -> None:
    client = create_app(isolated_backend.settings()).test_client()
    response = submit_compress(client, text_pdf, compressionLevel="high", imageQuality=60)
    assert response.status_code == 202
    body = response.json
    assert body is not None and body["status"] == "success" and body["message"]
    data = body["data"]
    assert data["status"] == "pending" and data["task_type"] == "compress"
    assert response.headers["Location"] == f"/api/jobs/{data['job_id']}"
    assert uuid.UUID(data["job_id"]).version == 4
    assert job(client, data["job_id"])["status"] == "pending"


CASES = {
    "empty file": (lambda pdfs: b"", {}, 400, "EMPTY_FILE"),
    "not a pdf named .pdf": (
        lambda pdfs: b"GIF89a this is an image, not a document" * 10,
        {},
        415,
        "UNSUPPORTED_FILE_TYPE",
    ),
    "truncated pdf": (lambda pdfs: pdfs["truncated"], {}, 422, "PDF_DAMAGED"),
    "encrypted pdf": (lambda pdfs: pdfs["encrypted"], {}, 422, "PDF_ENCRYPTED"),
    "oversized upload": (
        lambda pdfs: pdfs["text"] + b"%" + b"x" * (6 * 1024 * 1024),
        {},
        413,
        "FILE_TOO_LARGE",
    ),
    "misspelled field": (
        lambda pdfs: pdfs["text"],
        {"compresionLevel": "high"},
        400,
        "VALIDATION_ERROR",
    ),
    "bad level": (
        lambda pdfs: pdfs["text"],
        {"compressionLevel": "extreme"},
        400,
        "VALIDATION_ERROR",
    ),
    "quality out of range": (
        lambda pdfs: pdfs["text"],
        {"imageQuality": "5"},
        400,
        "VALIDATION_ERROR",
    ),
    "invalid job id": (
        lambda pdfs: pdfs["text"],
        {"job_id": "../../etc/passwd"},
        400,
        "INVALID_JOB_ID",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_its_code_and_leaves_nothing(
    case: str,
    isolated_backend: Backend,
    text_pdf: Path,
    truncated_pdf: Path,
    encrypted_pdf: Path,
) -> None:
    app = create_app(isolated_backend.settings())
    rt: Runtime = app.extensions["pressroom"]
    client = app.test_client()
    pdfs = {
        "text": text_pdf.read_bytes(),
        "truncated": truncated_pdf.read_bytes(),
        "encrypted": encrypted_pdf.read_bytes(),
    }
    make, fields, status, code = CASES[case]
    before = footprint(rt)
    response = submit_compress(client, make(pdfs), **fields)
    assert (response.status_code, error_code(response)) == (status, code)
    assert footprint(rt) == before


def test_missing_file_field(client: FlaskClient) -> None:
    response = client.post(
        "/api/compress", data={"compressionLevel": "low"}, content_type="multipart/form-data"
    )
    assert (response.status_code, error_code(response)) == (400, "MISSING_FILE")


def test_duplicate_job_id(isolated_backend: Backend, text_pdf: Path, encrypted_pdf: Path) -> None:
    app = create_app(isolated_backend.settings())
    client = app.test_client()
    job_id = f"client-{uuid.uuid4().hex[:10]}"
    first = submit_compress(client, text_pdf, job_id=job_id)
    assert first.status_code == 202
    # the same request again (a client retrying) is the same job, not a new one
    replay = submit_compress(client, text_pdf, job_id=job_id)
    assert replay.status_code == 202 and replay.json["data"]["job_id"] == job_id  # type: ignore[index]
    # the same id for different content is a conflict
    other = submit_compress(client, text_pdf, job_id=job_id, compressionLevel="maximum")
    assert (other.status_code, error_code(other)) == (409, "JOB_ID_CONFLICT")
    rt: Runtime = app.extensions["pressroom"]
    assert footprint(rt)[:2] == (1, 1)


def test_unknown_job_and_early_download(isolated_backend: Backend, text_pdf: Path) -> None:
    client = create_app(isolated_backend.settings()).test_client()
    for path in ("/api/jobs/nope", "/api/jobs/nope/download", "/api/jobs/nope/events"):
        response = client.get(path)
        assert (response.status_code, error_code(response)) == (404, "JOB_NOT_FOUND")
    assert error_code(client.delete("/api/jobs/nope")) == "JOB_NOT_FOUND"
    job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
    early = client.get(f"/api/jobs/{job_id}/download")
    assert (early.status_code, error_code(early)) == (409, "JOB_NOT_READY")


def test_unknown_route_and_method_use_the_envelope(client: FlaskClient) -> None:
    missing = client.get("/api/nothing-here")
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")
    wrong = client.get("/api/compress")
    assert (wrong.status_code, error_code(wrong)) == (405, "METHOD_NOT_ALLOWED")
    bad_filter = client.get("/api/jobs?status=exploded")
    assert (bad_filter.status_code, error_code(bad_filter)) == (400, "VALIDATION_ERROR")


def test_cancel_a_pending_job(isolated_backend: Backend, text_pdf: Path) -> None:
    app = create_app(isolated_backend.settings())
    rt: Runtime = app.extensions["pressroom"]
    client = app.test_client()
    job_id = submit_compress(client, text_pdf).json["data"]["job_id"]  # type: ignore[index]
    response = client.delete(f"/api/jobs/{job_id}")
    assert response.status_code == 200
    view = response.json["data"]  # type: ignore[index]
    assert view["status"] == "cancelled" and view["error"]["code"] == "JOB_CANCELLED"
    assert not rt.files.storage.exists(rt.files.input_key(job_id, "application/pdf"))
    assert error_code(client.get(f"/api/jobs/{job_id}/download")) == "JOB_NOT_READY"


@pytest.mark.services
def test_broker_down_at_submission_is_503_and_leaves_no_job(tmp_path: Path, text_pdf: Path) -> None:
    from tests.conftest import make_backend

    backend = make_backend("pg_redis", tmp_path)
    backend.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    app = create_app(backend.settings())
    rt: Runtime = app.extensions["pressroom"]
    before = footprint(rt)
    response = app.test_client().post(
        "/api/compress",
        data={"file": (text_pdf.open("rb"), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert (response.status_code, error_code(response)) == (503, "BROKER_UNAVAILABLE")
    assert response.headers["Retry-After"]
    assert footprint(rt) == before


def test_job_listing_filters_and_pages(isolated_backend: Backend, text_pdf: Path) -> None:
    client = create_app(isolated_backend.settings()).test_client()
    ids = [submit_compress(client, text_pdf).json["data"]["job_id"] for _ in range(3)]  # type: ignore[index]
    client.delete(f"/api/jobs/{ids[0]}")
    page = client.get("/api/jobs?limit=2").json["data"]  # type: ignore[index]
    assert page["total"] == 3 and len(page["jobs"]) == 2
    assert [j["job_id"] for j in page["jobs"]] == ids[::-1][:2]  # newest first
    cancelled = client.get("/api/jobs?status=cancelled").json["data"]  # type: ignore[index]
    assert [j["job_id"] for j in cancelled["jobs"]] == [ids[0]]
