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

ACCEPTED_HEADERS = {"Location": {"schema": {"type": "string"}, "description": "The job's URL."}}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


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
    binary = {"type": "string", "format": "binary"}
    kinds = ", ".join(op.accepts)
    if body == "files":
        files: dict[str, Any] = {
            "files": {
                "type": "array",
                "items": binary,
                "description": f"The files ({kinds}); the field repeated ('file' works too).",
            }
        }
    else:
        files = {"file": {**binary, "description": f"The file ({kinds})."}}
    schema["properties"] = {**files, **schema.get("properties", {})}
    schema["required"] = [*files, *schema.get("required", [])]
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _operation_path(op: Operation, operation_id: str) -> dict[str, Any]:
    if op.queued:
        success: dict[str, Any] = {
            "202": {
                **_ok(op.response, "Accepted (a repeated job_id, same input: the same job)"),
                "headers": ACCEPTED_HEADERS,
            }
        }
    else:
        success = {"200": _ok(op.response)}
    errors = {status: _error(text) for status, text in sorted(op.error_answers().items())}
    post: dict[str, Any] = {
        "summary": op.summary,
        "operationId": operation_id,
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


def document() -> dict[str, Any]:
    error_codes = sorted({cls.code for cls in ERROR_CLASSES})
    job_view = {
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
            },
            "result": {"type": ["object", "null"]},
            "error": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "attempts": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "completed_at": {"type": ["string", "null"], "format": "date-time"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "files_expired": {"type": "boolean"},
            "download_url": {"type": ["string", "null"]},
        },
        "required": ["job_id", "task_type", "status", "progress"],
    }
    any_object = {"application/json": {"schema": {"type": "object"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pressroom",
            "version": "0.1.0",
            "description": "Self-hosted PDF processing: every request becomes a job.",
        },
        "paths": {
            **_operation_paths(),
            **GET_PATHS,
            "/api/jobs": {
                "get": {
                    "summary": "List jobs, newest first",
                    "parameters": _query(JobListQuery),
                    "responses": {
                        "200": {"description": "A page of jobs", "content": any_object},
                        "400": _error("Invalid filter"),
                    },
                }
            },
            "/api/jobs/{job_id}": {
                "get": {
                    "summary": "A job's status, progress and result",
                    "parameters": [JOB_ID],
                    "responses": {"200": _ok("JobEnvelope"), "404": _error("Unknown job")},
                },
                "delete": {
                    "summary": "Cancel a pending or running job; delete a finished job's files",
                    "parameters": [JOB_ID],
                    "responses": {"200": _ok("JobEnvelope"), "404": _error("Unknown job")},
                },
            },
            "/api/jobs/{job_id}/download": {
                "get": {
                    "summary": "Download the job's result file",
                    "parameters": [JOB_ID],
                    "responses": {
                        "200": {
                            "description": "The file",
                            "content": {
                                "application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        "404": _error("Unknown job, or the job has no file"),
                        "409": _error("Not completed yet"),
                        "410": _error("Result expired"),
                    },
                }
            },
            "/api/jobs/{job_id}/events": {
                "get": {
                    "summary": "Server-sent events: progress until a terminal state",
                    "parameters": [JOB_ID],
                    "responses": {
                        "200": {
                            "description": "event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "404": _error("Unknown job"),
                    },
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Database, broker, storage, engines and queue consumers",
                    "responses": {
                        "200": {"description": "Healthy", "content": any_object},
                        "503": {"description": "A check failed", "content": any_object},
                    },
                }
            },
            "/api/extended-features/capabilities": {
                "get": {
                    "summary": "Every operation: its endpoint, fields (JSON schema) and facts",
                    "responses": {"200": {"description": "The operations", "content": any_object}},
                }
            },
            "/api/extended-features/status": {
                "get": {
                    "summary": "Which operations this server can run now",
                    "responses": {"200": {"description": "Per operation", "content": any_object}},
                }
            },
        },
        "components": {
            "schemas": {
                "Job": job_view,
                "JobEnvelope": success_envelope({"$ref": "#/components/schemas/Job"}),
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
