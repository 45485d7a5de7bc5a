"""Job ids as a caller sees them, and the row ids behind them.

- API keys off: the row id is the job id, server-made (``uuid4``: 122 random
  bits, the job's only capability) or chosen by the client.
- API keys on: a server-made id is a ``uuid4`` too, and the row's owner must
  be the caller's key. A client-chosen ``job_id`` is scoped to its key: the
  row id is derived from (key id, job_id), ``c`` + 40 hex digits of their
  SHA-256, and the client's id is kept in ``client_job_id`` and shown as the
  job's ``job_id``. Two keys can use the same ``job_id`` without seeing or
  colliding with each other's job, and the primary key still makes creation
  race-safe. A derived id never looks like a ``uuid4`` (no dashes), so the two
  kinds cannot collide.
"""

from __future__ import annotations

import hashlib
import uuid

from pressroom.db.models import Job


def new_job_id() -> str:
    return str(uuid.uuid4())


def derived_row_id(owner: str, client_job_id: str) -> str:
    digest = hashlib.sha256(f"{owner}\x00{client_job_id}".encode()).hexdigest()
    return "c" + digest[:40]


def row_id_for(owner: str | None, job_id: str | None) -> tuple[str, str | None]:
    """``(row id, client_job_id)`` for a submission by ``owner``."""
    if job_id is None:
        return new_job_id(), None
    if owner is None:
        return job_id, None
    return derived_row_id(owner, job_id), job_id


def candidate_row_ids(owner: str | None, public_id: str) -> list[str]:
    """Rows that may hold ``owner``'s job ``public_id`` (check with ``visible_to``)."""
    if owner is None:
        return [public_id]
    return [derived_row_id(owner, public_id), public_id]


def public_job_id(job: Job) -> str:
    """The id the client knows the job by."""
    return job.client_job_id or job.id


def visible_to(job: Job, owner: str | None, public_id: str) -> bool:
    return job.owner == owner and public_job_id(job) == public_id
