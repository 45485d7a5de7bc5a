"""The AI endpoints end to end: the real API, queue, database and a real
worker; offline on the shared backend, and with a provider (a local
chat-completions server) on a backend whose worker has PRESSROOM_AI_* set."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pressroom.api import create_app
from pressroom.runtime import Runtime
from tests.conftest import make_backend
from tests.support import pdfs
from tests.support.api import eventually, wait_for
from tests.support.chat_server import ChatServer
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker

GPL3 = Path("/usr/share/common-licenses/GPL-3")


@pytest.fixture(scope="module")
def chapter() -> str:
    text = GPL3.read_text()
    return text[text.index("Preamble") : text.index("TERMS AND CONDITIONS")]


def _squash(text: str) -> str:
    return re.sub(r"[\s\-]+", "", text)


def _submitted(response: object) -> str:
    assert response.status_code == 202, response.json  # type: ignore[attr-defined]
    return str(response.json["data"]["job_id"])  # type: ignore[attr-defined]


# -- offline, on the shared backend and worker -------------------------------------------
def test_offline_summary_end_to_end(
    client: FlaskClient, worker: WorkerProcess, runtime: Runtime, chapter: str
) -> None:
    job_id = _submitted(
        client.post(
            "/api/ai/summarize",
            json={"text": chapter, "options": {"maxLength": "short", "style": "concise"}},
        )
    )
    view = wait_for(client, job_id, timeout=90)
    assert view["status"] == "completed", view
    result = view["result"]
    for field in ("summary", "key_points", "word_count", "reading_time", "style", "model"):
        assert field in result
    assert result["model"] == "offline-textrank" and result["language"] == "en"
    assert _squash(result["summary"]) and _squash(result["key_points"][0]) in _squash(chapter)
    assert len(result["key_points"]) == 3 and view["download_url"] is None
    input_key = runtime.files.input_key(job_id, "text/plain")
    assert eventually(lambda: not runtime.files.storage.exists(input_key))


def test_a_pdf_is_summarized_from_its_text(
    client: FlaskClient, worker: WorkerProcess, tmp_path: Path
) -> None:
    pdf = pdfs.text_pdf(tmp_path / "river.pdf", pages=4, words="The river floods the valley.")
    response = client.post(
        "/api/ai/summarize",
        data={
            "file": (io.BytesIO(pdf.read_bytes()), "river.pdf"),
            "options": '{"maxLength": "short", "includeKeyPoints": false}',
        },
        content_type="multipart/form-data",
    )
    view = wait_for(client, _submitted(response), timeout=90)
    assert view["status"] == "completed", view
    result = view["result"]
    assert result["source"] == "pdf" and result["pages"] == 4
    assert "river floods the valley" in result["summary"] and result["key_points"] == []


# -- with a provider ------------------------------------------------------------------
@pytest.fixture(scope="module")
def provider_stack(tmp_root: Path) -> Iterator[tuple[FlaskClient, ChatServer]]:
    """A backend whose API and worker talk to a local chat-completions server."""
    server = ChatServer().start()
    backend = make_backend("embedded", tmp_root)
    backend.extra = {
        "PRESSROOM_AI_BASE_URL": server.base_url,
        "PRESSROOM_AI_API_KEY": "sk-worker-key",
        "PRESSROOM_AI_MODEL": "fake-model",
        "PRESSROOM_AI_MODELS": "fake-model,other-model",
        "PRESSROOM_AI_MAX_RETRIES": "2",
        "PRESSROOM_AI_TIMEOUT_SECONDS": "10",
    }
    faults = backend.data_dir / "faults"
    faults.mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(backend, faults, backend.data_dir / "worker.log")
    worker.start(Runtime.build(backend.settings()).ops)
    try:
        yield create_app(backend.settings()).test_client(), server
    finally:
        worker.stop()
        server.stop()


def test_provider_summary_through_the_worker_retries_a_429(
    provider_stack: tuple[FlaskClient, ChatServer], chapter: str
) -> None:
    client, server = provider_stack
    text = "@@429-ONCE@@ " + chapter
    job_id = _submitted(
        client.post(
            "/api/ai/summarize",
            json={"text": text, "options": {"maxLength": "short", "model": "other-model"}},
        )
    )
    view = wait_for(client, job_id, timeout=90)
    assert view["status"] == "completed", view
    result = view["result"]
    assert result["engine"] == "provider" and result["model"] == "other-model"
    assert result["usage"]["retries"] == 1 and result["usage"]["calls"] == 1
    assert result["usage"]["total_tokens"] > 0 and result["usage"]["latency_ms"] > 0
    assert view["attempts"] == 1  # the 429 was absorbed inside the attempt
    assert any(
        seen.headers.get("Authorization") == "Bearer sk-worker-key" for seen in server.requests
    )


def test_provider_translation_through_the_worker(
    provider_stack: tuple[FlaskClient, ChatServer],
) -> None:
    client, _ = provider_stack
    text = "Dear team,\n  the release is ready.\n\nThank you for your work."
    job_id = _submitted(
        client.post(
            "/api/ai/translate",
            json={
                "text": text,
                "target_language": "de",
                "options": {"preserveFormatting": True, "quality": "high"},
            },
        )
    )
    view = wait_for(client, job_id, timeout=90)
    assert view["status"] == "completed", view
    result = view["result"]
    assert result["translated_text"] == (
        "[de] Dear team,\n  [de] the release is ready.\n\n[de] Thank you for your work."
    )
    assert (result["original_language"], result["target_language"]) == ("en", "de")
    assert result["quality"] == "high" and result["model"] == "fake-model"
    assert result["word_count"] == 11
    download = client.get(view["download_url"])
    assert download.status_code == 200 and download.data.decode() == result["translated_text"]


def test_a_provider_refusal_fails_the_job_at_once_with_its_code(
    provider_stack: tuple[FlaskClient, ChatServer],
) -> None:
    client, _ = provider_stack
    job_id = _submitted(
        client.post(
            "/api/ai/translate", json={"text": "@@REJECT@@ Hello there.", "target_language": "fr"}
        )
    )
    view = wait_for(client, job_id, timeout=90)
    assert view["status"] == "failed"
    assert view["error"]["code"] == "AI_PROVIDER_REJECTED" and view["attempts"] == 1
    assert "maximum context length" in view["error"]["message"]


def test_a_pdf_is_translated_from_its_text(
    provider_stack: tuple[FlaskClient, ChatServer], tmp_path: Path
) -> None:
    client, _ = provider_stack
    pdf = pdfs.text_pdf(tmp_path / "notice.pdf", pages=2, words="The office is closed.")
    response = client.post(
        "/api/ai/translate",
        data={
            "file": (io.BytesIO(pdf.read_bytes()), "notice.pdf"),
            "target_language": "it",
            "options": '{"preserveFormatting": true}',
        },
        content_type="multipart/form-data",
    )
    view = wait_for(client, _submitted(response), timeout=90)
    assert view["status"] == "completed", view
    result = view["result"]
    assert result["source"] == "pdf" and result["pages"] == 2
    lines = [line for line in result["translated_text"].split("\n") if line.strip()]
    assert lines[0] == "[it] The office is closed. 1"
    assert all(line.lstrip().startswith("[it] ") for line in lines)
    # pdftotext's page break (a form feed) stays where it was, before page 2's first line
    assert sum(line.startswith("\f[it] ") for line in lines) == 1
    assert view["result"]["file"]["filename"] == "notice_it.txt"
