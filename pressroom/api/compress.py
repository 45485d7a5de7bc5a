"""POST /api/compress, and POST /api/compress/bulk (also at /api/bulk)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from pressroom.api.schemas import CompressForm, parse
from pressroom.api.submission import allow_bulk_body, submit_upload
from pressroom.jobs.states import TaskType

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
