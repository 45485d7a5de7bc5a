"""The capabilities endpoint: every declared operation with the fields that
validate it, so the web page and the CLI can offer every option."""

from __future__ import annotations

from pressroom.api import create_app
from tests.support.backends import Backend


def test_capabilities_list_operations_with_their_fields(isolated_backend: Backend) -> None:
    client = create_app(isolated_backend.settings()).test_client()
    body = client.get("/api/extended-features/capabilities").json
    assert body is not None
    ops = {op["name"]: op for op in body["data"]["operations"]}
    compress = ops["compress"]
    assert compress["path"] == "/api/compress" and compress["queued"] is True
    assert compress["body"] == "file" and compress["accepts"] == ["application/pdf"]
    level = compress["fields"]["properties"]["compressionLevel"]
    assert set(level["enum"]) == {"lossless", "low", "medium", "high", "maximum"}
    assert ops["compress_bulk"]["body"] == "files"
    assert ops["compress_preview"]["queued"] is False
    status = client.get("/api/extended-features/status").json
    assert status is not None and status["data"]["operations"]["compress"]["available"] is True
    # the document and the capabilities come from the same declarations
    doc = client.get("/api/openapi.json").json
    assert doc is not None
    for op in ops.values():
        assert "post" in doc["paths"][op["path"]]
