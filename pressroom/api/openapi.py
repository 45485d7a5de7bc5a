"""The OpenAPI 3.1 document, built from the declared operations
(pressroom.api.spec: their forms are the code that validates requests), the
job endpoints and the error codes (pressroom.errors); and a Swagger UI page
to try it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from pressroom.api.schemas import JobListQuery
from pressroom.api.spec import COMPONENTS, GET_PATHS, OPERATIONS, Operation, success_envelope
from pressroom.errors import ERROR_CLASSES
from pressroom.jobs.states import JobStatus, TaskType

bp = Blueprint("openapi", __name__, url_prefix="/api")

JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
#: headers on every answer, and on particular ones
REQUEST_ID_HEADER = {
    "description": "The request's id (the client's X-Request-ID when valid, else a new one).",
    "required": True,
    "schema": {"type": "string"},
}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer"},
}
LOCATION_HEADER = {"description": "The job's URL.", "required": True, "schema": {"type": "string"}}
#: MIME types a result file can have (a result keeps the type its task gave it)
RESULT_MIME_TYPES = ("application/pdf", "application/zip", "*/*")


#: one event of GET /api/jobs/{job_id}/events (OpenAPI 3.1: the schema is per event)
SSE_EVENT = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "event": {"enum": ["progress", "end"]},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": "#/components/schemas/Job"},
                },
            },
            "required": ["event", "data"],
        },
        {
            "type": "object",
            "properties": {
                "event": {"const": "error"},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {
                        "type": "object",
                        "properties": {"code": {"const": "JOB_NOT_FOUND"}},
                        "required": ["code"],
                    },
                },
            },
            "required": ["event", "data"],
        },
    ]
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(schema_ref: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def _query(model: type[Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    params = []
    for name, prop in schema["properties"].items():
        if "anyOf" in prop:
            ref = next((p["$ref"] for p in prop["anyOf"] if "$ref" in p), None)
            prop = defs[ref.rsplit("/", 1)[-1]] if ref else prop
        params.append({"name": name, "in": "query", "required": False, "schema": prop})
    return params


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A property with its ``$ref`` inlined (so a form part's schema stands alone)."""
    if "$ref" in prop:
        rest = {k: v for k, v in prop.items() if k != "$ref"}
        return {**_resolve(defs[prop["$ref"].rsplit("/", 1)[-1]], defs), **rest}
    return prop


def _form_property(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A multipart form field's schema, and whether it travels as JSON text.

    A form field is absent or has a value: it cannot be null, so ``X | None``
    becomes ``X`` and a null default is dropped. An object field (a pydantic
    model, or ``Json[Model]``: a string whose content is JSON) is sent as a
    JSON text part, which OpenAPI says with the encoding ``application/json``.
    """
    prop = dict(prop)
    if "anyOf" in prop:
        real = [p for p in prop["anyOf"] if p.get("type") != "null"]
        if len(real) == 1:
            del prop["anyOf"]
            prop = {**_resolve(real[0], defs), **prop}
    prop = _resolve(prop, defs)
    if prop.get("default", 0) is None:
        del prop["default"]
    if prop.get("contentMediaType") == "application/json" and "contentSchema" in prop:
        inner = _resolve(prop["contentSchema"], defs)
        extra = {k: v for k, v in prop.items() if k in ("description", "default", "title")}
        return {**inner, **extra}, True
    return prop, prop.get("type") == "object"


def _request_body(op: Operation) -> dict[str, Any]:
    schema = op.fields_schema()
    if op.body == "json":
        content: dict[str, Any] = {"application/json": {"schema": schema}}
        upload = op.upload_fields_schema()
        if upload is not None:  # the same operation on a file sent as multipart
            content.update(_multipart(op, upload, "file")["content"])
        return {"required": True, "content": content}
    return _multipart(op, schema, op.body)


def _multipart(op: Operation, schema: dict[str, Any], body: str) -> dict[str, Any]:
    defs = schema.pop("$defs", {})
    binary = {"type": "string", "format": "binary"}
    kinds = ", ".join(op.accepts)
    encoding: dict[str, Any] = {}
    if body == "files":
        files: dict[str, Any] = {
            "files": {
                "type": "array",
                "items": binary,
                "minItems": 1,
                "description": f"The files ({kinds}); the field repeated ('file' works too).",
            }
        }
    else:
        files = {"file": {**binary, "description": f"The file ({kinds})."}}
    for name in files:
        encoding[name] = {"contentType": kinds}
    properties: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("enum") == [None]:
            continue  # only null is accepted (a feature off here): a form cannot send it
        properties[name], as_json = _form_property(prop, defs)
        if as_json:
            encoding[name] = {"contentType": "application/json"}
    schema["properties"] = {**files, **properties}
    schema["required"] = [*files, *schema.get("required", [])]
    media = {"schema": schema, "encoding": encoding}
    return {"required": True, "content": {"multipart/form-data": media}}


def _operation_path(op: Operation, operation_id: str) -> dict[str, Any]:
    if op.queued:
        success: dict[str, Any] = {
            "202": {
                **_ok(op.response, "Accepted (a repeated job_id, same input: the same job)"),
                "headers": {"Location": LOCATION_HEADER},
            }
        }
    else:
        success = {"200": _ok(op.response)}
    errors = {status: _error(text) for status, text in sorted(op.error_answers().items())}
    post: dict[str, Any] = {
        "summary": op.summary,
        "operationId": operation_id,
        "tags": ["operations"],
        "requestBody": _request_body(op),
        "responses": {**success, **errors},
    }
    if op.description:
        post["description"] = op.description
    if op.task_type is not None:
        post["x-task-type"] = op.task_type.value
    return {"post": post}


def _operation_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS.values():
        paths[op.path] = _operation_path(op, _camel(op.name))
        for n, alias in enumerate(op.aliases, 1):
            paths[alias] = _operation_path(op, f"{_camel(op.name)}Alias{n if n > 1 else ''}")
    return paths


def _camel(name: str) -> str:
    head, *rest = name.replace("-", "_").split("_")
    return head + "".join(part.title() for part in rest)


def _job_schema() -> dict[str, Any]:
    """The job view (pressroom.jobs.view), with each declared operation's
    result shape tied to its task type."""
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    result_file = {
        "type": "object",
        "description": "The result file (download it from download_url).",
        "properties": {
            "filename": {"type": "string"},
            "mime": {"type": "string"},
            "size": {"type": "integer", "minimum": 0},
        },
        "required": ["filename", "mime", "size"],
    }
    job: dict[str, Any] = {
        "type": "object",
        "properties": {
            "job_id": {"type": "string"},
            "task_type": {"type": "string", "enum": [t.value for t in TaskType]},
            "status": {"type": "string", "enum": [s.value for s in JobStatus]},
            "progress": {
                "type": "object",
                "properties": {
                    "percentage": {"type": "integer", "minimum": 0, "maximum": 100},
                    "stage": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                },
                "required": ["percentage", "stage", "message"],
            },
            "result": {
                "type": ["object", "null"],
                "description": "What the task produced (its shape depends on task_type).",
                "properties": {"file": result_file},
            },
            "error": {
                "type": ["object", "null"],
                "description": "Set for a failed or cancelled job.",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": ["string", "null"]},
                },
                "required": ["code", "message"],
            },
            "attempts": {"type": "integer", "minimum": 0},
            "created_at": nullable_time,
            "updated_at": nullable_time,
            "started_at": nullable_time,
            "completed_at": nullable_time,
            "expires_at": nullable_time,
            "files_expired": {"type": "boolean"},
            "download_url": {"type": ["string", "null"]},
        },
        "required": [
            "job_id",
            "task_type",
            "status",
            "progress",
            "result",
            "error",
            "attempts",
            "created_at",
            "updated_at",
            "started_at",
            "completed_at",
            "expires_at",
            "files_expired",
            "download_url",
        ],
    }
    shapes = []
    for op in OPERATIONS.values():
        if op.task_type is None or op.result is None:
            continue
        shapes.append(
            {
                "if": {
                    "properties": {
                        "task_type": {"const": op.task_type.value},
                        "status": {"const": "completed"},
                    },
                    "required": ["task_type", "status"],
                },
                "then": {"properties": {"result": op.result}},
            }
        )
    if shapes:
        job["allOf"] = shapes
    return job


def _components() -> dict[str, Any]:
    error_codes = sorted({cls.code for cls in ERROR_CLASSES})
    check = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}, "error": {"type": "string"}},
        "required": ["ok"],
        "additionalProperties": True,
    }
    operation = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "path": {"type": "string"},
            "method": {"const": "POST"},
            "summary": {"type": "string"},
            "body": {"type": "string", "enum": ["file", "files", "json"]},
            "accepts": {"type": "array", "items": {"type": "string"}},
            "queued": {"type": "boolean"},
            "task_type": {"type": ["string", "null"]},
            "fields": {"type": "object", "description": "JSON schema of the request's fields."},
            "available": {"type": "boolean"},
        },
        "required": ["name", "path", "method", "summary", "body", "accepts", "queued", "fields"],
        "additionalProperties": True,
    }
    return {
        "Job": _job_schema(),
        "JobEnvelope": success_envelope({"$ref": "#/components/schemas/Job"}),
        "JobList": success_envelope(
            {
                "type": "object",
                "properties": {
                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                    "total": {"type": "integer", "minimum": 0},
                    "limit": {"type": "integer"},
                    "offset": {"type": "integer"},
                },
                "required": ["jobs", "total", "limit", "offset"],
            }
        ),
        "Health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["healthy", "unhealthy"]},
                "checks": {
                    "type": "object",
                    "properties": {
                        name: check
                        for name in ("database", "broker", "storage", "engines", "queues")
                    },
                    "additionalProperties": check,
                },
            },
            "required": ["status", "checks"],
        },
        "Capabilities": success_envelope(
            {
                "type": "object",
                "properties": {"operations": {"type": "array", "items": operation}},
                "required": ["operations"],
            }
        ),
        "OperationStatus": success_envelope(
            {
                "type": "object",
                "properties": {
                    "operations": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {
                                "available": {"type": "boolean"},
                                "reason": {"type": "string"},
                            },
                            "required": ["available"],
                        },
                    }
                },
                "required": ["operations"],
            }
        ),
        **COMPONENTS,
        "Error": {
            "type": "object",
            "properties": {
                "success": {"const": False},
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string", "enum": error_codes},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    },
                    "required": ["code", "message", "details"],
                },
                "timestamp": {"type": "string", "format": "date-time"},
                "request_id": {"type": "string"},
            },
            "required": ["success", "error", "timestamp", "request_id"],
        },
    }


def _job_paths() -> dict[str, Any]:
    unavailable = _error("The database is unavailable (SERVICE_UNAVAILABLE)")
    download_content = {
        mime: {"schema": {"type": "string", "format": "binary"}} for mime in RESULT_MIME_TYPES
    }
    return {
        "/api/jobs": {
            "get": {
                "summary": "List jobs, newest first",
                "tags": ["jobs"],
                "parameters": _query(JobListQuery),
                "responses": {
                    "200": _ok("JobList", "A page of jobs"),
                    "400": _error("Invalid or unknown query parameter"),
                    "403": _error(
                        "JOB_LIST_DISABLED: without API keys a job id is its own "
                        "capability, so jobs are not listed (PRESSROOM_JOB_LIST_WITHOUT_AUTH)"
                    ),
                    "503": unavailable,
                },
            }
        },
        "/api/jobs/{job_id}": {
            "get": {
                "summary": "A job's status, progress and result",
                "tags": ["jobs"],
                "parameters": [JOB_ID],
                "responses": {
                    "200": _ok("JobEnvelope"),
                    "404": _error("Unknown job"),
                    "503": unavailable,
                },
            },
            "delete": {
                "summary": "Cancel a pending or running job; delete a finished job's files",
                "tags": ["jobs"],
                "parameters": [JOB_ID],
                "responses": {
                    "200": _ok("JobEnvelope", "Cancelled, or its files deleted"),
                    "404": _error("Unknown job"),
                    "503": unavailable,
                },
            },
        },
        "/api/jobs/{job_id}/download": {
            "get": {
                "summary": "Download the job's result file",
                "tags": ["jobs"],
                "parameters": [JOB_ID],
                "responses": {
                    "200": {
                        "description": "The file, with the result's MIME type",
                        "headers": {
                            "Content-Disposition": {
                                "description": "attachment; filename=<the result's name>",
                                "required": True,
                                "schema": {"type": "string"},
                            },
                            "Content-Length": {"required": True, "schema": {"type": "integer"}},
                        },
                        "content": download_content,
                    },
                    "404": _error("Unknown job (JOB_NOT_FOUND), or no file (NO_RESULT_FILE)"),
                    "409": _error("Not completed (JOB_NOT_READY)"),
                    "410": _error("Result expired or deleted (RESULT_EXPIRED)"),
                    "503": unavailable,
                },
            }
        },
        "/api/jobs/{job_id}/events": {
            "get": {
                "summary": "Server-sent events: progress until a terminal state",
                "description": (
                    "Events 'progress' (the job view as JSON, on every change), 'end' (the "
                    'final view) and \'error\' ({"code": "JOB_NOT_FOUND"}); the stream '
                    "ends after 300 s and EventSource reconnects after 'retry'."
                ),
                "tags": ["jobs"],
                "parameters": [JOB_ID],
                "responses": {
                    "200": {
                        "description": "The event stream",
                        "headers": {
                            "Cache-Control": {"required": True, "schema": {"const": "no-cache"}}
                        },
                        "content": {"text/event-stream": {"schema": SSE_EVENT}},
                    },
                    "404": _error("Unknown job"),
                    "503": unavailable,
                },
            }
        },
    }


def _service_paths() -> dict[str, Any]:
    return {
        "/api/health": {
            "get": {
                "summary": "Database, broker, storage, engines and queue consumers",
                "tags": ["service"],
                "responses": {
                    "200": _ok("Health", "Every check passed"),
                    "503": _ok("Health", "A check failed (this body is not the error envelope)"),
                },
            }
        },
        "/api/extended-features/capabilities": {
            "get": {
                "summary": "Every operation: its endpoint, fields (JSON schema) and facts",
                "tags": ["service"],
                "responses": {"200": _ok("Capabilities", "The operations")},
            }
        },
        "/api/extended-features/status": {
            "get": {
                "summary": "Which operations this server can run now",
                "tags": ["service"],
                "responses": {"200": _ok("OperationStatus", "Per operation")},
            }
        },
    }


def _with_common_headers(paths: dict[str, Any]) -> dict[str, Any]:
    """Every answer carries X-Request-ID; every 503 also Retry-After."""
    for methods in paths.values():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = REQUEST_ID_HEADER
                if status == "503" and response.get("content", {}).get("application/json", {}).get(
                    "schema"
                ) == {"$ref": "#/components/schemas/Error"}:
                    headers["Retry-After"] = RETRY_AFTER_HEADER
    return paths


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pressroom",
            "version": "0.1.0",
            "description": (
                "Self-hosted PDF processing: every request becomes a job. A client may send "
                "X-Request-ID (8 to 64 of A-Z a-z 0-9 . _ -); every answer carries one. "
                "The web page at / and `pressroom submit` build their choices from "
                "GET /api/extended-features/capabilities."
            ),
        },
        "tags": [
            {"name": "operations", "description": "Submit work (a job, or an answer at once)."},
            {"name": "jobs", "description": "Follow, download and cancel jobs."},
            {"name": "service", "description": "Health and what this server offers."},
        ],
        # a key is needed only with PRESSROOM_AUTH=api_key (docs/api.md#authentication)
        "security": [{}, {"ApiKey": []}],
        "paths": _with_common_headers(
            {**_operation_paths(), **GET_PATHS, **_job_paths(), **_service_paths()}
        ),
        "components": {
            "schemas": _components(),
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pressroom API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/docs-init.js"></script></body></html>"""

INIT_JS = 'window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui"});'


@bp.get("/docs")
def docs_page() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/assets/<path:name>")
def docs_asset(name: str) -> Response:
    if name == "docs-init.js":
        return Response(INIT_JS, mimetype="application/javascript")
    return send_from_directory(str(swagger_ui_path), name)
