"""JobOperations: the one and only code path that writes a job row.

Every change runs in one short transaction on the locked row
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction begins
with ``BEGIN IMMEDIATE``, which takes the database's write lock) and is
retried with backoff when the database reports a deadlock, a serialization
failure or a busy lock.

The transactions are SQLAlchemy Core statements built once, not ORM
flushes: the locked row is read into a detached ``Job``, the change is made
on it, and the columns it changed are written back in one ``UPDATE``. The
ORM's unit of work had cost a worker most of a small job's Python CPU (the
task pattern now spends 6.4 ms of CPU on a lossless job, 8.6 before).

The three writes every job makes in the worker (the claim, progress, the
completion) are each one fenced ``UPDATE`` in the common case: its ``WHERE``
is the state the locked path would have checked, so it changes the row only
when the locked path would have made the same change. On PostgreSQL it runs
on an autocommit connection, one round trip instead of four (BEGIN, the
locked SELECT, UPDATE, COMMIT). When it matches no row, the locked path
runs and decides (a redelivery, a stale message, a cancelled job, the
attempt limit).

Every write adds one to ``jobs.version``, which orders the states of a job
that a follower of its changes is sent (pressroom.jobs.changes).

Reads for the API go through ``get_job`` and ``list_jobs``, which never
lock. ``get_job``, the read behind every job view and poll, is one
statement on an autocommit connection (on PostgreSQL: no BEGIN and ROLLBACK
round trips around it) and returns a detached ``Job``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import String as SqlString
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pressroom.access import ids
from pressroom.db.engine import SINGLE_STATEMENTS, WRITE
from pressroom.db.models import ApiKey, Job, WebhookDelivery, WorkerHeartbeat, utcnow
from pressroom.errors import (
    InvalidTransitionError,
    JobCancelledError,
    JobConflictError,
    JobNotFoundError,
    StaleAttemptError,
    TooManyOpenJobsError,
    WorkerLostError,
)
from pressroom.jobs.states import QUEUE_OF, TERMINAL_STATUSES, JobStatus, TaskType, can_transition

log = logging.getLogger(__name__)
T = TypeVar("T")

#: webhook deliveries queued by the transaction running in this context
_NEW_DELIVERIES: ContextVar[list[dict[str, Any]] | None] = ContextVar(
    "pressroom_new_deliveries", default=None
)

_JOBS = cast(Table, Job.__table__)
_JOB_COLUMNS = tuple(_JOBS.c.keys())
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_HEARTBEATS = cast(Table, WorkerHeartbeat.__table__)
#: the hot statements, built once (building one costs more than running it):
#: a new row, a job's row, that row locked, and an UPDATE whose SET clause is
#: the columns named in the parameters it is executed with
_INSERT_ROW = insert(_JOBS)
_ROW = select(_JOBS).where(_JOBS.c.id == bindparam("job_id"))
_LOCKED_ROW = _ROW.with_for_update()
_UPDATE_ROW = update(_JOBS).where(_JOBS.c.id == bindparam("job_id"))


def _not_before_creation(column: str) -> Any:
    """``:column``, or the job's creation time if that is later (another
    machine's clock may be behind the API's; the row's checks require it)."""
    value = bindparam(column, type_=_JOBS.c.created_at.type)
    return case((_JOBS.c.created_at > value, _JOBS.c.created_at), else_=value)


_THIS_ATTEMPT = (
    _JOBS.c.id == bindparam("job_id"),
    _JOBS.c.status == JobStatus.PROCESSING.value,
    _JOBS.c.celery_task_id == bindparam("task_id"),
    _JOBS.c.attempts == bindparam("attempt"),
)
#: a progress write in one statement, matching only while the attempt
#: ``(task_id, attempt)`` still owns the running job
_PROGRESS_ROW = (
    update(_JOBS)
    .where(*_THIS_ATTEMPT)
    .values(
        progress_percentage=bindparam("percentage"),
        progress_stage=bindparam("stage"),
        progress_message=bindparam("message"),
        updated_at=_not_before_creation("now"),
        version=_JOBS.c.version + 1,
    )
)
#: the same on PostgreSQL, committed without waiting for the WAL flush:
#: ``set_config(..., true)`` sets it for the statement's own transaction
_PROGRESS_ROW_ASYNC = _PROGRESS_ROW.where(
    func.set_config("synchronous_commit", "off", True).is_not(None)
)
#: the claim of a pending job by the message it was dispatched with, within
#: the attempt limit (``take`` in ``claim`` is the same change, locked)
_CLAIM_ROW = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("job_id"),
        _JOBS.c.status == JobStatus.PENDING.value,
        _JOBS.c.celery_task_id == bindparam("task_id"),
        _JOBS.c.attempts < bindparam("max_attempts"),
    )
    .values(
        status=JobStatus.PROCESSING.value,
        attempts=_JOBS.c.attempts + 1,
        started_at=_not_before_creation("now"),
        updated_at=_not_before_creation("now"),
        progress_stage="started",
        progress_message=literal("Attempt ") + sql_cast(_JOBS.c.attempts + 1, SqlString),
        version=_JOBS.c.version + 1,
    )
    .returning(*_JOBS.c)
)
#: what completion sets besides the times and the result (``_finish``)
_COMPLETED = {
    "progress_percentage": 100,
    "progress_stage": "done",
    "progress_message": "Completed",
    "error_code": None,
    "error_message": None,
}
#: the completion of a running job by the attempt that owns it
_COMPLETE_ROW = (
    update(_JOBS)
    .where(*_THIS_ATTEMPT)
    .values(
        status=JobStatus.COMPLETED.value,
        finished_at=_not_before_creation("now"),
        updated_at=_not_before_creation("now"),
        expires_at=bindparam("expires_at"),
        result=bindparam("result"),
        version=_JOBS.c.version + 1,
        **_COMPLETED,
    )
)

#: SQLSTATEs worth retrying: serialization failure, deadlock.
_RETRY_SQLSTATES = {"40001", "40P01"}


def _has_password(input_data: dict[str, Any]) -> bool:
    """The job's options hold a password (removed when the job finishes).

    A form without one is stored with ``"password": None``: nothing to
    remove, and such a job must not pay for the locked path."""
    options = input_data.get("options")
    return isinstance(options, dict) and bool(options.get("password"))


def _callback_url(input_data: Any) -> str | None:
    """Where the job's outcome is delivered (a webhook row when it finishes)."""
    url = input_data.get("callback_url") if isinstance(input_data, dict) else None
    return str(url) if url else None


def detached_job(values: dict[str, Any]) -> Job:
    """A detached ``Job`` of column values read from the database elsewhere
    (a change pushed to followers: pressroom.jobs.changes). Writes nothing."""
    return Job(**values)


def _is_retryable_db_error(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        if "database is locked" in text or "database is busy" in text:
            return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        if exc.connection_invalidated:
            return True
    return False


def _worker_lost(attempts: int) -> tuple[str, str]:
    return (
        WorkerLostError.code,
        f"The job was started {attempts} times and its worker stopped each time; "
        "it was abandoned. The file may be too large or malformed for this server.",
    )


class JobOperations:
    """Transaction-safe writes of job rows. Construct with a session factory."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_db_retries: int = 5,
        result_retention: timedelta = timedelta(hours=24),
    ) -> None:
        self._sessions = sessions
        engine: Engine = sessions.kw["bind"]
        #: every write transaction carries WRITE (SQLite: BEGIN IMMEDIATE)
        self._writer = engine.execution_options(**{WRITE: True})
        #: single-statement reads: no BEGIN on PostgreSQL (a SELECT needs no
        #: transaction of its own); SQLite's BEGIN and ROLLBACK are local calls
        postgresql = engine.dialect.name == "postgresql"
        single = engine.execution_options(**{SINGLE_STATEMENTS: True}) if postgresql else None
        self._reader = single or engine
        #: one-statement writes (``_run(one_statement=True)``): their own
        #: transaction on PostgreSQL; on SQLite BEGIN IMMEDIATE and COMMIT
        #: are local calls and keep the write lock rule of every write
        self._single_writer = single
        self._max_db_retries = max_db_retries
        #: progress is committed without waiting for the WAL flush (PostgreSQL)
        self._progress_row = _PROGRESS_ROW_ASYNC if postgresql else _PROGRESS_ROW
        self.result_retention = result_retention
        #: called after the commit that queued webhook deliveries, with their
        #: ids (the runtime publishes them; the sweeper covers a failed publish)
        self.on_deliveries: Callable[[list[str]], None] | None = None

    # -- transaction plumbing -----------------------------------------------
    def _run(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """Run ``work`` in one transaction, retrying transient conflicts.

        Webhook deliveries queued meanwhile (``_queue_webhook``) are inserted
        in the same transaction and announced after its commit.
        ``one_statement``: ``work`` executes a single statement, which is its
        own transaction (on PostgreSQL: autocommit, no BEGIN and COMMIT round
        trips); it cannot queue deliveries."""
        for attempt in range(1, self._max_db_retries + 1):
            deliveries: list[dict[str, Any]] = []
            token = _NEW_DELIVERIES.set(deliveries)
            try:
                if one_statement and self._single_writer is not None:
                    with self._single_writer.connect() as conn:
                        value = work(conn)
                    assert not deliveries, "a one-statement write cannot queue deliveries"
                    return value
                with self._writer.begin() as conn:
                    value = work(conn)
                    if deliveries:
                        conn.execute(insert(_DELIVERIES), deliveries)
                if deliveries and self.on_deliveries is not None:
                    self._announce([delivery["id"] for delivery in deliveries])
                return value
            except (OperationalError, DBAPIError) as exc:
                if attempt == self._max_db_retries or not _is_retryable_db_error(exc):
                    raise
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())  # noqa: S311
                log.warning("job transaction retry %d after %s", attempt, exc.__class__.__name__)
                time.sleep(delay)
            finally:
                _NEW_DELIVERIES.reset(token)
        raise AssertionError("unreachable")

    def _announce(self, deliveries: list[str]) -> None:
        assert self.on_deliveries is not None
        try:
            self.on_deliveries(deliveries)
        except Exception:  # the sweeper sends it later; the outcome is committed
            log.warning("could not queue webhook deliveries %s", deliveries, exc_info=True)

    @staticmethod
    def _locked(conn: Connection, job_id: str) -> tuple[Job, dict[str, Any]]:
        """The job's row, locked: a detached ``Job`` and the values read."""
        row = conn.execute(_LOCKED_ROW, {"job_id": job_id}).one_or_none()
        if row is None:
            raise JobNotFoundError(job_id=job_id)
        values = dict(row._mapping)
        return Job(**values), values

    # -- creation -----------------------------------------------------------
    def create_job_safely(
        self,
        job_id: str,
        task_type: TaskType,
        input_data: dict[str, Any],
        *,
        owner: str | None = None,
        celery_task_id: str | None = None,
        client_job_id: str | None = None,
        max_open: int | None = None,
    ) -> tuple[Job, bool]:
        """Insert the job, or return the one already there with this id.

        Returns ``(job, created)``. The same id with the same owner, task type
        and input fingerprint (``input_data["fingerprint"]`` when present) is
        the same job: a replay, not an error. Anything else under that id
        raises ``JobConflictError``. Race-safe: the primary key decides, and
        the loser of an insert race reads the winner's row.

        ``max_open``: with an ``owner``, refuse (``TooManyOpenJobsError``) when
        the owner already has that many pending or processing jobs. The
        owner's key row is locked while counting, so two racing submissions
        cannot both take the last place.
        """
        task_type = TaskType(task_type)
        #: the owner's open-jobs limit to check; without it the insert is the
        #: whole transaction
        limit = (owner, max_open) if owner is not None and max_open is not None else None

        def create(conn: Connection) -> Job:
            now = utcnow()
            if limit is not None:
                self._check_open_jobs(conn, *limit)
            values: dict[str, Any] = dict(
                id=job_id,
                owner=owner,
                client_job_id=client_job_id,
                task_type=task_type.value,
                status=JobStatus.PENDING.value,
                progress_percentage=0,
                progress_stage="queued",
                progress_message="Waiting for a worker",
                input_data=input_data,
                attempts=0,
                celery_task_id=celery_task_id,
                queue=QUEUE_OF[task_type].value,
                created_at=now,
                updated_at=now,
                scheduled_at=now,
            )
            conn.execute(_INSERT_ROW, values)
            return Job(**values)

        for _ in range(self._max_db_retries):
            try:
                return self._run(create, one_statement=limit is None), True
            except TooManyOpenJobsError:
                existing = self.get_job(job_id)  # a replay is no new job
                if existing is None:
                    raise
                self._check_same_job(existing, task_type, owner, input_data)
                return existing, False
            except IntegrityError:
                existing = self.get_job(job_id)
                if existing is None:  # deleted between our insert and read: try again
                    continue
                self._check_same_job(existing, task_type, owner, input_data)
                return existing, False
        raise JobConflictError(job_id=job_id)

    @staticmethod
    def _check_open_jobs(conn: Connection, owner: str, max_open: int) -> None:
        conn.execute(select(ApiKey.id).where(ApiKey.id == owner).with_for_update())
        open_jobs = conn.execute(
            select(func.count())
            .select_from(Job)
            .where(
                Job.owner == owner,
                Job.status.in_([JobStatus.PENDING.value, JobStatus.PROCESSING.value]),
            )
        ).scalar_one()
        if open_jobs >= max_open:
            raise TooManyOpenJobsError(
                f"This API key has {open_jobs} unfinished jobs (the limit is {max_open}); "
                "wait for some to finish.",
                open_jobs=open_jobs,
                limit=max_open,
                retry_after=30,
            )

    @staticmethod
    def _check_same_job(
        job: Job, task_type: TaskType, owner: str | None, input_data: dict[str, Any]
    ) -> None:
        same = (
            job.owner == owner
            and job.task_type == task_type.value
            and job.input_data.get("fingerprint") == input_data.get("fingerprint")
        )
        if not same:
            raise JobConflictError(job_id=job.id)

    # -- status and arbitrary changes ----------------------------------------
    def execute_job_operation(self, job_id: str, fn: Callable[[Job], T]) -> T:
        """Run ``fn(job)`` on the locked row and commit; ``fn`` may raise to abort."""

        def work(conn: Connection) -> T:
            job, read = self._locked(conn, job_id)
            value = fn(job)
            after = {name: getattr(job, name) for name in _JOB_COLUMNS}
            changes = {name: value for name, value in after.items() if value != read[name]}
            if changes:
                job.updated_at = changes["updated_at"] = max(utcnow(), job.created_at)
                job.version = changes["version"] = read["version"] + 1
                conn.execute(_UPDATE_ROW, {**changes, "job_id": job_id})
            return value

        return self._run(work)

    def update_job_status_safely(
        self,
        job_id: str,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: tuple[str, str] | None = None,
        *,
        fence: tuple[str, int] | None = None,
        mutate: Callable[[Job], None] | None = None,
    ) -> Job:
        """Move the job to ``status`` if the state machine allows it.

        ``error`` is ``(code, message)``. ``fence`` is a worker's
        ``(task_id, attempt)``: if the job has since been re-dispatched or
        re-claimed, the stale worker's change is refused.
        ``mutate`` applies further changes in the same transaction.
        """
        status = JobStatus(status)

        def change(job: Job) -> Job:
            current = job.status_enum
            if fence is not None and (job.celery_task_id, job.attempts) != fence:
                raise StaleAttemptError(job_id=job_id)
            if not can_transition(current, status):
                raise InvalidTransitionError(
                    f"A {current.value} job cannot become {status.value}.",
                    job_id=job_id,
                    current=current.value,
                    requested=status.value,
                )
            if status == JobStatus.PROCESSING and current != JobStatus.PROCESSING:
                job.started_at = utcnow()
            if status in TERMINAL_STATUSES:
                self._finish(job, status, result=result, error=error)
            else:
                self._move(job, status)
                if result is not None:
                    job.result = result
                if error is not None:
                    job.error_code, job.error_message = error
            if mutate is not None:
                mutate(job)
            return job

        return self.execute_job_operation(job_id, change)

    @staticmethod
    def _move(job: Job, status: JobStatus) -> None:
        """Every status change passes here, so none can skip the state machine."""
        current = job.status_enum
        if not can_transition(current, status):
            raise InvalidTransitionError(
                f"A {current.value} job cannot become {status.value}.",
                job_id=job.id,
                current=current.value,
                requested=status.value,
            )
        job.status = status.value

    def _finish(
        self,
        job: Job,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        """Put a locked job in a terminal state, with its timestamps."""
        now = utcnow()
        self._move(job, status)
        job.finished_at = max(now, job.created_at)
        job.expires_at = now + self.result_retention
        if result is not None:
            job.result = result
        if _has_password(job.input_data):
            # a finished job needs no secret: do not keep it at rest
            options = {k: v for k, v in job.input_data["options"].items() if k != "password"}
            job.input_data = {**job.input_data, "options": options}
        self._queue_webhook(job, status, now)
        if status == JobStatus.COMPLETED:
            for name, value in _COMPLETED.items():
                setattr(job, name, value)
        else:
            job.progress_stage = status.value
            if error is not None:
                job.error_code, job.error_message = error

    @staticmethod
    def _queue_webhook(job: Job, status: JobStatus, now: datetime) -> None:
        """Every terminal transition passes here (completion, failure, cancel,
        the reaper, claim past the attempt limit): a job with a callback_url
        gets its delivery row in the same transaction as its outcome."""
        url = _callback_url(job.input_data)
        if url is None:
            return
        queued = _NEW_DELIVERIES.get()
        if queued is None:
            raise RuntimeError("a job can only be finished inside a JobOperations transaction")
        queued.append(
            {
                "id": str(uuid.uuid4()),
                "job_id": job.id,
                "url": url,
                "event": f"job.{status.value}",
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )

    # -- worker-side helpers (still one transaction each) ---------------------
    def claim(self, job_id: str, task_id: str, max_attempts: int) -> Job | None:
        """Take the job for one attempt of the message ``task_id``.

        Returns the job (now processing, attempt counted) or None when this
        message must not run: the job is terminal, or belongs to another
        dispatch. A job past its attempt limit is failed here, so a file that
        kills its worker cannot loop for ever.

        A pending job is claimed by one fenced UPDATE (``_CLAIM_ROW``); the
        locked path below decides every other case.
        """
        row = self._run(
            lambda conn: conn.execute(
                _CLAIM_ROW,
                {
                    "job_id": job_id,
                    "task_id": task_id,
                    "max_attempts": max_attempts,
                    "now": utcnow(),
                },
            ).one_or_none(),
            one_statement=True,
        )
        if row is not None:
            return Job(**row._mapping)

        def take(job: Job) -> Job | None:
            if job.is_terminal or job.celery_task_id != task_id:
                return None
            if job.attempts >= max_attempts:
                self._finish(job, JobStatus.FAILED, error=_worker_lost(job.attempts))
                return None
            self._move(job, JobStatus.PROCESSING)
            job.attempts += 1
            job.started_at = utcnow()
            job.progress_stage = "started"
            job.progress_message = f"Attempt {job.attempts}"
            return job

        return self.execute_job_operation(job_id, take)

    def record_progress(
        self, job_id: str, fence: tuple[str, int], percentage: int, stage: str, message: str
    ) -> None:
        """Write progress if ``fence`` still owns the running job, else raise
        JobCancelledError (cancelled) or StaleAttemptError (superseded).

        The hot path is one conditional UPDATE, committed asynchronously on
        PostgreSQL (a crash of the database may lose the last fraction of a
        second of progress, never a status); when it matches no row, the
        locked read below says why."""
        pct, stage, message = max(0, min(100, percentage)), stage[:64], message[:500]
        values = {
            "job_id": job_id,
            "task_id": fence[0],
            "attempt": fence[1],
            "percentage": pct,
            "stage": stage,
            "message": message,
            "now": utcnow(),
        }

        def write(job: Job) -> None:
            self._check_owner(job, fence)
            job.progress_percentage, job.progress_stage, job.progress_message = pct, stage, message

        written = self._run(
            lambda conn: conn.execute(self._progress_row, values).rowcount, one_statement=True
        )
        if written == 0:
            self.execute_job_operation(job_id, write)

    def complete(self, job: Job, result: dict[str, Any]) -> None:
        """Mark ``job``, as claimed by this attempt, completed with ``result``.

        One fenced UPDATE (``_COMPLETE_ROW``) when nothing else must happen
        in the same transaction; a job with a webhook (its delivery row) or a
        password in its options (removed at rest) takes the locked path of
        ``update_job_status_safely``, as does an attempt that no longer owns
        the job, which is refused there (``StaleAttemptError``,
        ``InvalidTransitionError``)."""
        fence = (str(job.celery_task_id), job.attempts)
        if _callback_url(job.input_data) is None and not _has_password(job.input_data):
            now = utcnow()
            values = {
                "job_id": job.id,
                "task_id": fence[0],
                "attempt": fence[1],
                "now": now,
                "expires_at": now + self.result_retention,
                "result": result,
            }
            written = self._run(
                lambda conn: conn.execute(_COMPLETE_ROW, values).rowcount, one_statement=True
            )
            if written:
                return
        self.update_job_status_safely(job.id, JobStatus.COMPLETED, result=result, fence=fence)

    @staticmethod
    def _check_owner(job: Job, fence: tuple[str, int]) -> None:
        if job.status == JobStatus.CANCELLED.value:
            raise JobCancelledError(job_id=job.id)
        if job.status != JobStatus.PROCESSING.value or (job.celery_task_id, job.attempts) != fence:
            raise StaleAttemptError(job_id=job.id)

    def reap_processing(self, job_id: str, cutoff: datetime, max_attempts: int) -> str:
        """Decide for a job that has been processing since before ``cutoff``:
        ``"failed"`` (attempts used up: WORKER_LOST), ``"requeue"``, or
        ``"moved-on"`` when it is no longer stuck."""

        def decide(job: Job) -> str:
            if job.status != JobStatus.PROCESSING.value or not job.started_at:
                return "moved-on"
            if job.started_at >= cutoff:
                return "moved-on"
            if job.attempts >= max_attempts:
                self._finish(job, JobStatus.FAILED, error=_worker_lost(job.attempts))
                return "failed"
            return "requeue"

        try:
            return self.execute_job_operation(job_id, decide)
        except JobNotFoundError:
            return "moved-on"

    def schedule_retry(
        self,
        job_id: str,
        *,
        fence: tuple[str, int],
        new_task_id: str,
        due: datetime,
        error: tuple[str, str],
    ) -> Job:
        """processing -> pending with a new dispatch id, due at ``due``.

        The last error is kept for operators, but the job stays non-terminal:
        a client never sees ``failed`` while a retry is pending.
        """

        def mutate(job: Job) -> None:
            job.celery_task_id = new_task_id
            job.scheduled_at = due
            job.progress_stage = "retry_scheduled"
            job.progress_message = f"Retrying after a transient error ({error[0]})"

        return self.update_job_status_safely(
            job_id, JobStatus.PENDING, error=error, fence=fence, mutate=mutate
        )

    def redispatch(self, job_id: str, *, new_task_id: str, expected_status: JobStatus) -> bool:
        """Give a stuck job a new dispatch id (reaper); False if it moved on meanwhile."""

        def mutate(job: Job) -> bool:
            if job.status != expected_status.value:
                return False
            self._move(job, JobStatus.PENDING)
            job.celery_task_id = new_task_id
            job.scheduled_at = utcnow()
            job.progress_stage = "requeued"
            job.progress_message = "Re-queued after its worker stopped responding"
            return True

        return self.execute_job_operation(job_id, mutate)

    def mark_files_deleted(self, job_id: str) -> None:
        def mutate(job: Job) -> None:
            job.files_deleted_at = utcnow()

        self.execute_job_operation(job_id, mutate)

    def delete_job(self, job_id: str) -> bool:
        """Remove the row (used when a submission could not be queued, and by cleanup)."""

        def work(conn: Connection) -> bool:
            result = conn.execute(delete(_JOBS).where(_JOBS.c.id == job_id))
            return bool(result.rowcount)

        return self._run(work)

    # -- reads (no locks) ------------------------------------------------------
    def ping(self) -> None:
        """Raise if the database cannot answer."""
        with self._sessions() as session:
            session.execute(select(1))

    def get_job(self, job_id: str) -> Job | None:
        """The job's row as a detached ``Job`` (reading it changes nothing)."""
        with self._reader.connect() as conn:
            row = conn.execute(_ROW, {"job_id": job_id}).one_or_none()
        return None if row is None else Job(**row._mapping)

    def find_job(self, owner: str | None, public_id: str) -> Job | None:
        """The job ``owner`` knows as ``public_id`` (pressroom.access.ids), or None:
        a job of another owner is as absent as a job that never existed."""
        for row_id in ids.candidate_row_ids(owner, public_id):
            job = self.get_job(row_id)
            if job is not None and ids.visible_to(job, owner, public_id):
                return job
        return None

    def list_jobs(
        self,
        *,
        owner: str | None,
        status: JobStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Sequence[Job], int]:
        with self._sessions() as session:
            query = select(Job).where(Job.owner.is_(None) if owner is None else Job.owner == owner)
            if status is not None:
                query = query.where(Job.status == status.value)
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = (
                session.execute(
                    query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
                )
                .scalars()
                .all()
            )
            return rows, total

    def read(self, statement: Any) -> list[Any]:
        """Rows of a read-only ``select`` (metrics, reports); never locks."""
        with self._sessions() as session:
            return list(session.execute(statement).all())

    def iter_ids(self, *conditions: Any, limit: int = 500) -> list[str]:
        with self._sessions() as session:
            return list(session.execute(select(Job.id).where(*conditions).limit(limit)).scalars())

    # -- worker heartbeats (not job rows, kept beside them) ---------------------
    def record_heartbeat(self, worker: str, queues: list[str], pid: int) -> None:
        def work(conn: Connection) -> None:
            values = {"queues": queues, "pid": pid, "last_seen": utcnow()}
            mine = _HEARTBEATS.c.worker == worker
            if not conn.execute(update(_HEARTBEATS).where(mine).values(values)).rowcount:
                conn.execute(insert(_HEARTBEATS).values(worker=worker, **values))

        self._run(work)

    def forget_worker(self, worker: str) -> None:
        self._run(
            lambda conn: conn.execute(delete(_HEARTBEATS).where(_HEARTBEATS.c.worker == worker))
        )

    def live_queues(self, since: datetime) -> set[str]:
        with self._sessions() as session:
            rows = session.execute(
                select(WorkerHeartbeat.queues).where(WorkerHeartbeat.last_seen >= since)
            ).scalars()
            return {queue for queues in rows for queue in queues}
