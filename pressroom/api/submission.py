"""Submitting a job from an upload: the one path every upload endpoint takes.

Order matters, so that nothing is left behind when a step fails:
stage the upload (size, type, PDF checks) -> insert the job row -> move the
file into the job's folder -> publish the message (after the commit). A
failure after the insert deletes the row and the files again; a broker that
is down answers 503 and leaves no job pending.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from flask import Response, current_app, jsonify, request, url_for

from pressroom.db.models import Job
from pressroom.errors import MissingFileError
from pressroom.jobs.states import TaskType
from pressroom.jobs.view import job_view
from pressroom.runtime import Runtime
from pressroom.storage import sniff
from pressroom.tasks.dispatch import dispatch


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["pressroom"]
    return rt


def accepted(job: Job, *, replay: bool = False) -> Response:
    view = job_view(job)
    response = jsonify(
        {
            "status": "success",
            "message": "Job already submitted with this job_id" if replay else "Job queued",
            "data": view,
        }
    )
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.get_job", job_id=job.id)
    return response


def submit_upload(
    task_type: TaskType,
    options: dict[str, Any],
    *,
    job_id: str | None,
    accept: tuple[str, ...] = (sniff.PDF,),
    owner: str | None = None,
) -> Response:
    rt = runtime()
    upload = request.files.get("file")
    if upload is None or upload.filename is None:
        raise MissingFileError()
    staged = rt.files.stage_upload(
        upload.stream, upload.filename, accept=accept, password=options.get("password")
    )
    try:
        job_id = job_id or str(uuid.uuid4())
        fingerprint = hashlib.sha256(
            (staged.sha256 + json.dumps(options, sort_keys=True)).encode()
        ).hexdigest()
        input_data = {
            "options": options,
            "filename": staged.display_name,
            "mime": staged.mime,
            "size": staged.size,
            "pages": staged.pages,
            "input_key": rt.files.input_key(job_id, staged.mime),
            "fingerprint": fingerprint,
        }
        task_id = str(uuid.uuid4())
        job, created = rt.ops.create_job_safely(
            job_id, task_type, input_data, owner=owner, celery_task_id=task_id
        )
        if not created:
            return accepted(job, replay=True)
        try:
            rt.files.adopt_input(job_id, staged)
            dispatch(rt.celery, job_id, task_type, task_id)
        except BaseException:
            rt.files.delete_job_files(job_id)
            rt.ops.delete_job(job_id)
            raise
        return accepted(job)
    finally:
        staged.discard()
