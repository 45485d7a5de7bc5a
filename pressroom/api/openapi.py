"""The OpenAPI 3.1 document, built from the request schemas that validate
requests (pressroom.api.schemas) and the error codes (pressroom.errors), and
a Swagger UI page to try it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from pressroom.api.schemas import CompressForm, JobListQuery, PreviewForm
from pressroom.errors import ERROR_CLASSES
from pressroom.jobs.states import JobStatus, TaskType
from pressroom.services.compression import PRESETS

bp = Blueprint("openapi", __name__, url_prefix="/api")

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


def _multipart(form: type[Any], *, many: bool = False) -> dict[str, Any]:
    schema = form.model_json_schema()
    binary = {"type": "string", "format": "binary"}
    if many:
        files = {
            "files": {
                "type": "array",
                "items": binary,
                "description": "The PDFs (the field repeated; 'file' repeated is accepted too).",
            }
        }
    else:
        files = {"file": {**binary, "description": "The PDF."}}
    schema["properties"] = {**files, **schema.get("properties", {})}
    schema["required"] = [*files, *schema.get("required", [])]
    schema.pop("title", None)
    encoding = {"files": {"contentType": "application/pdf"}} if many else {}
    content = {"schema": schema, **({"encoding": encoding} if encoding else {})}
    return {"required": True, "content": {"multipart/form-data": content}}


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


def preview_envelope() -> dict[str, Any]:
    level = {
        "type": "object",
        "properties": {
            "estimated_size": {"type": "integer"},
            "estimated_ratio": {"type": "number", "description": "Percent saved."},
        },
    }
    return {
        "type": "object",
        "properties": {
            "status": {"const": "success"},
            "data": {
                "type": "object",
                "properties": {
                    "filename": {"type": "string"},
                    "original_size": {"type": "integer"},
                    "pages": {"type": "integer"},
                    "images": {"type": "integer"},
                    "image_bytes": {"type": "integer"},
                    "sampled_images": {"type": "integer"},
                    "levels": {
                        "type": "object",
                        "properties": {name: level for name in PRESETS},
                    },
                    "recommended_level": {"type": "string", "enum": list(PRESETS)},
                    "advice": {"type": "string"},
                },
            },
        },
        "required": ["status", "data"],
    }


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
    envelope = {
        "type": "object",
        "properties": {
            "status": {"const": "success"},
            "message": {"type": "string"},
            "data": {"$ref": "#/components/schemas/Job"},
        },
        "required": ["status", "data"],
    }
    accepted_headers = {"Location": {"schema": {"type": "string"}, "description": "The job's URL."}}
    bulk = {
        "post": {
            "summary": "Compress many PDFs into one zip (queued as one job)",
            "description": (
                "The option fields apply to every file. A file that is not a usable PDF "
                "(empty, not a PDF, too large, damaged, encrypted without its password) "
                "does not reject the request: it is listed in data.files with its error, "
                "and in the job's result. Limits: PRESSROOM_BULK_MAX_FILES files and "
                "PRESSROOM_BULK_MAX_TOTAL_MB together. The result is one zip "
                "(compressed_files.zip) with result.files (per file: filename, status "
                "completed|failed, sizes, compression_ratio, error) and result.totals. "
                "A job in which every file fails ends failed with BULK_ALL_FAILED."
            ),
            "operationId": "compressBulk",
            "requestBody": _multipart(CompressForm, many=True),
            "responses": {
                "202": {
                    **_ok(
                        "BulkJobEnvelope",
                        "Accepted (a repeated job_id with the same files: the same job)",
                    ),
                    "headers": accepted_headers,
                },
                "400": _error(
                    "Missing or invalid field, too many files (TOO_MANY_FILES), or every file empty"
                ),
                "409": _error("job_id used by a different job"),
                "413": _error("The files together are too large (or each one is)"),
                "415": _error("No file is a PDF"),
                "422": _error("Every PDF is damaged or encrypted"),
                "503": _error("Queue unavailable"),
            },
        }
    }
    bulk_envelope = {
        "type": "object",
        "properties": {
            "status": {"const": "success"},
            "message": {"type": "string"},
            "data": {
                "allOf": [
                    {"$ref": "#/components/schemas/Job"},
                    {
                        "type": "object",
                        "properties": {
                            "files": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "filename": {"type": "string"},
                                        "status": {"enum": ["queued", "rejected"]},
                                        "error": {
                                            "type": ["object", "null"],
                                            "properties": {
                                                "code": {"type": "string"},
                                                "message": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                ]
            },
        },
        "required": ["status", "data"],
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pressroom",
            "version": "0.1.0",
            "description": "Self-hosted PDF processing: every request becomes a job.",
        },
        "paths": {
            "/api/compress": {
                "post": {
                    "summary": "Compress a PDF (queued as a job)",
                    "requestBody": _multipart(CompressForm),
                    "responses": {
                        "202": {
                            **_ok(
                                "JobEnvelope",
                                "Accepted (a repeated job_id with the same file: the same job)",
                            ),
                            "headers": accepted_headers,
                        },
                        "400": _error("Missing or invalid field, empty file"),
                        "409": _error("job_id used by a different job"),
                        "413": _error("Upload too large"),
                        "415": _error("Not a PDF"),
                        "422": _error("Damaged or encrypted PDF"),
                        "503": _error("Queue unavailable"),
                    },
                }
            },
            "/api/compress/bulk": bulk,
            "/api/compress/preview": {
                "post": {
                    "summary": "Estimated size of a PDF at each compression level (no job)",
                    "requestBody": _multipart(PreviewForm),
                    "responses": {
                        "200": {
                            "description": "The estimates",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/PreviewEnvelope"}
                                }
                            },
                        },
                        "400": _error("Missing file or invalid field"),
                        "413": _error("Upload too large"),
                        "415": _error("Not a PDF"),
                        "422": _error("Damaged or encrypted PDF"),
                    },
                }
            },
            "/api/bulk": {
                "post": {
                    **bulk["post"],
                    "summary": "Compress many PDFs into one zip (alias of /api/compress/bulk)",
                    "operationId": "compressBulkAlias",
                }
            },
            "/api/jobs": {
                "get": {
                    "summary": "List jobs, newest first",
                    "parameters": _query(JobListQuery),
                    "responses": {
                        "200": {
                            "description": "A page of jobs",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
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
                        "200": {
                            "description": "Healthy",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "503": {
                            "description": "A check failed",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Job": job_view,
                "JobEnvelope": envelope,
                "PreviewEnvelope": preview_envelope(),
                "BulkJobEnvelope": bulk_envelope,
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
