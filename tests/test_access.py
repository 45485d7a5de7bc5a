"""API keys and job ownership, through the real HTTP API and a real worker.

With keys on, a job belongs to the key that made it: another key gets 404 for
it and everything under it, and listings show only the caller's jobs; a
client-chosen job_id is scoped to its key. With keys off, a server-made id is
a random uuid4 and the listing of everyone's jobs is refused.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from pressroom.api import create_app
from pressroom.api.spec import OPERATIONS
from pressroom.cli import main
from pressroom.runtime import Runtime, reset_runtime
from tests.support.api import error_code, submit_compress, wait_for
from tests.support.backends import Backend


def keyed(backend: Backend, **overrides: object) -> FlaskClient:
    settings = backend.settings(auth="api_key", **overrides)
    return create_app(settings).test_client()


def headers(token: str) -> dict[str, str]:
    return {"X-API-Key": token}


def test_each_key_sees_only_its_own_jobs(
    backend: Backend, runtime: Runtime, worker: object, text_pdf: Path, uncompressed_pdf: Path
) -> None:
    client = keyed(backend)
    _, alice = runtime.keys.create("alice")
    _, bob = runtime.keys.create("bob")

    # a server-made id, completed by the worker
    made = submit_compress(client, text_pdf, headers=headers(alice))
    assert made.status_code == 202, made.json
    job_id = made.json["data"]["job_id"]  # type: ignore[index]
    assert uuid.UUID(job_id).version == 4
    view = wait_for_key(client, job_id, alice)
    assert view["status"] == "completed"

    # the same client-chosen job_id under two keys: two jobs, no conflict
    mine = submit_compress(client, text_pdf, headers=headers(alice), job_id="invoice-7")
    theirs = submit_compress(client, uncompressed_pdf, headers=headers(bob), job_id="invoice-7")
    assert mine.status_code == theirs.status_code == 202, (mine.json, theirs.json)
    assert mine.headers["Location"] == theirs.headers["Location"] == "/api/jobs/invoice-7"
    assert mine.json["data"]["job_id"] == theirs.json["data"]["job_id"] == "invoice-7"  # type: ignore[index]
    replay = submit_compress(client, text_pdf, headers=headers(alice), job_id="invoice-7")
    assert replay.status_code == 202 and "already" in replay.json["message"]  # type: ignore[index]
    alice_view = wait_for_key(client, "invoice-7", alice)
    bob_view = wait_for_key(client, "invoice-7", bob)
    assert alice_view["result"]["original_size"] == text_pdf.stat().st_size
    assert bob_view["result"]["original_size"] == uncompressed_pdf.stat().st_size

    # everything under alice's job is a 404 for bob, as if it did not exist
    for method, path in [
        ("GET", f"/api/jobs/{job_id}"),
        ("GET", f"/api/jobs/{job_id}/download"),
        ("GET", f"/api/jobs/{job_id}/events"),
        ("DELETE", f"/api/jobs/{job_id}"),
    ]:
        answer = client.open(path, method=method, headers=headers(bob))
        assert answer.status_code == 404, (method, path)
        assert error_code(answer) == "JOB_NOT_FOUND"
    assert client.get(f"/api/jobs/{job_id}/download", headers=headers(alice)).status_code == 200

    listed = {
        name: {
            j["job_id"]
            for j in client.get("/api/jobs?limit=200", headers=headers(token)).json["data"]["jobs"]  # type: ignore[index]
        }
        for name, token in (("alice", alice), ("bob", bob))
    }
    assert listed["alice"] == {job_id, "invoice-7"}
    assert listed["bob"] == {"invoice-7"}

    # bob's cancel/delete of his own job does not touch alice's job of the same id
    assert client.delete("/api/jobs/invoice-7", headers=headers(bob)).status_code == 200
    after = client.get("/api/jobs/invoice-7", headers=headers(alice)).json["data"]  # type: ignore[index]
    assert after["files_expired"] is False


def wait_for_key(client: FlaskClient, job_id: str, token: str) -> dict[str, object]:
    original = client.environ_base.copy()
    client.environ_base["HTTP_X_API_KEY"] = token
    try:
        return wait_for(client, job_id)
    finally:
        client.environ_base = original


def test_missing_invalid_and_revoked_keys_get_401_on_every_operation(
    isolated_backend: Backend, isolated_runtime: Runtime, text_pdf: Path
) -> None:
    client = keyed(isolated_backend)
    info, token = isolated_runtime.keys.create("temp")
    queued = [op for op in OPERATIONS.values() if op.queued]
    assert queued, "the operations register themselves on import"
    for op in queued:
        assert error_code(client.post(op.path)) == "AUTH_REQUIRED", op.path
        assert client.post(op.path).status_code == 401
        wrong = client.post(op.path, headers=headers("prk_nope_" + "x" * 43))
        assert wrong.status_code == 401 and error_code(wrong) == "INVALID_API_KEY"
    for path in ("/api/jobs", "/api/jobs/anything", "/api/jobs/anything/download"):
        assert client.get(path).status_code == 401, path
    # the same key works as a Bearer token, until it is revoked
    bearer = {"Authorization": f"Bearer {token}"}
    assert submit_compress(client, text_pdf, headers=bearer).status_code == 202
    isolated_runtime.keys.revoke(info.id)
    refused = submit_compress(client, text_pdf, headers=bearer)
    assert refused.status_code == 401 and error_code(refused) == "INVALID_API_KEY"
    # descriptions stay public
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/extended-features/capabilities").status_code == 200


def test_without_keys_ids_are_random_and_listing_is_refused(
    isolated_backend: Backend, text_pdf: Path
) -> None:
    client = create_app(isolated_backend.settings(job_list_without_auth=False)).test_client()
    ids = set()
    for _ in range(3):
        answer = submit_compress(client, text_pdf)
        assert answer.status_code == 202
        ids.add(answer.json["data"]["job_id"])  # type: ignore[index]
    assert len(ids) == 3 and all(uuid.UUID(i).version == 4 for i in ids)  # 122 random bits
    listing = client.get("/api/jobs")
    assert listing.status_code == 403 and error_code(listing) == "JOB_LIST_DISABLED"
    # the id is the capability: whoever has it can follow the job
    assert client.get(f"/api/jobs/{ids.pop()}").status_code == 200
    chosen = submit_compress(client, text_pdf, job_id="my-own-id")
    assert chosen.json["data"]["job_id"] == "my-own-id"  # type: ignore[index]
    assert client.get("/api/jobs/my-own-id").status_code == 200


def test_keys_are_created_listed_and_revoked_from_the_cli(
    isolated_backend: Backend, monkeypatch: pytest.MonkeyPatch, text_pdf: Path
) -> None:
    for name, value in isolated_backend.env.items():
        monkeypatch.setenv(name, value)
    reset_runtime()
    try:
        runner = CliRunner()
        created = runner.invoke(main, ["keys", "create", "--name", "ci robot"])
        assert created.exit_code == 0, created.output
        token = created.output.strip().splitlines()[-1]
        key_id = created.output.split()[1]
        assert token.startswith("prk_") and key_id.startswith("key_")
        listed = runner.invoke(main, ["keys", "list"])
        assert f"{key_id}\tci robot\tactive" in listed.output
        assert token not in listed.output  # only its hash is stored
        rows = Runtime.build(isolated_backend.settings()).keys
        assert rows.verify(token) == key_id

        client = keyed(isolated_backend)
        assert submit_compress(client, text_pdf, headers=headers(token)).status_code == 202
        revoked = runner.invoke(main, ["keys", "revoke", key_id])
        assert revoked.exit_code == 0, revoked.output
        assert "revoked" in runner.invoke(main, ["keys", "list"]).output
        assert submit_compress(client, text_pdf, headers=headers(token)).status_code == 401
        assert runner.invoke(main, ["keys", "revoke", "key_missing"]).exit_code != 0
    finally:
        reset_runtime()


def test_a_bulk_job_and_its_files_belong_to_the_key(
    isolated_backend: Backend, isolated_runtime: Runtime, text_pdf: Path
) -> None:
    client = keyed(isolated_backend)
    _, alice = isolated_runtime.keys.create("alice")
    _, bob = isolated_runtime.keys.create("bob")
    form = {"files": [(io.BytesIO(text_pdf.read_bytes()), "a.pdf")], "job_id": "batch"}
    answer = client.post(
        "/api/compress/bulk", data=form, content_type="multipart/form-data", headers=headers(alice)
    )
    assert answer.status_code == 202, answer.json
    assert client.get("/api/jobs/batch", headers=headers(bob)).status_code == 404
    assert client.get("/api/jobs/batch", headers=headers(alice)).status_code == 200


def test_json_submissions_follow_the_same_rules(
    isolated_backend: Backend, isolated_runtime: Runtime
) -> None:
    """The JSON path (AI endpoints) shares the admission: scoped job_id,
    ownership, and the callback_url check."""
    client = keyed(isolated_backend, webhook_allow_private=False)
    _, alice = isolated_runtime.keys.create("alice")
    _, bob = isolated_runtime.keys.create("bob")
    body = {"text": "Pressroom keeps jobs apart. " * 20, "job_id": "summary-1"}
    assert client.post("/api/ai/summarize", json=body).status_code == 401
    mine = client.post("/api/ai/summarize", json=body, headers=headers(alice))
    theirs = client.post("/api/ai/summarize", json=body, headers=headers(bob))
    assert mine.status_code == theirs.status_code == 202, (mine.json, theirs.json)
    assert (
        len({isolated_runtime.ops.find_job(o, "summary-1").id for o in owners(isolated_runtime)})
        == 2
    )  # type: ignore[union-attr]
    private = client.post(
        "/api/ai/summarize",
        json={"text": "x y z", "callback_url": "http://10.0.0.8/hook"},
        headers=headers(alice),
    )
    assert private.status_code == 400 and error_code(private) == "CALLBACK_URL_NOT_ALLOWED"
    kept = client.post(
        "/api/ai/summarize",
        json={"text": "a b c", "callback_url": "https://93.184.216.34/hook"},
        headers=headers(alice),
    )
    assert kept.status_code == 202
    job = isolated_runtime.ops.find_job(
        _owner(isolated_runtime, "alice"), kept.json["data"]["job_id"]
    )  # type: ignore[index]
    assert job is not None and job.input_data["callback_url"] == "https://93.184.216.34/hook"
    assert "callback_url" not in job.input_data["options"]


def owners(rt: Runtime) -> list[str]:
    return [info.id for info in rt.keys.list()]


def _owner(rt: Runtime, name: str) -> str:
    return next(info.id for info in rt.keys.list() if info.name == name)
