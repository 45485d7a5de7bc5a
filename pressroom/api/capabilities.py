"""GET /api/extended-features/capabilities and /api/extended-features/status:
what this server offers, generated from the declared operations
(pressroom.api.spec), so the web page and the CLI learn every option from
here and a new option needs no change to either."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from pressroom.api.spec import OPERATIONS, Operation

bp = Blueprint("capabilities", __name__, url_prefix="/api/extended-features")


def _describe(op: Operation) -> dict[str, Any]:
    facts = op.capabilities() if op.capabilities else {}
    return {
        "name": op.name,
        "path": op.path,
        "method": "POST",
        "summary": op.summary,
        "body": op.body,
        "accepts": list(op.accepts),
        "queued": op.queued,
        "task_type": op.task_type.value if op.task_type else None,
        "fields": op.fields_schema(),
        "available": facts.pop("available", True),
        **facts,
    }


@bp.get("/capabilities")
def capabilities() -> Response:
    return jsonify(
        {"status": "success", "data": {"operations": [_describe(op) for op in OPERATIONS.values()]}}
    )


@bp.get("/status")
def status() -> Response:
    """Per operation, whether it can run here now (its engine or provider is there)."""
    found = {}
    for op in OPERATIONS.values():
        facts = op.capabilities() if op.capabilities else {}
        found[op.name] = {"available": facts.get("available", True)}
        if "reason" in facts:
            found[op.name]["reason"] = facts["reason"]
    return jsonify({"status": "success", "data": {"operations": found}})
