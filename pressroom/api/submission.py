"""Submitting a job: the one path every submission takes, for one file
(``file``), many (``files``, a bulk job), or text sent as JSON
(``submit_json``: the text becomes the job's input file).

Order matters, so that nothing is left behind when a step fails:
stage every upload (size, type, PDF checks) -> insert the job row -> move the
files into the job's folder -> publish the message (after the commit). A
failure after the insert deletes the row and the files again; a broker that
is down answers 503 and leaves no job pending.

In a bulk submission a file that is wrong in itself (not a PDF, empty, too
large, damaged, encrypted without its password) does not reject the request:
it is recorded in the job's input as a per-file error, reported in the 202
answer and in the job's result. Only when no file at all is usable does the
request fail, with the first file's error (and every file's in ``details``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.datastructures import FileStorage

from pressroom.access.ids import public_job_id
from pressroom.api.access import Admission, admit
from pressroom.db.models import Job
from pressroom.errors import (
    EngineTimeoutError,
    FileTooLargeError,
    MissingFileError,
    PressroomError,
    TooManyFilesError,
    ValidationError,
)
from pressroom.jobs.states import TaskType
from pressroom.jobs.view import job_view
from pressroom.runtime import Runtime
from pressroom.storage import sniff
from pressroom.storage.files import StagedUpload, safe_display_name
from pressroom.tasks.dispatch import dispatch

#: multipart overhead allowed above the size limit before werkzeug refuses the body
FORM_OVERHEAD = 1024 * 1024
#: the multipart fields a bulk request may carry its files in
BULK_FILE_FIELDS = ("files", "file")


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["pressroom"]
    return rt


def accepted(job: Job, *, replay: bool = False) -> Response:
    view = job_view(job)
    files = job.input_data.get("files")
    if isinstance(files, list):  # a bulk job: say at once what became of each file
        view["files"] = [
            {
                "filename": entry.get("filename"),
                "status": "rejected" if entry.get("error") else "queued",
                "error": entry.get("error"),
            }
            for entry in files
        ]
    response = jsonify(
        {
            "status": "success",
            "message": "Job already submitted with this job_id" if replay else "Job queued",
            "data": view,
        }
    )
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.get_job", job_id=public_job_id(job))
    return response


@dataclass
class _Upload:
    """One file of a submission: staged, or refused with its own error."""

    filename: str
    staged: StagedUpload | None = None
    error: PressroomError | None = None


def allow_bulk_body() -> None:
    """Raise the request's body limit to the bulk total; call it before the
    form is read. A body announced larger than that is refused at once."""
    settings = runtime().settings
    limit = settings.bulk_max_total_bytes
    request.max_content_length = limit + FORM_OVERHEAD
    # enough form parts for the files and the option fields, so that the
    # file count answers TOO_MANY_FILES rather than werkzeug's 413
    request.max_form_parts = max(1000, settings.bulk_max_files + 100)
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise FileTooLargeError(
            f"The files together are larger than {settings.bulk_max_total_mb} MiB.",
            limit_bytes=limit,
        )


def _is_file_error(error: PressroomError) -> bool:
    """An error about one file (bad content), not about the server."""
    return (error.http_status < 500 and not error.retryable) or isinstance(
        error, EngineTimeoutError
    )


def _stage_one(rt: Runtime, options: dict[str, Any], accept: tuple[str, ...]) -> list[_Upload]:
    upload = request.files.get("file")
    if upload is None or upload.filename is None:
        raise MissingFileError()
    staged = rt.files.stage_upload(
        upload.stream, upload.filename, accept=accept, password=options.get("password")
    )
    return [_Upload(staged.display_name, staged=staged)]


def _bulk_parts() -> list[FileStorage]:
    unknown = sorted(set(request.files) - set(BULK_FILE_FIELDS))
    if unknown:
        raise ValidationError(
            "Send the files in the multipart field 'files' (or 'file', repeated).",
            errors=[{"field": name, "problem": "unknown file field"} for name in unknown],
            allowed_fields=list(BULK_FILE_FIELDS),
        )
    parts = [part for name, part in request.files.items(multi=True) if name in BULK_FILE_FIELDS]
    if not parts:
        raise MissingFileError(
            "No file was uploaded; send the files as the multipart field 'files'."
        )
    return parts


def _stage_many(rt: Runtime, options: dict[str, Any], accept: tuple[str, ...]) -> list[_Upload]:
    settings = rt.settings
    parts = _bulk_parts()
    if len(parts) > settings.bulk_max_files:
        raise TooManyFilesError(
            f"{len(parts)} files sent; one request takes at most {settings.bulk_max_files}.",
            count=len(parts),
            limit=settings.bulk_max_files,
        )
    uploads: list[_Upload] = []
    total = 0
    try:
        for n, part in enumerate(parts, 1):
            name = safe_display_name(part.filename, f"document-{n}.pdf")
            try:
                staged = rt.files.stage_upload(
                    part.stream, part.filename, accept=accept, password=options.get("password")
                )
            except PressroomError as exc:
                if not _is_file_error(exc):
                    exc.details.setdefault("filename", name)
                    raise
                uploads.append(_Upload(name, error=exc))
                continue
            uploads.append(_Upload(name, staged=staged))
            total += staged.size
            if total > settings.bulk_max_total_bytes:
                raise FileTooLargeError(
                    f"The files together are larger than {settings.bulk_max_total_mb} MiB.",
                    limit_bytes=settings.bulk_max_total_bytes,
                )
    except BaseException:
        _discard(uploads)
        raise
    if all(u.error is not None for u in uploads):
        first = uploads[0].error
        assert first is not None
        first.details["files"] = [_error_entry(u) for u in uploads]
        raise first
    return uploads


def _error_entry(upload: _Upload) -> dict[str, Any]:
    assert upload.error is not None
    return {
        "filename": upload.filename,
        "error": {"code": upload.error.code, "message": upload.error.message},
    }


def _discard(uploads: list[_Upload]) -> None:
    for upload in uploads:
        if upload.staged is not None:
            upload.staged.discard()


def _describe_one(rt: Runtime, job_id: str, staged: StagedUpload) -> dict[str, Any]:
    return {
        "filename": staged.display_name,
        "mime": staged.mime,
        "size": staged.size,
        "pages": staged.pages,
        "input_key": rt.files.input_key(job_id, staged.mime),
    }


def _describe_many(rt: Runtime, job_id: str, uploads: list[_Upload]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for n, upload in enumerate(uploads, 1):
        if upload.staged is None:
            entries.append({"index": n, **_error_entry(upload)})
            continue
        staged = upload.staged
        entries.append(
            {
                "index": n,
                "filename": staged.display_name,
                "mime": staged.mime,
                "size": staged.size,
                "pages": staged.pages,
                "sha256": staged.sha256,
                "input_key": rt.files.nth_input_key(job_id, n, staged.mime),
            }
        )
    return entries


def submit_upload(
    task_type: TaskType,
    options: dict[str, Any],
    *,
    job_id: str | None,
    accept: tuple[str, ...] = (sniff.PDF,),
    many: bool = False,
) -> Response:
    """Stage the request's upload(s), create the job, move the files, publish.

    ``many=False``: one file in the field ``file``; any problem with it is the
    request's error. ``many=True`` (bulk): the files in ``files`` (or
    ``file``, repeated), at most ``bulk_max_files``, at most
    ``bulk_max_total_mb`` together; see the module's docstring for bad files.

    The access rules (owner, scoped ``job_id``, ``callback_url``, open-jobs
    limit) come from ``pressroom.api.access.admit``, checked before the
    upload is staged.
    """
    rt = runtime()
    admission = admit(options, job_id)  # takes callback_url out of options
    uploads = _stage_many(rt, options, accept) if many else _stage_one(rt, options, accept)
    try:
        job_id = admission.row_id
        input_data: dict[str, Any] = {"options": options, **admission.input_fields()}
        moves: list[tuple[str, StagedUpload]] = []
        if many:
            entries = _describe_many(rt, job_id, uploads)
            input_data["files"] = entries
            content = json.dumps(
                [[e["filename"], e.get("sha256") or e["error"]["code"]] for e in entries]
            )
            moves = [
                (entry["input_key"], upload.staged)
                for entry, upload in zip(entries, uploads, strict=True)
                if upload.staged is not None
            ]
        else:
            staged = uploads[0].staged
            assert staged is not None
            input_data.update(_describe_one(rt, job_id, staged))
            content = staged.sha256
            moves = [(input_data["input_key"], staged)]
        return _create_and_publish(rt, task_type, admission, input_data, content, moves)
    finally:
        _discard(uploads)


def submit_json(
    task_type: TaskType,
    options: dict[str, Any],
    *,
    job_id: str | None,
    text: str | None = None,
) -> Response:
    """The same path for a request whose input came in a JSON body: ``text``
    (if any) is staged and stored as the job's input file (``text/plain``,
    UTF-8), exactly as an upload would be, so the row holds only options and
    keys, and retention deletes the text with the job's other files."""
    rt = runtime()
    admission = admit(options, job_id)  # takes callback_url out of options
    staged = rt.files.stage_text(text) if text is not None else None
    try:
        job_id = admission.row_id
        input_data: dict[str, Any] = {"options": options, **admission.input_fields()}
        moves: list[tuple[str, StagedUpload]] = []
        content = ""
        if staged is not None:
            input_data.update(_describe_one(rt, job_id, staged))
            content = staged.sha256
            moves = [(input_data["input_key"], staged)]
        return _create_and_publish(rt, task_type, admission, input_data, content, moves)
    finally:
        if staged is not None:
            staged.discard()


def _create_and_publish(
    rt: Runtime,
    task_type: TaskType,
    admission: Admission,
    input_data: dict[str, Any],
    content: str,
    moves: list[tuple[str, StagedUpload]],
) -> Response:
    """The shared tail of every submission: the job row (idempotent on
    ``job_id``: same content and options, same job), the input files moved
    under their keys, the message published after the commit; if moving or
    publishing fails, the row and the files are deleted again."""
    options = input_data["options"]
    input_data["fingerprint"] = hashlib.sha256(
        (content + json.dumps(options, sort_keys=True)).encode()
    ).hexdigest()
    job_id = admission.row_id
    task_id = str(uuid.uuid4())
    job, created = rt.ops.create_job_safely(
        job_id, task_type, input_data, celery_task_id=task_id, **admission.create_kwargs()
    )
    if not created:
        return accepted(job, replay=True)
    try:
        for key, staged_file in moves:
            rt.files.adopt_input(job_id, staged_file, key=key)
        dispatch(rt.celery, job_id, task_type, task_id)
    except BaseException:
        rt.files.delete_job_files(job_id)
        rt.ops.delete_job(job_id)
        raise
    return accepted(job)


def answer_preview(
    estimate: Callable[[StagedUpload], dict[str, Any]],
    *,
    password: str | None = None,
    accept: tuple[str, ...] = (sniff.PDF,),
) -> Response:
    """A preview: the request's ``file`` staged (with the same checks as a
    submission), ``estimate(staged)`` answered at once (no job), the file
    discarded whatever happens."""
    rt = runtime()
    upload = request.files.get("file")
    if upload is None or upload.filename is None:
        raise MissingFileError()
    staged = rt.files.stage_upload(upload.stream, upload.filename, accept=accept, password=password)
    try:
        found = estimate(staged)
    finally:
        staged.discard()
    return jsonify({"status": "success", "data": {"filename": staged.display_name, **found}})
