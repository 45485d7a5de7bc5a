"""Job changes pushed to whoever follows a job (the event stream).

On PostgreSQL a trigger on ``jobs`` (migration 0003) runs
``pg_notify(CHANNEL, job_id)`` for every UPDATE or DELETE of a job row.
PostgreSQL delivers the notification only when that transaction commits, so
a follower woken by it always reads the committed row. Each API process
keeps one ``LISTEN`` connection (a daemon thread, started by the first
follower) and wakes the followers of the job named in each notification.

Without PostgreSQL (the embedded SQLite default) nothing is pushed:
``ChangeListener.live`` stays False and followers poll. A lost connection is
reopened with backoff; while it is down ``live`` is False and followers poll
too, and when it is back every follower is woken to read its job again, so
no change is missed for longer than the polling interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

#: the notification channel (migration 0003 names it too); the payload is
#: the job's row id
CHANNEL = "pressroom_job_changes"


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
        self._followers: dict[str, set[threading.Event]] = {}
        self._thread: threading.Thread | None = None
        #: True while the LISTEN connection is up: changes are being pushed
        self.live = False

    @contextmanager
    def follow(self, job_id: str) -> Iterator[threading.Event]:
        """An event set whenever ``job_id`` changes, while the block runs.

        Clear it before reading the job, then wait on it: a change committed
        after the read sets it, so no change falls between the two."""
        event = threading.Event()
        with self._lock:
            self._followers.setdefault(job_id, set()).add(event)
            if self.enabled and self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="pressroom-job-changes", daemon=True
                )
                self._thread.start()
        try:
            yield event
        finally:
            with self._lock:
                followers = self._followers.get(job_id)
                if followers is not None:
                    followers.discard(event)
                    if not followers:
                        del self._followers[job_id]

    def _wake(self, job_id: str | None = None) -> None:
        """Wake the followers of ``job_id``, or every follower (reconnected:
        a change may have been missed meanwhile)."""
        with self._lock:
            if job_id is None:
                events = [e for followers in self._followers.values() for e in followers]
            else:
                events = list(self._followers.get(job_id, ()))
        for event in events:
            event.set()

    def _listen(self) -> None:
        """Listen for ever; whatever stops a connection, open another (with
        backoff). While there is none, ``live`` is False and followers poll."""
        delay = 0.5
        while True:
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.live, delay = True, 0.5
                    self._wake()
                    # blocks until a notification arrives; a lost connection raises
                    for note in conn.notifies():
                        self._wake(note.payload)
            except psycopg.Error as exc:
                log.warning("job change listener lost its connection (%s); reconnecting", exc)
            except Exception:  # a bug here must not leave followers waiting on pushes
                log.exception("job change listener failed; reconnecting")
            finally:
                self.live = False
            self._wake()
            time.sleep(delay)
            delay = min(10.0, delay * 2)
