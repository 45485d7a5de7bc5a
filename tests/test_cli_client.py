"""``pressroom submit`` and ``pressroom jobs`` against a real embedded
service, run as a user runs them; and the options a command grows from an
operation's field schema."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import click
import pytest
import requests
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field, Json

from pressroom.cli_client import _fields_from, _operation_command
from pressroom.client import PressroomClient
from tests.support import pdfs
from tests.support.live import LiveServer
from tests.support.worker import ROOT


def pressroom(live: LiveServer, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # the CLI remembers what it submitted under XDG_STATE_HOME: one per test
    env = {**live.env(), "XDG_STATE_HOME": str(cwd / "state")}
    return subprocess.run(
        [sys.executable, "-m", "pressroom.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_submit_compress_waits_downloads_and_lists(live_server: LiveServer, tmp_path: Path) -> None:
    pdf = pdfs.uncompressed_pdf(tmp_path / "report.pdf", pages=4)
    out = tmp_path / "small.pdf"
    done = pressroom(
        live_server,
        "submit",
        "compress",
        str(pdf),
        "--level",
        "high",
        "--wait",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    assert 0 < out.stat().st_size < pdf.stat().st_size
    assert "% saved" in done.stderr and f"saved {out}" in done.stderr
    job_id = done.stderr.split("job ", 1)[1].split()[0]

    # a server without API keys lists no jobs: the CLI shows those it submitted
    listed = pressroom(live_server, "jobs", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "submitted from here" in listed.stderr
    line = next(row for row in listed.stdout.splitlines() if job_id in row)
    assert "compress" in line and "completed" in line

    shown = pressroom(live_server, "jobs", "show", job_id, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["status"] == "completed" and view["result"]["level"] == "high"
    assert view["result"]["compressed_size"] == out.stat().st_size


def test_wait_follows_the_event_stream_and_falls_back_to_polling(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PressroomClient.wait`` reads the job's events; where the stream
    cannot be read it polls, and either way ends on the completed view."""
    client = PressroomClient(live_server.url)
    compress = next(op for op in client.operations() if op["name"] == "compress")
    pdf = pdfs.uncompressed_pdf(tmp_path / "report.pdf", pages=2)

    polled: list[str] = []
    real_job = client.job

    def counting_job(job_id: str) -> dict[str, Any]:
        polled.append(job_id)
        return real_job(job_id)

    def broken_stream(_job_id: str, _deadline: float) -> Iterator[dict[str, Any]]:
        raise requests.ConnectionError("a proxy ate the stream")
        yield {}  # pragma: no cover  (a generator, as the real one)

    monkeypatch.setattr(client, "job", counting_job)
    seen: list[dict[str, Any]] = []
    job = client.submit(compress, {"compressionLevel": "lossless"}, [pdf])
    final = client.wait(job["job_id"], seen.append, timeout=120)
    assert final["status"] == "completed" and seen[-1] == final
    assert polled == [], "the events should have carried the job to its end"

    monkeypatch.setattr(client, "_events", broken_stream)
    job = client.submit(compress, {"compressionLevel": "lossless"}, [pdf])
    final = client.wait(job["job_id"], timeout=120, interval=0.05)
    assert final["status"] == "completed"
    assert polled and set(polled) == {job["job_id"]}


def test_a_refused_file_exits_non_zero_with_the_code(
    live_server: LiveServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.pdf"
    notes.write_text("not a PDF at all\n")
    failed = pressroom(live_server, "submit", "compress", str(notes), "--wait", cwd=tmp_path)
    assert failed.returncode == 1
    assert "UNSUPPORTED_FILE_TYPE" in failed.stderr
    assert "not a PDF" in failed.stderr
    assert not list(tmp_path.glob("*_compressed.pdf"))


def test_every_file_refused_or_no_server_exits_non_zero_with_the_code(
    live_server: LiveServer, tmp_path: Path
) -> None:
    pdf = pdfs.text_pdf(tmp_path / "ok.pdf", pages=1)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    refused = pressroom(live_server, "submit", "compress-bulk", str(empty), "--wait", cwd=tmp_path)
    assert refused.returncode == 1 and "EMPTY_FILE" in refused.stderr
    # the server itself is unreachable: a plain message and a code, not a traceback
    env_url = "http://127.0.0.1:9"  # discard port, nothing listens
    gone = subprocess.run(
        [sys.executable, "-m", "pressroom.cli", "submit", "--url", env_url, "compress", str(pdf)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert gone.returncode == 1 and "CONNECTION_FAILED" in gone.stderr
    assert "Traceback" not in gone.stderr


class _Options(BaseModel):
    language: list[Literal["eng", "deu"]] = Field(["eng"], description="Languages.")
    quality: Literal["fast", "accurate"] = "fast"
    deskew: bool = False


class _OcrLikeForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    options: Json[_Options] | None = None
    mode: Literal["skip", "redo"] = "skip"


def test_a_json_object_field_becomes_options_of_its_own(tmp_path: Path) -> None:
    """An operation with an ``options`` object inside a multipart form (as
    OCR has): its fields are options, sent together as one JSON object."""
    fields = _OcrLikeForm.model_json_schema()
    op: dict[str, Any] = {
        "name": "ocr",
        "path": "/api/ocr",
        "summary": "OCR",
        "body": "file",
        "accepts": ["application/pdf"],
        "queued": True,
        "fields": fields,
    }
    seen: dict[str, Any] = {}
    command = _operation_command(op)

    @click.command(params=command.params)
    def probe(**kwargs: Any) -> None:
        seen.update(_fields_from(kwargs, command))

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    result = CliRunner().invoke(
        probe,
        [
            str(pdf),
            "--lang",
            "deu",
            "--language",
            "eng",
            "--quality",
            "accurate",
            "--deskew",
            "--mode",
            "redo",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == {
        "options": {"language": ["deu", "eng"], "quality": "accurate", "deskew": True},
        "mode": "redo",
    }
    bad = CliRunner().invoke(probe, [str(pdf), "--quality", "best"])
    assert bad.exit_code == 2 and "best" in bad.output
