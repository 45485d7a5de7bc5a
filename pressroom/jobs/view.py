"""The job view: what a client sees of a job. No server paths, no storage keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pressroom.access.ids import public_job_id
from pressroom.db.models import Job


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def public_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The result without internal fields (the storage key of its file)."""
    if result is None:
        return None
    clean = dict(result)
    if isinstance(clean.get("file"), dict):
        clean["file"] = {k: v for k, v in clean["file"].items() if k != "key"}
    return clean


def has_file(job: Job) -> bool:
    return bool(job.result and isinstance(job.result.get("file"), dict))


def job_view(job: Job, *, url_root: str = "/api") -> dict[str, Any]:
    terminal_failure = job.status in ("failed", "cancelled")
    downloadable = job.status == "completed" and has_file(job) and job.files_deleted_at is None
    job_id = public_job_id(job)
    return {
        "job_id": job_id,
        "task_type": job.task_type,
        "status": job.status,
        "progress": {
            "percentage": job.progress_percentage,
            "stage": job.progress_stage,
            "message": job.progress_message,
        },
        "result": public_result(job.result),
        "error": (
            {"code": job.error_code, "message": job.error_message}
            if terminal_failure and job.error_code
            else None
        ),
        "attempts": job.attempts,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "files_expired": job.files_deleted_at is not None,
        "download_url": f"{url_root}/jobs/{job_id}/download" if downloadable else None,
    }
