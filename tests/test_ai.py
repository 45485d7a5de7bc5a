"""AIService: the offline engine on real text, the provider path against a
local chat-completions server, chunking, and the AI endpoints' submission
checks."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pydantic import BaseModel

from pressroom.api import create_app
from pressroom.errors import (
    AIModelNotAllowedError,
    AIOutputInvalidError,
    AIProviderNotConfiguredError,
    AIProviderRejectedError,
    AIProviderTimeoutError,
    AIProviderUnavailableError,
)
from pressroom.services.ai import offline
from pressroom.services.ai.chunking import chunk_text, estimate_tokens, split_sentences, word_count
from pressroom.services.ai.providers import OpenAICompatibleProvider
from pressroom.services.ai.service import AIService, SummarizeOptions, TranslateOptions
from tests.support.api import error_code
from tests.support.backends import Backend
from tests.support.chat_server import ChatServer, Scripted, completion

#: GPL-3 ships with every Debian system (base-files): a real, long English text
GPL3 = Path("/usr/share/common-licenses/GPL-3")


@pytest.fixture(scope="module")
def gpl_text() -> str:
    return GPL3.read_text()


@pytest.fixture(scope="module")
def chapter(gpl_text: str) -> str:
    """The preamble: one chapter of prose, about 560 words."""
    return gpl_text[gpl_text.index("Preamble") : gpl_text.index("TERMS AND CONDITIONS")]


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer().start()
    yield server
    server.stop()


@pytest.fixture
def chat(chat_server: ChatServer) -> ChatServer:
    chat_server.reset()
    return chat_server


def _service(
    chat: ChatServer, *, context: int = 8192, output: int = 1500, **kwargs: object
) -> AIService:
    settings: dict[str, object] = {"timeout": 5.0, "max_retries": 2, "backoff_base": 0.05}
    settings.update(kwargs)
    provider = OpenAICompatibleProvider(chat.base_url, "sk-test-key", **settings)  # type: ignore[arg-type]
    return AIService(
        provider,
        default_model="fake-model",
        allowed_models=["fake-model", "other-model"],
        context_tokens=context,
        max_output_tokens=output,
    )


def _squash(text: str) -> str:
    """Text with whitespace and hyphens removed: PDF-style line breaks and
    hyphenation do not change which characters follow which."""
    return re.sub(r"[\s\-]+", "", text)


# -- the offline engine ------------------------------------------------------------------
@pytest.mark.parametrize("max_length", ["short", "medium", "long"])
def test_offline_summary_is_made_of_the_texts_sentences_within_its_length(
    chapter: str, max_length: str
) -> None:
    service = AIService(None)
    result = service.summarize(chapter, SummarizeOptions(max_length=max_length, style="concise"))
    assert result["engine"] == "offline" and result["model"] == "offline-textrank"
    sentences = split_sentences(result["summary"])
    assert len(sentences) >= 1
    for sentence in sentences:
        assert _squash(sentence) in _squash(chapter), sentence
    limit = offline.target_words(word_count(chapter), max_length, "concise")
    assert limit <= offline.LENGTH_WORDS[max_length]
    assert 0.5 * limit <= result["summary_word_count"] <= limit
    points = result["key_points"]
    assert len(points) == offline.KEY_POINTS[max_length]
    assert len({p.casefold() for p in points}) == len(points)  # distinct
    for point in points:
        assert _squash(point) in _squash(chapter)
    assert result["word_count"] == word_count(chapter)
    assert abs(result["word_count"] - len(chapter.split())) < 20  # as a person counts them
    assert result["reading_time"] == 3  # minutes, at 200 words a minute
    assert result["language"] == "en"


def test_offline_summary_honours_style_and_key_points_switch(chapter: str) -> None:
    service = AIService(None)
    short = service.summarize(chapter, SummarizeOptions(max_length="short", style="concise"))
    detailed = service.summarize(chapter, SummarizeOptions(max_length="short", style="detailed"))
    assert detailed["summary_word_count"] > short["summary_word_count"]
    bullets = service.summarize(
        chapter, SummarizeOptions(style="bullet_points", include_key_points=False)
    )
    lines = bullets["summary"].split("\n")
    assert len(lines) >= 2 and all(line.startswith("- ") for line in lines)
    assert bullets["key_points"] == []
    toned = service.summarize(chapter, SummarizeOptions(style="academic", language="de"))
    assert len(toned["notes"]) == 2  # tone and language need a provider: said, not hidden


def test_offline_summary_of_a_long_text_ranks_in_groups(gpl_text: str) -> None:
    text = "\n\n".join([gpl_text] * 3)  # about 17,000 words, over 1,000 sentences
    started = time.monotonic()
    result = AIService(None).summarize(text, SummarizeOptions(max_length="medium"))
    assert time.monotonic() - started < 20
    assert result["summary_word_count"] <= offline.LENGTH_WORDS["medium"] * 0.8
    for sentence in split_sentences(result["summary"]):
        assert _squash(sentence) in _squash(gpl_text)
    assert len(set(result["key_points"])) == len(result["key_points"]) == 5


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "The committee will publish its final report on the new railway line next spring, "
            "after the public consultation has closed.",
            "en",
        ),
        (
            "Der Ausschuss wird seinen Abschlussbericht über die neue Bahnstrecke im nächsten "
            "Frühjahr veröffentlichen, nachdem die öffentliche Anhörung beendet ist.",
            "de",
        ),
        (
            "Le comité publiera son rapport final sur la nouvelle ligne ferroviaire au printemps "
            "prochain, après la clôture de la consultation publique.",
            "fr",
        ),
        (
            "El comité publicará su informe final sobre la nueva línea ferroviaria la próxima "
            "primavera, después de que termine la consulta pública.",
            "es",
        ),
        (
            "Il comitato pubblicherà la sua relazione finale sulla nuova linea ferroviaria la "
            "prossima primavera, dopo la chiusura della consultazione pubblica.",
            "it",
        ),
        (
            "Комитет опубликует свой окончательный доклад о новой железнодорожной линии следующей "  # noqa: RUF001
            "весной, после завершения общественных консультаций.",
            "ru",
        ),
        (
            "委員会は、公開協議が終了した後、来年の春に新しい鉄道路線に関する最終報告書を公表する。",
            "ja",
        ),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    code, confidence = offline.detect_language(text)
    assert code == language
    assert 0.5 < confidence <= 1.0


def test_language_of_no_words_is_undetermined() -> None:
    assert offline.detect_language("12 34 56 -- 7.8") == ("und", 0.0)


# -- chunking ---------------------------------------------------------------------------
def test_chunks_fit_the_budget_cover_the_text_and_cut_at_paragraphs(gpl_text: str) -> None:
    chunks = chunk_text(gpl_text, 400)
    assert len(chunks) > 10
    assert all(estimate_tokens(c.text) <= 400 for c in chunks)
    rebuilt = "".join(c.text + c.gap for c in chunks)
    assert rebuilt == gpl_text.strip()
    at_paragraph = sum(1 for c in chunks[:-1] if "\n\n" in c.gap.replace(" ", ""))
    assert at_paragraph >= 0.8 * (len(chunks) - 1)


def test_a_paragraph_longer_than_the_budget_is_cut_at_sentences() -> None:
    text = " ".join(f"Sentence number {n} says something short." for n in range(200))
    chunks = chunk_text(text, 100)
    assert len(chunks) > 5
    assert all(c.text.endswith(".") for c in chunks)
    assert all(estimate_tokens(c.text) <= 100 for c in chunks)


def test_sentences_are_not_split_at_abbreviations() -> None:
    text = "Use a tool, e.g. qpdf, for this. Dr. Smith wrote it in Fig. 3 of the report! Done?"
    assert split_sentences(text) == [
        "Use a tool, e.g. qpdf, for this.",
        "Dr. Smith wrote it in Fig. 3 of the report!",
        "Done?",
    ]


# -- the provider -----------------------------------------------------------------------
def test_provider_summary_records_model_tokens_and_latency(chat: ChatServer, chapter: str) -> None:
    with _service(chat) as service:
        result = service.summarize(chapter, SummarizeOptions(max_length="short"))
    assert result["engine"] == "provider" and result["model"] == "fake-model"
    assert result["summary"].startswith("Preamble")  # the fake model's first sentence
    assert result["key_points"] and len(set(result["key_points"])) == len(result["key_points"])
    assert result["usage"]["calls"] == 1 and result["usage"]["prompt_tokens"] == 100
    assert result["usage"]["total_tokens"] > 100 and result["usage"]["latency_ms"] > 0
    seen = chat.requests[0]
    assert seen.headers["Authorization"] == "Bearer sk-test-key"
    assert seen.body["model"] == "fake-model"
    assert seen.body["response_format"] == {"type": "json_object"}
    words = offline.target_words(word_count(chapter), "short", "concise")
    assert f"at most {words} words" in seen.body["messages"][0]["content"]


def test_a_429_is_retried_after_its_retry_after(chat: ChatServer, chapter: str) -> None:
    chat.script = [Scripted(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})]
    with _service(chat) as service:
        result = service.summarize(chapter, SummarizeOptions())
    assert result["summary"]
    assert len(chat.requests) == 2
    assert chat.requests[1].at - chat.requests[0].at >= 1.0  # Retry-After honoured
    assert result["usage"]["retries"] == 1 and result["usage"]["calls"] == 1


def test_5xx_until_retries_run_out_is_a_retryable_outage(chat: ChatServer) -> None:
    chat.script = [Scripted(503, {"error": {"message": "overloaded"}}) for _ in range(3)]
    with (
        _service(chat, max_retries=2) as service,
        pytest.raises(AIProviderUnavailableError) as info,
    ):
        service.summarize("One sentence here. Another one there.", SummarizeOptions())
    assert info.value.retryable and info.value.code == "AI_PROVIDER_UNAVAILABLE"
    assert info.value.details["provider_status"] == 503
    assert len(chat.requests) == 3


def test_a_retry_after_longer_than_the_cap_is_left_to_the_job_retry(chat: ChatServer) -> None:
    chat.script = [Scripted(429, {"error": {"message": "quota"}}, {"Retry-After": "3600"})]
    started = time.monotonic()
    with (
        _service(chat, max_retry_wait=5) as service,
        pytest.raises(AIProviderUnavailableError) as info,
    ):
        service.summarize("One sentence here. Another one there.", SummarizeOptions())
    assert time.monotonic() - started < 3
    assert info.value.details["retry_after"] == 3600 and len(chat.requests) == 1


def test_a_provider_time_out_is_surfaced_with_its_code(chat: ChatServer) -> None:
    chat.script = [Scripted(delay=3)]
    started = time.monotonic()
    with _service(chat, timeout=0.5) as service, pytest.raises(AIProviderTimeoutError) as info:
        service.summarize("One sentence here. Another one there.", SummarizeOptions())
    assert time.monotonic() - started < 2.5
    assert info.value.code == "AI_PROVIDER_TIMEOUT" and info.value.retryable


def test_a_bad_request_is_not_retried(chat: ChatServer) -> None:
    chat.script = [Scripted(401, {"error": {"message": "Incorrect API key provided"}})]
    with _service(chat) as service, pytest.raises(AIProviderRejectedError) as info:
        service.summarize("One sentence here. Another one there.", SummarizeOptions())
    error = info.value
    assert error.code == "AI_PROVIDER_REJECTED" and not error.retryable
    assert error.details["provider_status"] == 401
    assert "Incorrect API key" in error.message and "sk-test-key" not in error.message
    assert len(chat.requests) == 1


def test_malformed_json_is_repaired_once(chat: ChatServer, chapter: str) -> None:
    chat.script = [Scripted(body=completion("Here you go: {summary: oops"))]
    with _service(chat) as service:
        result = service.summarize(chapter, SummarizeOptions())
    assert result["summary"].startswith("Preamble")
    assert result["usage"]["calls"] == 2
    repair = chat.requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Here you go: {summary: oops"}
    assert "not valid" in repair[-1]["content"] and '"summary"' in repair[-1]["content"]


def test_json_that_stays_invalid_fails_with_its_code(chat: ChatServer) -> None:
    chat.script = [Scripted(body=completion('{"wrong": 1}')) for _ in range(2)]
    with _service(chat) as service, pytest.raises(AIOutputInvalidError) as info:
        service.summarize("One sentence here. Another one there.", SummarizeOptions())
    assert info.value.code == "AI_OUTPUT_INVALID" and not info.value.retryable
    assert "summary" in info.value.message and len(chat.requests) == 2


def test_a_long_input_is_summarized_map_reduce_within_the_context(
    chat: ChatServer, chapter: str
) -> None:
    with _service(chat, context=1024, output=200) as service:
        budget = service.input_budget
        result = service.summarize(chapter, SummarizeOptions(max_length="short"))
    assert result["chunks"] > 3 and result["reduce_rounds"] == 1
    assert result["usage"]["calls"] == result["chunks"] + 1  # map, then one reduce
    for seen in chat.requests:
        assert estimate_tokens(seen.body["messages"][1]["content"]) <= budget
    parts = [s.body["messages"][0]["content"] for s in chat.requests[:-1]]
    assert all("part " in p for p in parts)
    assert "summaries of a document's parts" in chat.requests[-1].body["messages"][0]["content"]


def test_model_must_be_on_the_allow_list(chat: ChatServer) -> None:
    with _service(chat) as service:
        with pytest.raises(AIModelNotAllowedError) as info:
            service.summarize("Some text. More text.", SummarizeOptions(model="gpt-huge"))
        assert info.value.details["allowed"] == ["fake-model", "other-model"]
        service.summarize("Some text. More text.", SummarizeOptions(model="other-model"))
    assert chat.requests[-1].body["model"] == "other-model"


# -- translation ------------------------------------------------------------------------
LAYOUT = (
    "Shopping list\n"
    "  - bread\n"
    "  - milk\n"
    "\n"
    "The shop opens at nine. It closes\n"
    "at six in the evening.\n"
)


def test_translation_keeps_paragraphs_and_reflows_lines(chat: ChatServer) -> None:
    with _service(chat) as service:
        result = service.translate(LAYOUT, TranslateOptions("de"))
    assert result["translated_text"] == (
        "[de] Shopping list - bread - milk\n\n[de] The shop opens at nine. It closes at six in "
        "the evening."
    )
    assert result["original_language"] == "en" and result["target_language"] == "de"
    assert result["word_count"] == word_count(LAYOUT) and result["quality"] == "balanced"


def test_translation_with_preserve_formatting_keeps_every_line(chat: ChatServer) -> None:
    with _service(chat) as service:
        result = service.translate(LAYOUT, TranslateOptions("fr", preserve_formatting=True))
    assert result["translated_text"] == (
        "[fr] Shopping list\n  [fr] - bread\n  [fr] - milk\n\n"
        "[fr] The shop opens at nine. It closes\n[fr] at six in the evening."
    )
    system = chat.requests[0].body["messages"][0]["content"]
    assert "exactly 6 lines" in system


def test_a_translation_that_loses_lines_is_repaired(chat: ChatServer) -> None:
    chat.script = [
        Scripted(body=completion(json.dumps({"translated_text": "[fr] Everything on one line"})))
    ]
    with _service(chat) as service:
        result = service.translate(LAYOUT, TranslateOptions("fr", preserve_formatting=True))
    assert len(result["translated_text"].split("\n")) == 6
    assert result["usage"]["calls"] == 2
    assert "must have exactly 6" in chat.requests[1].body["messages"][-1]["content"]


def test_a_long_translation_goes_chunk_by_chunk_and_keeps_paragraphs(
    chat: ChatServer, chapter: str
) -> None:
    with _service(chat, context=2048, output=400) as service:
        result = service.translate(chapter, TranslateOptions("es"))
    source_paragraphs = [p for p in re.split(r"\n\s*\n", chapter) if p.strip()]
    out_paragraphs = result["translated_text"].split("\n\n")
    assert result["chunks"] > 3 and len(chat.requests) == result["chunks"]
    assert len(out_paragraphs) == len(source_paragraphs)
    assert all(p.startswith("[es] ") for p in out_paragraphs)


def test_translation_needs_a_provider() -> None:
    with pytest.raises(AIProviderNotConfiguredError) as info:
        AIService(None).translate("Hello there.", TranslateOptions("de"))
    assert info.value.http_status == 503


# -- structured extraction --------------------------------------------------------------
class Invoice(BaseModel):
    number: str
    total: float
    currency: str


def test_extract_structured_validates_and_repairs(chat: ChatServer) -> None:
    chat.canned = {"number": "INV-7", "total": 118.5, "currency": "EUR"}
    chat.script = [Scripted(body=completion('{"number": "INV-7", "total": "lots"}'))]
    with _service(chat) as service:
        invoice, usage = service.extract_structured("Invoice INV-7, total 118.50 EUR", Invoice)
    assert invoice == Invoice(number="INV-7", total=118.5, currency="EUR")
    assert usage.calls == 2 and usage.prompt_tokens == 200
    system = chat.requests[0].body["messages"][0]["content"]
    assert '"currency"' in system  # the schema is in the instructions


# -- submission checks (no worker) ------------------------------------------------------
@pytest.fixture
def offline_client(isolated_backend: Backend) -> FlaskClient:
    return create_app(isolated_backend.settings(ai_max_text_chars=1000)).test_client()


def test_translate_without_provider_is_refused_at_submission(
    offline_client: FlaskClient,
) -> None:
    response = offline_client.post(
        "/api/ai/translate", json={"text": "Hello there.", "target_language": "de"}
    )
    assert response.status_code == 503 and error_code(response) == "AI_PROVIDER_NOT_CONFIGURED"
    assert offline_client.get("/api/jobs").json["data"]["total"] == 0  # type: ignore[index]
    status = offline_client.get("/api/extended-features/status").json["data"]  # type: ignore[index]
    assert status["operations"]["ai_translate"]["available"] is False
    assert "PRESSROOM_AI_BASE_URL" in status["operations"]["ai_translate"]["reason"]


def test_summarize_submission_checks(offline_client: FlaskClient) -> None:
    too_long = offline_client.post("/api/ai/summarize", json={"text": "word " * 300})
    assert too_long.status_code == 413 and error_code(too_long) == "TEXT_TOO_LONG"
    model = offline_client.post(
        "/api/ai/summarize", json={"text": "Some text.", "options": {"model": "gpt-4o"}}
    )
    assert model.status_code == 400 and error_code(model) == "AI_MODEL_NOT_ALLOWED"
    unknown = offline_client.post(
        "/api/ai/summarize", json={"text": "Some text.", "options": {"maxlength": "short"}}
    )
    assert unknown.status_code == 400 and error_code(unknown) == "VALIDATION_ERROR"
    plain = offline_client.post("/api/ai/summarize", data="text", content_type="text/plain")
    assert plain.status_code == 415
    assert offline_client.get("/api/jobs").json["data"]["total"] == 0  # type: ignore[index]
    ok = offline_client.post("/api/ai/summarize", json={"text": "Some text.", "job_id": "sum-1"})
    again = offline_client.post("/api/ai/summarize", json={"text": "Some text.", "job_id": "sum-1"})
    assert ok.status_code == again.status_code == 202
    assert again.json["message"] == "Job already submitted with this job_id"  # type: ignore[index]
    other = offline_client.post(
        "/api/ai/summarize", json={"text": "Other text.", "job_id": "sum-1"}
    )
    assert other.status_code == 409


def test_openapi_describes_the_ai_bodies_without_dangling_refs(
    offline_client: FlaskClient,
) -> None:
    doc = offline_client.get("/api/openapi.json").json
    assert doc is not None
    body = doc["paths"]["/api/ai/summarize"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    options = body["application/json"]["schema"]["properties"]["options"]["anyOf"][0]
    assert options["properties"]["maxLength"]["enum"] == ["short", "medium", "long"]
    assert "file" in body["multipart/form-data"]["schema"]["required"]
    assert "#/$defs/" not in json.dumps(doc)
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert "AI_PROVIDER_NOT_CONFIGURED" in codes["enum"]


def test_indentation_a_model_dropped_is_put_back(chat: ChatServer) -> None:
    flat = "\n".join(line.strip() for line in LAYOUT.rstrip("\n").split("\n"))
    chat.script = [Scripted(body=completion(json.dumps({"translated_text": flat})))]
    with _service(chat) as service:
        result = service.translate(LAYOUT, TranslateOptions("fr", preserve_formatting=True))
    assert result["translated_text"].split("\n")[1:3] == ["  - bread", "  - milk"]
