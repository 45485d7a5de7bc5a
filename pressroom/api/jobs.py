"""The jobs part of the API: view, list, download, cancel/delete, events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    request,
    send_file,
    stream_with_context,
)

from pressroom.api.access import caller_owner
from pressroom.api.schemas import JobListQuery, parse
from pressroom.api.submission import runtime
from pressroom.db.models import Job, utcnow
from pressroom.errors import (
    InvalidTransitionError,
    JobListDisabledError,
    JobNotFoundError,
    JobNotReadyError,
    NoResultFileError,
    ResultExpiredError,
)
from pressroom.jobs.changes import ChangeListener
from pressroom.jobs.states import JobStatus
from pressroom.jobs.view import has_file, job_view

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")

#: An events stream ends after this long; EventSource reconnects by itself.
STREAM_SECONDS = 300
#: how often a stream reads its job when changes are not pushed (SQLite, or
#: the listener's connection is down) ...
POLL_SECONDS = 0.25
#: ... and when they are (a read in case a notification was lost)
PUSHED_RECHECK_SECONDS = 5.0
KEEPALIVE_SECONDS = 15


def _ok(data: Any, message: str | None = None) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if message:
        body["message"] = message
    return jsonify(body)


def load_job(job_id: str) -> Job:
    """The caller's job ``job_id``; another owner's job is a 404, like a
    job that never existed (pressroom.access.ids)."""
    job = runtime().ops.find_job(caller_owner(), job_id)
    if job is None:
        raise JobNotFoundError(job_id=job_id)
    return job


@bp.get("")
def list_jobs() -> Response:
    """The caller's jobs. Without API keys there is no caller to list for: a
    job id is its own capability, so listing every job is refused unless
    PRESSROOM_JOB_LIST_WITHOUT_AUTH allows it (a single-user server)."""
    query: JobListQuery = parse(JobListQuery, request.args.to_dict())
    settings = runtime().settings
    if settings.auth == "none" and not settings.job_list_without_auth:
        raise JobListDisabledError()
    rows, total = runtime().ops.list_jobs(
        owner=caller_owner(), status=query.status, limit=query.limit, offset=query.offset
    )
    return _ok(
        {
            "jobs": [job_view(job) for job in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    return _ok(job_view(load_job(job_id)))


@bp.get("/<job_id>/download")
def download(job_id: str) -> Response:
    job = load_job(job_id)
    if job.status != JobStatus.COMPLETED.value:
        raise JobNotReadyError(job_id=job_id, status=job.status)
    if not has_file(job):
        raise NoResultFileError(job_id=job_id)
    assert job.result is not None
    descriptor = job.result["file"]
    expired = job.files_deleted_at is not None or (job.expires_at and job.expires_at < utcnow())
    if expired:
        raise ResultExpiredError(job_id=job_id)
    try:
        stream = runtime().files.open_result(descriptor)
    except FileNotFoundError:
        raise ResultExpiredError(job_id=job_id) from None
    response = send_file(
        stream,
        mimetype=str(descriptor["mime"]),
        as_attachment=True,
        download_name=str(descriptor["filename"]),
        max_age=0,
    )
    response.headers["Content-Length"] = str(descriptor["size"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.delete("/<job_id>")
def delete_job(job_id: str) -> Response:
    """Cancel a pending or running job; delete the files of a finished one."""
    rt = runtime()
    job = load_job(job_id)
    row_id = job.id
    if not job.is_terminal:
        try:
            job = rt.ops.update_job_status_safely(
                row_id, JobStatus.CANCELLED, error=("JOB_CANCELLED", "Cancelled by the client.")
            )
        except InvalidTransitionError:
            job = load_job(job_id)  # it finished meanwhile: fall through to deletion
        else:
            rt.files.delete_input(row_id)
            return _ok(job_view(job), "Job cancelled")
    rt.files.delete_job_files(row_id)
    rt.ops.mark_files_deleted(row_id)
    return _ok(job_view(load_job(job_id)), "Job files deleted")


@bp.get("/<job_id>/events")
def events(job_id: str) -> Response:
    """Server-sent events: a ``progress`` event per change, ``end`` when terminal.

    On PostgreSQL each change is pushed with the job's new state (see
    pressroom.jobs.changes) and sent without reading the row again; the row
    is read when the stream starts, when a change came without its state,
    and every PUSHED_RECHECK_SECONDS in case a notification was lost. On
    SQLite it is read every POLL_SECONDS."""
    row_id = load_job(job_id).id
    ops = runtime().ops
    listener: ChangeListener = current_app.extensions["pressroom_changes"]

    def stream() -> Iterator[str]:
        yield "retry: 2000\n\n"
        last: str | None = None
        started = last_sent = time.monotonic()
        with listener.follow(row_id) as follower:
            job: Job | None = ops.get_job(row_id)
            while time.monotonic() - started < STREAM_SECONDS:
                if job is None:
                    yield f"event: error\ndata: {json.dumps({'code': 'JOB_NOT_FOUND'})}\n\n"
                    return
                payload = json.dumps(job_view(job))
                if payload != last:
                    last, last_sent = payload, time.monotonic()
                    yield f"event: progress\ndata: {payload}\n\n"
                if job.is_terminal:
                    yield f"event: end\ndata: {payload}\n\n"
                    return
                if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                    last_sent = time.monotonic()
                    yield ": keep-alive\n\n"
                wait = PUSHED_RECHECK_SECONDS if listener.live else POLL_SECONDS
                change = follower.next_state(job, wait)
                if change is job:  # no state came with the change: read the row
                    job = ops.get_job(row_id)
                elif change is not None:
                    job = change

    return Response(
        stream_with_context(stream()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
