"""The API's operations, declared once.

Each endpoint that submits work (or answers a preview at once) is declared
with ``declare(Operation(...))`` next to its view. The declaration names the
form model that validates the request (pressroom.api.schemas); from it come
the OpenAPI document (pressroom.api.openapi), the capabilities endpoint
(pressroom.api.capabilities), and through that the web page's and the CLI's
choices. So a new option appears everywhere by adding it to the form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from pressroom.jobs.states import TaskType

#: how an operation's request carries its input
Body = Literal["file", "files", "json"]

#: the error answers every upload submission can give
UPLOAD_ERRORS = {
    "400": "Missing or invalid field, or an empty file",
    "409": "job_id used by a different job",
    "413": "Upload too large",
    "415": "File type not accepted",
    "422": "Damaged or encrypted PDF",
    "503": "Queue unavailable",
}
#: the error answers every JSON submission can give
JSON_ERRORS = {
    "400": "Missing or invalid field",
    "409": "job_id used by a different job",
    "413": "Body too large",
    "503": "Queue unavailable",
}


@dataclass(frozen=True)
class Operation:
    """One POST endpoint: what it takes, and what it answers.

    ``task_type`` None means the answer comes at once (a preview), described
    by the component schema ``response``; otherwise the answer is 202 with a
    job (``response`` defaults to ``JobEnvelope``).
    """

    name: str  # stable id: the CLI's sub-command, the web page's choice
    path: str
    summary: str
    form: type[BaseModel]
    body: Body = "file"
    task_type: TaskType | None = None
    description: str = ""
    accepts: tuple[str, ...] = ("application/pdf",)  # MIME types of the files
    response: str = "JobEnvelope"
    errors: dict[str, str] = field(default_factory=dict)  # status -> description, extra
    aliases: tuple[str, ...] = ()
    #: facts for the capabilities endpoint beyond the fields (languages, engines...)
    capabilities: Callable[[], dict[str, Any]] | None = None
    #: body "json" only: the multipart form of the alternative with a file (``accepts``)
    upload_form: type[BaseModel] | None = None

    @property
    def queued(self) -> bool:
        return self.task_type is not None

    def error_answers(self) -> dict[str, str]:
        base = JSON_ERRORS if self.body == "json" else UPLOAD_ERRORS
        if not self.queued:
            base = {k: v for k, v in base.items() if k not in {"409", "503"}}
        return {**base, **self.errors}

    def fields_schema(self) -> dict[str, Any]:
        """The JSON schema of the request's fields (without the file parts)."""
        return self_contained(self.form)

    def upload_fields_schema(self) -> dict[str, Any] | None:
        """The JSON schema of the alternative multipart form, if there is one."""
        return self_contained(self.upload_form) if self.upload_form else None


def self_contained(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with nested models written in place: a ``$ref``
    to ``#/$defs/...`` would point into the OpenAPI document's root, where
    there is no ``$defs``."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = dict(defs[ref.rsplit("/", 1)[-1]])
                target.pop("title", None)
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return inline({**target, **rest})
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    inlined.pop("title", None)
    return inlined


#: name -> operation, in declaration order
OPERATIONS: dict[str, Operation] = {}
#: plain GET endpoints of an area (path -> OpenAPI path item), for the document
GET_PATHS: dict[str, dict[str, Any]] = {}
#: component schemas that operations' answers refer to (name -> JSON schema)
COMPONENTS: dict[str, dict[str, Any]] = {}


def declare(operation: Operation) -> Operation:
    if operation.name in OPERATIONS and OPERATIONS[operation.name] != operation:
        raise ValueError(f"operation {operation.name!r} declared twice")
    OPERATIONS[operation.name] = operation
    return operation


def document_get(path: str, summary: str, description: str = "") -> None:
    """Describe a GET endpoint that answers ``{"status": "success", "data": {...}}``."""
    get: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": success_envelope({"type": "object"})}},
            }
        },
    }
    if description:
        get["description"] = description
    GET_PATHS[path] = {"get": get}


def component(name: str, schema: dict[str, Any]) -> str:
    """Register a component schema; returns its name, for ``Operation.response``."""
    COMPONENTS[name] = schema
    return name


def success_envelope(data: dict[str, Any]) -> dict[str, Any]:
    """The schema of ``{"status": "success", "data": ...}``."""
    return {
        "type": "object",
        "properties": {"status": {"const": "success"}, "message": {"type": "string"}, "data": data},
        "required": ["status", "data"],
    }
