"""SQLAlchemy 2 models. Rows of ``jobs`` are written only by
``pressroom.jobs.operations.JobOperations`` (a test enforces it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pressroom.jobs.states import JobStatus, TaskType


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_STATUSES = [s.value for s in JobStatus]
_TERMINAL = [s.value for s in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)]


class Job(Base):
    """One client request and everything known about its processing."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", _STATUSES), name="status_valid"),
        CheckConstraint(_in("task_type", [t.value for t in TaskType]), name="task_type_valid"),
        CheckConstraint("progress_percentage BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint(
            f"({_in('status', _TERMINAL)}) = (finished_at IS NOT NULL)",
            name="finished_iff_terminal",
        ),
        CheckConstraint("updated_at >= created_at", name="updated_after_created"),
        CheckConstraint(
            "started_at IS NULL OR started_at >= created_at", name="started_after_created"
        ),
        CheckConstraint(
            "finished_at IS NULL OR finished_at >= created_at", name="finished_after_created"
        ),
        # listings: a caller's jobs, newest first, optionally by status
        Index("ix_jobs_owner_created", "owner", "created_at"),
        # the reaper: processing jobs by start, pending jobs by due time
        Index("ix_jobs_status_started", "status", "started_at"),
        Index("ix_jobs_status_scheduled", "status", "scheduled_at"),
        # cleanup: results past their retention, rows past theirs
        Index("ix_jobs_expires_at", "expires_at"),
        Index("ix_jobs_finished_at", "finished_at"),
    )

    #: Random (uuid4) or client-chosen id; the only handle a client has.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: API key id that owns the job; NULL when authentication is off.
    owner: Mapped[str | None] = mapped_column(String(64))
    #: The job_id its owner chose, when the row id had to be derived from it
    #: (with API keys, a client's id is scoped to its key: pressroom.access.ids).
    client_job_id: Mapped[str | None] = mapped_column(String(64))
    task_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)

    progress_percentage: Mapped[int] = mapped_column(Integer, default=0)
    progress_stage: Mapped[str | None] = mapped_column(String(64))
    progress_message: Mapped[str | None] = mapped_column(String(500))

    #: Validated request options plus the storage key of the input file.
    input_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What the service produced; may hold a storage key, never a server path.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

    #: Attempts started so far (a redelivery or a retry is a new attempt).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Id of the one Celery message allowed to run this job now; a message
    #: with another id is stale and is dropped.
    celery_task_id: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(32))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the current message is due (a retry's countdown ends then).
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the job's files are deleted (set when the job finishes).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set once cleanup or a delete removed the job's files.
    files_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Writes of this row so far: JobOperations adds one with each, so of two
    #: states of a job the one with the higher version is the later.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def status_enum(self) -> JobStatus:
        return JobStatus(self.status)

    @property
    def is_terminal(self) -> bool:
        return self.status_enum.is_terminal


class WorkerHeartbeat(Base):
    """A live worker and the queues it consumes; the health check reads it
    to report routed queues that nobody consumes."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    pid: Mapped[int] = mapped_column(Integer)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiKey(Base):
    """An API key. Only the SHA-256 of the token is kept: a key is 256 random
    bits, so a fast unsalted hash is safe and lets a request find its key by
    one indexed lookup."""

    __tablename__ = "api_keys"

    #: Public identifier (``key_`` + 12 hex); jobs' ``owner``; shown in listings.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: hex SHA-256 of the whole token
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """The pending (or finished) webhook of one terminal job: an outbox row,
    inserted in the same transaction that made the job terminal, so a worker
    that dies right after completing a job cannot lose its webhook."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", ["pending", "delivered", "failed"]), name="status_valid"),
        # the sweeper: pending deliveries by due time
        Index("ix_webhook_deliveries_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: one delivery per job: a job reaches a terminal state once
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    event: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when a message for the next attempt was last published (sweeper skips fresh ones)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
