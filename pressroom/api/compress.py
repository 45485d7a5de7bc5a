"""POST /api/compress."""

from __future__ import annotations

from flask import Blueprint, Response, request

from pressroom.api.schemas import CompressForm, parse
from pressroom.api.submission import submit_upload
from pressroom.jobs.states import TaskType

bp = Blueprint("compress", __name__, url_prefix="/api")


@bp.post("/compress")
def compress() -> Response:
    form: CompressForm = parse(CompressForm, request.form.to_dict())
    options = form.model_dump(exclude={"job_id"})
    return submit_upload(TaskType.COMPRESS, options, job_id=form.job_id)
