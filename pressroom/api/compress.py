"""POST /api/compress, POST /api/compress/bulk (also at /api/bulk) and
POST /api/compress/preview."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, request

from pressroom.api.schemas import CompressForm, PreviewForm, parse
from pressroom.api.submission import allow_bulk_body, runtime, submit_upload
from pressroom.engines.isolated import run_module
from pressroom.errors import MissingFileError
from pressroom.jobs.states import TaskType

#: a preview answers in about a second; past this the file is not worth waiting for
PREVIEW_TIMEOUT = 30

bp = Blueprint("compress", __name__, url_prefix="/api")


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
    rt = runtime()
    upload = request.files.get("file")
    if upload is None or upload.filename is None:
        raise MissingFileError()
    staged = rt.files.stage_upload(upload.stream, upload.filename, password=form.password)
    try:
        args: list[str | Path] = [staged.path]
        if form.password:
            args += ["--password", form.password]
        estimate = run_module(
            "pressroom.services.compression_preview", args, timeout=PREVIEW_TIMEOUT
        )
    finally:
        staged.discard()
    return jsonify({"status": "success", "data": {"filename": staged.display_name, **estimate}})
