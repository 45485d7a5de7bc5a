"""Limits, CORS, security headers and what an answer never shows.

Rate limits answer 429 RATE_LIMITED with Retry-After (per key, or per
address without one); a PDF over PRESSROOM_MAX_PAGES and an image over
PRESSROOM_MAX_IMAGE_PIXELS are refused before any job exists; a key with
PRESSROOM_MAX_OPEN_JOBS_PER_KEY unfinished jobs gets 429 TOO_MANY_OPEN_JOBS.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pressroom.api import create_app
from pressroom.errors import EngineError, ImageTooLargeError, TooManyPagesError
from pressroom.runtime import Runtime
from pressroom.storage import sniff
from pressroom.tasks.base import classify
from tests.support.api import error_code, submit_bulk, submit_compress
from tests.support.backends import Backend


def test_rate_limit_answers_429_with_retry_after_per_key(
    isolated_backend: Backend, isolated_runtime: Runtime
) -> None:
    settings = isolated_backend.settings(
        auth="api_key", rate_limit_enabled=True, rate_limit="3 per minute"
    )
    client = create_app(settings).test_client()
    _, alice = isolated_runtime.keys.create("alice")
    _, bob = isolated_runtime.keys.create("bob")
    for _ in range(3):
        assert client.get("/api/jobs/x", headers={"X-API-Key": alice}).status_code == 404
    limited = client.get("/api/jobs/x", headers={"X-API-Key": alice})
    assert limited.status_code == 429 and error_code(limited) == "RATE_LIMITED"
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 61  # the window is a minute, rounded up
    assert limited.json["error"]["details"]["retry_after"] == retry_after  # type: ignore[index]
    # another key has its own budget; health probes are never limited
    assert client.get("/api/jobs/x", headers={"X-API-Key": bob}).status_code == 404
    assert all(client.get("/api/health").status_code in (200, 503) for _ in range(5))
    assert int(limited.headers["X-RateLimit-Limit"]) == 3


def test_a_request_that_reaches_no_endpoint_is_not_counted(
    isolated_backend: Backend,
) -> None:
    settings = isolated_backend.settings(rate_limit_enabled=True, rate_limit="2 per minute")
    client = create_app(settings).test_client()
    assert [client.get("/api/no-such-thing").status_code for _ in range(5)] == [404] * 5
    assert client.put("/api/jobs/x").status_code == 405
    # the budget of two is still whole
    assert [client.get("/api/jobs/x").status_code for _ in range(3)] == [404, 404, 429]


def test_a_rate_limit_store_that_is_down_lets_requests_through(
    isolated_backend: Backend,
) -> None:
    # nothing listens on port 1: every count fails at once
    settings = isolated_backend.settings(
        rate_limit_enabled=True,
        rate_limit="1 per minute",
        rate_limit_storage_url="redis://127.0.0.1:1/0",
    )
    client = create_app(settings).test_client()
    answers = [client.get("/api/jobs/x").status_code for _ in range(3)]
    assert answers == [404, 404, 404]


def test_submissions_have_their_own_limit_per_address(
    isolated_backend: Backend, text_pdf: Path
) -> None:
    settings = isolated_backend.settings(rate_limit_enabled=True, rate_limit_submit="2 per minute")
    client = create_app(settings).test_client()
    assert submit_compress(client, text_pdf).status_code == 202
    assert submit_compress(client, text_pdf).status_code == 202
    limited = submit_compress(client, text_pdf)
    assert limited.status_code == 429 and error_code(limited) == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    # reads are not submissions
    assert client.get("/api/jobs/nothing").status_code == 404
    # another address has its own budget
    form = {"file": (io.BytesIO(text_pdf.read_bytes()), "doc.pdf")}
    elsewhere = client.post(
        "/api/compress",
        data=form,
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert elsewhere.status_code == 202


def test_page_limit_refuses_a_long_pdf_before_any_job(
    isolated_backend: Backend, isolated_runtime: Runtime, text_pdf: Path, uncompressed_pdf: Path
) -> None:
    client = create_app(isolated_backend.settings(max_pages=2)).test_client()
    refused = submit_compress(client, text_pdf)  # 3 pages
    assert refused.status_code == 413 and error_code(refused) == "TOO_MANY_PAGES"
    assert refused.json["error"]["details"] == {"pages": 3, "limit": 2}  # type: ignore[index]
    assert isolated_runtime.ops.list_jobs(owner=None)[1] == 0
    # in a bulk request it is that file's error, not the request's
    short = isolated_backend.data_dir / "short.pdf"
    from tests.support.pdfs import text_pdf as make_pdf

    make_pdf(short, pages=1)
    bulk = submit_bulk(client, [(text_pdf, "long.pdf"), (short, "short.pdf")])
    assert bulk.status_code == 202, bulk.json
    files = bulk.json["data"]["files"]  # type: ignore[index]
    assert files[0]["error"]["code"] == "TOO_MANY_PAGES" and files[1]["status"] == "queued"


def test_image_pixel_limit_refuses_decompression_bombs(
    tmp_path: Path, isolated_runtime: Runtime
) -> None:
    files = isolated_runtime.files
    files.max_image_pixels = 10_000
    small, big = tmp_path / "small.png", tmp_path / "big.png"
    Image.new("L", (50, 50)).save(small)
    Image.new("L", (200, 200)).save(big)  # 40,000 pixels, a few hundred bytes
    accept = (sniff.PNG,)
    staged = files.stage_upload(small.open("rb"), "small.png", accept=accept)
    staged.discard()
    with pytest.raises(ImageTooLargeError) as refused:
        files.stage_upload(big.open("rb"), "big.png", accept=accept)
    assert refused.value.http_status == 413
    assert refused.value.details == {"width": 200, "height": 200, "limit": 10_000}
    assert not list(files.staging_dir.glob("upload-*"))
    # inside a job, Pillow's own bomb check becomes the same code, not INTERNAL_ERROR
    assert isolated_runtime.settings.max_image_pixels == Image.MAX_IMAGE_PIXELS
    assert classify(Image.DecompressionBombError("too big")).code == "IMAGE_TOO_LARGE"
    assert TooManyPagesError.http_status == 413


def test_open_jobs_per_key(
    isolated_backend: Backend, isolated_runtime: Runtime, text_pdf: Path, uncompressed_pdf: Path
) -> None:
    settings = isolated_backend.settings(auth="api_key", max_open_jobs_per_key=1)
    client = create_app(settings).test_client()  # no worker: jobs stay pending
    _, alice = isolated_runtime.keys.create("alice")
    _, bob = isolated_runtime.keys.create("bob")
    first = submit_compress(client, text_pdf, headers={"X-API-Key": alice}, job_id="one")
    assert first.status_code == 202
    second = submit_compress(client, uncompressed_pdf, headers={"X-API-Key": alice})
    assert second.status_code == 429 and error_code(second) == "TOO_MANY_OPEN_JOBS"
    assert int(second.headers["Retry-After"]) >= 1
    # a replay of the open job is not a new job
    again = submit_compress(client, text_pdf, headers={"X-API-Key": alice}, job_id="one")
    assert again.status_code == 202
    assert submit_compress(client, text_pdf, headers={"X-API-Key": bob}).status_code == 202
    # once the job is finished there is room again
    assert client.delete("/api/jobs/one", headers={"X-API-Key": alice}).status_code == 200
    assert (
        submit_compress(client, uncompressed_pdf, headers={"X-API-Key": alice}).status_code == 202
    )
    assert isolated_runtime.ops.list_jobs(owner=None)[1] == 0  # keyed jobs are not ownerless


def test_cors_only_for_configured_origins(isolated_backend: Backend) -> None:
    settings = isolated_backend.settings(auth="api_key", cors_origins="https://app.example.org")
    client = create_app(settings).test_client()
    allowed = client.get("/api/openapi.json", headers={"Origin": "https://app.example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "Location" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/openapi.json", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # a preflight needs no key, and allows the key header
    preflight = client.options(
        "/api/compress",
        headers={
            "Origin": "https://app.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    # no origins configured: no CORS headers at all
    plain = create_app(isolated_backend.settings()).test_client()
    answer = plain.get("/api/openapi.json", headers={"Origin": "https://app.example.org"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_security_headers_on_every_answer(isolated_backend: Backend, text_pdf: Path) -> None:
    client = create_app(isolated_backend.settings()).test_client()
    answers = [
        client.get("/api/docs"),
        client.get("/api/openapi.json"),
        client.get("/api/jobs/unknown"),
        client.post("/api/compress"),
        submit_compress(client, text_pdf),
        client.get("/nowhere"),
    ]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        csp = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-eval" not in csp


def test_no_internals_in_any_answer(isolated_backend: Backend) -> None:
    settings = isolated_backend.settings(
        broker_url="redis://:hunter2@127.0.0.1:1/0", webhook_secret="s3cret-value"
    )
    app = create_app(settings)

    def explode() -> str:
        raise RuntimeError(f"boom in {settings.data_dir}/secret.py")

    app.add_url_rule("/api/test-explode", "explode", explode)

    def engine_error() -> str:
        raise EngineError(detail=f"FileNotFoundError: '{settings.data_dir}/tmp/job-1/in.pdf'")

    app.add_url_rule("/api/test-engine-error", "engine_error", engine_error)
    client = app.test_client()
    crashed = client.get("/api/test-explode")
    assert crashed.status_code == 500 and error_code(crashed) == "INTERNAL_ERROR"
    health = client.get("/api/health")
    engine = client.get("/api/test-engine-error")
    assert engine.status_code == 422
    assert engine.json["error"]["details"]["detail"] == "FileNotFoundError: '<path>'"  # type: ignore[index]
    for answer in (crashed, health, engine, client.get("/api/openapi.json")):
        text = answer.get_data(as_text=True)
        for secret in (str(settings.data_dir), "hunter2", "redis://", "Traceback", "s3cret"):
            assert secret not in text
    for path in ("/console", "/debug", "/api/debug", "/_debug", "/api/config"):
        assert client.get(path).status_code == 404, path
