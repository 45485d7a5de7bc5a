"""POST /api/compress, POST /api/compress/bulk (also at /api/bulk) and
POST /api/compress/preview."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, request

from pressroom.api.schemas import CompressForm, PreviewForm, parse
from pressroom.api.spec import Operation, component, declare, success_envelope
from pressroom.api.submission import allow_bulk_body, answer_preview, submit_upload
from pressroom.engines.isolated import run_module
from pressroom.jobs.states import TaskType
from pressroom.services.compression import PRESETS

#: a preview answers in about a second; past this the file is not worth waiting for
PREVIEW_TIMEOUT = 30

bp = Blueprint("compress", __name__, url_prefix="/api")

_ERROR = {
    "type": ["object", "null"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
_LEVEL_ESTIMATE = {
    "type": "object",
    "properties": {
        "estimated_size": {"type": "integer"},
        "estimated_ratio": {"type": "number", "description": "Percent saved."},
    },
}
_PASS = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "size_after": {"type": "integer"},
        "seconds": {"type": "number"},
        "kept": {"type": "boolean"},
        "ssim_worst": {"type": ["number", "null"]},
        "text_unchanged": {"type": ["boolean", "null"]},
        "rejected": {"type": ["string", "null"], "description": "Why the candidate was refused."},
        "details": {"type": "object"},
    },
    "required": ["name", "size_after", "seconds", "kept"],
}
#: one compressed file's figures (a compress job's result; each completed file of a bulk job)
_COMPRESSION = {
    "original_size": {"type": "integer"},
    "compressed_size": {"type": "integer"},
    "compression_ratio": {"type": "number", "minimum": 0, "description": "Percent saved."},
    "pages": {"type": "integer"},
    "returned_original": {"type": "boolean"},
    "level": {"type": "string", "enum": list(PRESETS)},
    "settings": {"type": "object"},
    "passes": {"type": "array", "items": _PASS},
    "target": {
        "type": ["object", "null"],
        "properties": {
            "requested_bytes": {"type": "integer"},
            "achieved_bytes": {"type": "integer"},
            "met": {"type": "boolean"},
            "settings_tried": {"type": "integer", "description": "Settings tried."},
        },
    },
    "encryption_removed": {"type": "boolean"},
}
COMPRESS_RESULT = {
    "type": "object",
    "properties": _COMPRESSION,
    "required": ["original_size", "compressed_size", "compression_ratio", "pages", "level"],
}
BULK_RESULT = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **_COMPRESSION,
                    "filename": {"type": "string"},
                    "status": {"enum": ["completed", "failed"]},
                    "output_filename": {"type": "string", "description": "Its name in the zip."},
                    "original_size": {"type": ["integer", "null"]},
                    "compressed_size": {"type": ["integer", "null"]},
                    "compression_ratio": {"type": ["number", "null"]},
                    "error": _ERROR,
                },
                "required": ["filename", "status", "error"],
            },
        },
        "totals": {
            "type": "object",
            "properties": {
                "files": {"type": "integer"},
                "completed": {"type": "integer"},
                "failed": {"type": "integer"},
                "original_size": {"type": "integer"},
                "compressed_size": {"type": "integer"},
                "compression_ratio": {"type": "number", "minimum": 0},
            },
            "required": ["files", "completed", "failed"],
        },
    },
    "required": ["files", "totals"],
}

declare(
    Operation(
        name="compress",
        path="/api/compress",
        summary="Compress a PDF (queued as a job)",
        form=CompressForm,
        task_type=TaskType.COMPRESS,
        capabilities=lambda: {"levels": list(PRESETS)},
        result=COMPRESS_RESULT,
    )
)
declare(
    Operation(
        name="compress_bulk",
        path="/api/compress/bulk",
        aliases=("/api/bulk",),
        summary="Compress many PDFs into one zip (queued as one job)",
        description=(
            "The option fields apply to every file. A file that is not a usable PDF "
            "(empty, not a PDF, too large, damaged, encrypted without its password) "
            "does not reject the request: it is listed in data.files with its error, "
            "and in the job's result. Limits: PRESSROOM_BULK_MAX_FILES files and "
            "PRESSROOM_BULK_MAX_TOTAL_MB together. The result is one zip "
            "(compressed_files.zip) with result.files (per file: filename, status "
            "completed|failed, sizes, compression_ratio, error) and result.totals. "
            "A job in which every file fails ends failed with BULK_ALL_FAILED."
        ),
        form=CompressForm,
        body="files",
        task_type=TaskType.BULK_COMPRESS,
        result=BULK_RESULT,
        response=component(
            "BulkJobEnvelope",
            success_envelope(
                {
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
                                            "error": _ERROR,
                                        },
                                    },
                                }
                            },
                        },
                    ]
                }
            ),
        ),
        errors={
            "400": "Missing or invalid field, too many files (TOO_MANY_FILES), or every file empty",
            "413": "The files together are too large (or each one is)",
            "415": "No file is a PDF",
            "422": "Every PDF is damaged or encrypted",
        },
    )
)
declare(
    Operation(
        name="compress_preview",
        path="/api/compress/preview",
        summary="Estimated size of a PDF at each compression level (no job)",
        form=PreviewForm,
        response=component(
            "PreviewEnvelope",
            success_envelope(
                {
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
                            "properties": {name: _LEVEL_ESTIMATE for name in PRESETS},
                        },
                        "recommended_level": {"type": "string", "enum": list(PRESETS)},
                        "advice": {"type": "string"},
                    },
                }
            ),
        ),
    )
)


@bp.post("/compress")
def compress() -> Response:
    form: CompressForm = parse(CompressForm, request.form.to_dict())
    options = form.model_dump(exclude={"job_id"})
    return submit_upload(TaskType.COMPRESS, options, job_id=form.job_id)


@bp.post("/compress/bulk")
@bp.post("/bulk")
def compress_bulk() -> Response:
    """Many PDFs in one job; the options apply to every file."""
    allow_bulk_body()  # before the form is read
    form: CompressForm = parse(CompressForm, request.form.to_dict())
    options = form.model_dump(exclude={"job_id"})
    return submit_upload(TaskType.BULK_COMPRESS, options, job_id=form.job_id, many=True)


@bp.post("/compress/preview")
def compress_preview() -> Response:
    """Estimated size per level, answered at once (no job)."""
    form: PreviewForm = parse(PreviewForm, request.form.to_dict())
    extra: list[str | Path] = ["--password", form.password] if form.password else []
    return answer_preview(
        lambda staged: run_module(
            "pressroom.services.compression_preview",
            [staged.path, *extra],
            timeout=PREVIEW_TIMEOUT,
        ),
        password=form.password,
    )
