"""Job changes pushed to whoever follows a job (the event stream).

On PostgreSQL a trigger on ``jobs`` (migrations 0003 and 0004) runs
``pg_notify(CHANNEL, payload)`` for every UPDATE or DELETE of a job row:
the job's id, then a space and the committed state of the row as JSON (the
columns of the job view and ``version``; never ``input_data``). A payload
too large for NOTIFY, and a deletion, carry the id alone. PostgreSQL
delivers a notification only when its transaction commits. Each API process
keeps one ``LISTEN`` connection (a daemon thread, started by the first
follower) and hands each change to the followers of its job: the state
itself, so that a follower sends it without reading the row, or "read the
row" when the payload had only the id.

Notifications arrive in commit order, but a follower also reads the row
itself (when it starts, and on the safety-net timer), and a notification of
a change it has already read may arrive after that read. Each state carries
the row's ``version``; a follower keeps only a state newer than the one it
holds, so a client never sees a job step back.

Without PostgreSQL (the embedded SQLite default) nothing is pushed:
``ChangeListener.live`` stays False and followers poll. A lost connection is
reopened with backoff; while it is down ``live`` is False and followers poll
too, and when it is back every follower is woken to read its job again, so
no change is missed for longer than the polling interval.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from sqlalchemy.engine import make_url

from pressroom.db.models import Job
from pressroom.jobs.operations import detached_job

log = logging.getLogger(__name__)

#: the notification channel (migrations 0003 and 0004 name it too)
CHANNEL = "pressroom_job_changes"
#: the timestamps of a payload, sent as ISO 8601 text
_TIMES = ("created_at", "updated_at", "started_at", "finished_at", "expires_at", "files_deleted_at")


def job_from_payload(body: str) -> Job | None:
    """The job state a notification carried, or None if it cannot be read."""
    try:
        fields = json.loads(body)
        for name in _TIMES:
            if fields.get(name) is not None:
                fields[name] = datetime.fromisoformat(fields[name]).astimezone(UTC)
        return detached_job(fields)
    except (ValueError, TypeError, AttributeError):
        log.warning("unreadable job change notification: %.200s", body)
        return None


class Follower:
    """One follower's side of the changes of a job: a wake-up, and the
    newest state pushed since it last looked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._pushed: Job | None = None
        self._read_needed = False

    def push(self, state: Job | None) -> None:
        """A change: its state, or None when the row must be read."""
        with self._lock:
            if state is None:
                self._read_needed = True
            elif self._pushed is None or state.version > self._pushed.version:
                self._pushed = state
        self._woken.set()

    def next_state(self, current: Job, timeout: float) -> Job | None:
        """Wait up to ``timeout`` for a change of the job held as ``current``.

        Returns a newer state that was pushed, ``current`` when the row must
        be read (the wait timed out, a payload had only the id, or the
        listener reconnected), or None when nothing newer came."""
        woken = self._woken.wait(timeout)
        with self._lock:
            self._woken.clear()
            pushed, self._pushed = self._pushed, None
            read_needed, self._read_needed = self._read_needed, False
        if not woken or read_needed:
            return current
        if pushed is not None and pushed.version > current.version:
            return pushed
        return None


class ChangeListener:
    """One process's ``LISTEN`` on CHANNEL, fanned out to waiting followers."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.enabled = url.get_backend_name() == "postgresql"
        self._conninfo = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if self.enabled
            else ""
        )
        self._lock = threading.Lock()
        self._followers: dict[str, set[Follower]] = {}
        self._thread: threading.Thread | None = None
        #: True while the LISTEN connection is up: changes are being pushed
        self.live = False

    @contextmanager
    def follow(self, job_id: str) -> Iterator[Follower]:
        """The changes of ``job_id`` while the block runs.

        Read the job after entering the block: a change committed after the
        read is pushed, so no change falls between the two."""
        follower = Follower()
        with self._lock:
            self._followers.setdefault(job_id, set()).add(follower)
            if self.enabled and self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="pressroom-job-changes", daemon=True
                )
                self._thread.start()
        try:
            yield follower
        finally:
            with self._lock:
                followers = self._followers.get(job_id)
                if followers is not None:
                    followers.discard(follower)
                    if not followers:
                        del self._followers[job_id]

    def _deliver(self, payload: str) -> None:
        """Hand one notification to the followers of its job (its state is
        parsed only when someone follows it)."""
        job_id, _, body = payload.partition(" ")
        with self._lock:
            followers = list(self._followers.get(job_id, ()))
        if followers:
            state = job_from_payload(body) if body else None
            for follower in followers:
                follower.push(state)

    def _wake_all(self) -> None:
        """Make every follower read its job (reconnected, or the connection
        was lost: a change may have been missed meanwhile)."""
        with self._lock:
            followers = [f for group in self._followers.values() for f in group]
        for follower in followers:
            follower.push(None)

    def _listen(self) -> None:
        """Listen for ever; whatever stops a connection, open another (with
        backoff). While there is none, ``live`` is False and followers poll."""
        delay = 0.5
        while True:
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.live, delay = True, 0.5
                    self._wake_all()
                    # blocks until a notification arrives; a lost connection raises
                    for note in conn.notifies():
                        self._deliver(note.payload)
            except psycopg.Error as exc:
                log.warning("job change listener lost its connection (%s); reconnecting", exc)
            except Exception:  # a bug here must not leave followers waiting on pushes
                log.exception("job change listener failed; reconnecting")
            finally:
                self.live = False
            self._wake_all()
            time.sleep(delay)
            delay = min(10.0, delay * 2)
