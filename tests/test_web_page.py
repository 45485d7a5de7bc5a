"""The web page at / in headless Chromium (Debian's, driven by Playwright),
against a real embedded service: what a person does and sees."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from tests.support import pdfs
from tests.support.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: scripts/system-deps.sh --with-browser"
)


@pytest.fixture(scope="module")
def page(live_server: LiveServer) -> Page:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(live_server.url + "/")
        expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
        yield page
        browser.close()


def test_compress_a_pdf_watch_it_reach_100_and_download_it(page: Page, tmp_path: Path) -> None:
    pdf = pdfs.uncompressed_pdf(tmp_path / "report.pdf", pages=4)
    # the choices come from the server's capabilities
    options = page.locator("#operation option")
    assert "compress" in [options.nth(i).get_attribute("value") for i in range(options.count())]
    page.select_option("#operation", "compress")
    expect(page.locator("#f-compressionLevel")).to_be_visible()
    page.select_option("#f-compressionLevel", "high")
    page.set_input_files("#file-input", str(pdf))
    expect(page.locator("#file-list")).to_contain_text("report.pdf")
    page.get_by_role("button", name="Start").click()

    card = page.locator("#current .job").first
    expect(card).to_have_attribute("data-status", "completed", timeout=120_000)
    expect(card.locator("progress")).to_have_attribute("value", "100")
    expect(card.locator(".job-progress")).to_contain_text("100 %")
    expect(card.locator(".job-summary")).to_contain_text(re.compile(r"saved \(\d+(\.\d+)? %\)"))

    with page.expect_download() as download_info:
        card.get_by_role("link", name=re.compile("Download")).click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == "report_compressed.pdf"
    assert saved.read_bytes().startswith(b"%PDF")
    assert 0 < saved.stat().st_size < pdf.stat().st_size

    # this browser's recent jobs list it, with its state
    job_id = card.get_attribute("data-job-id")
    row = page.locator(f'#recent tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("Completed")
    page.reload()
    expect(page.locator(f'#recent tr[data-job-id="{job_id}"]')).to_contain_text("Completed")


def test_a_file_that_is_not_a_pdf_is_refused_in_plain_words(page: Page, tmp_path: Path) -> None:
    notes = tmp_path / "notes.pdf"
    notes.write_text("just some text, not a PDF\n")
    page.select_option("#operation", "compress")
    page.set_input_files("#file-input", str(notes))
    page.get_by_role("button", name="Start").click()
    error = page.locator("#current .job").first.locator(".job-error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("The file is not a PDF")
    expect(error).to_contain_text("UNSUPPORTED_FILE_TYPE")
    expect(error).to_have_attribute("role", "alert")


def test_a_wrong_option_names_the_field(page: Page, tmp_path: Path) -> None:
    pdf = pdfs.text_pdf(tmp_path / "small.pdf", pages=1)
    page.select_option("#operation", "compress")
    page.fill("#f-imageQuality", "5")  # below the server's minimum of 10
    page.set_input_files("#file-input", str(pdf))
    page.get_by_role("button", name="Start").click()
    error = page.locator("#current .job").first.locator(".job-error")
    expect(error).to_contain_text("VALIDATION_ERROR", timeout=30_000)
    expect(error).to_contain_text("Image quality")


def test_an_operation_with_an_options_object_is_offered_and_sent_as_json(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    """An operation the page has never heard of, with an ``options`` object
    in its multipart form (as OCR has), appears from the capabilities alone:
    its nested fields are rendered, and the object travels as JSON text."""
    from pydantic import BaseModel, ConfigDict, Field, Json

    class Options(BaseModel):
        language: str = Field("eng", description="Tesseract languages, e.g. eng+deu.")
        quality: Literal["fast", "accurate"] = "fast"
        deskew: bool = False

    class Form(BaseModel):
        model_config = ConfigDict(extra="forbid")
        options: Json[Options] | None = None

    extra = {
        "name": "ocr_example",
        "path": "/api/ocr-example",
        "method": "POST",
        "summary": "Read the text of a scan",
        "body": "file",
        "accepts": ["application/pdf"],
        "queued": True,
        "task_type": "ocr",
        "fields": Form.model_json_schema(),
        "available": True,
    }
    sent: dict[str, str] = {}

    def capabilities(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        body["data"]["operations"].append(extra)
        route.fulfill(response=answer, json=body)

    def submit(route: Route) -> None:
        request = route.request
        boundary = request.headers["content-type"].split("boundary=")[1]
        for part in (request.post_data_buffer or b"").split(b"--" + boundary.encode()):
            if b'name="options"' in part:
                sent["options"] = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0].decode()
        route.fulfill(
            status=400,
            json={
                "success": False,
                "timestamp": "2026-01-01T00:00:00Z",
                "request_id": "x" * 8,
                "error": {
                    "code": "VALIDATION_ERROR",
                    "message": "Checked by the test.",
                    "details": {"errors": [{"field": "options.quality", "problem": "seen"}]},
                },
            },
        )

    page.route("**/api/extended-features/capabilities", capabilities)
    page.route("**/api/ocr-example", submit)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
    page.select_option("#operation", "ocr_example")
    expect(page.get_by_role("group", name="Options").last).to_be_visible()
    page.get_by_label("Language").fill("eng+deu")
    page.get_by_label("Quality").select_option("accurate")
    page.get_by_label("Deskew").check()
    page.set_input_files("#file-input", str(pdfs.text_pdf(tmp_path / "scan.pdf", pages=1)))
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#current .job").first.locator(".job-error")).to_contain_text(
        "Options.quality: seen"
    )
    assert json.loads(sent["options"]) == {
        "language": "eng+deu",
        "quality": "accurate",
        "deskew": True,
    }
    page.unroute("**/api/extended-features/capabilities")
    page.unroute("**/api/ocr-example")
    page.reload()
