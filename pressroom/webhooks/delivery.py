"""One delivery attempt of a webhook, and the ``webhook_deliveries`` rows.

A delivery row is made ``pending`` in the transaction that finished its job
(``JobOperations._queue_webhook``); its id is then published to the
maintenance queue. An attempt first takes a lease on the row (so two copies of
a message never POST twice at once), POSTs the job view, and records the
outcome: ``delivered`` on 2xx; on a connection error, a time-out, 429 or 5xx
a retry after ``webhook_backoff_seconds x 2^(attempt-1)`` (at least the
receiver's Retry-After, at most an hour) while attempts remain; ``failed``
otherwise. The sweeper re-publishes rows whose message was lost.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import urllib3
from celery import Celery
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from pressroom.config import Settings
from pressroom.db.models import WebhookDelivery, utcnow
from pressroom.errors import CallbackUrlNotAllowedError
from pressroom.jobs.operations import JobOperations
from pressroom.jobs.states import Queue
from pressroom.jobs.view import job_view
from pressroom.tasks.celery_app import WEBHOOK_DELIVER_TASK, WEBHOOK_SWEEP_TASK
from pressroom.webhooks import signing, urls

log = logging.getLogger(__name__)

DELIVER_TASK = WEBHOOK_DELIVER_TASK
SWEEP_TASK = WEBHOOK_SWEEP_TASK
USER_AGENT = "Pressroom-Webhook/1"
#: a row still pending this long after it was due lost its message
SWEEP_GRACE = timedelta(seconds=60)
MAX_BACKOFF_SECONDS = 3600.0


# -- the HTTP call, with the address checked on the connected socket ----------
class _CheckedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        peer = str(sock.getpeername()[0])
        if not urls.address_allowed(peer):
            sock.close()
            raise CallbackUrlNotAllowedError(
                "callback_url now resolves to a private address.", reason="private_address"
            )
        return sock


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> urllib3.BaseHTTPResponse:
    """POST ``body`` to ``url``: no redirects, no retries, no proxies; unless
    ``allow_private``, the connected peer's address must be public."""
    parts = urls.parse(url)
    host = parts.hostname
    assert host is not None
    port = urls.default_port(parts)
    https = parts.scheme == "https"
    pool_cls: type[HTTPConnectionPool]
    if allow_private:
        pool_cls = HTTPSConnectionPool if https else HTTPConnectionPool
    else:
        pool_cls = _CheckedHTTPSPool if https else _CheckedHTTPPool
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    pool = pool_cls(host, port, timeout=urllib3.Timeout(total=timeout), retries=False, maxsize=1)
    try:
        return pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, preload_content=True
        )
    finally:
        pool.close()


# -- rows ---------------------------------------------------------------------
@dataclass(frozen=True)
class Lease:
    id: str
    job_id: str
    url: str
    event: str
    attempt: int


class WebhookStore:
    """Reads and writes ``webhook_deliveries`` rows, one short transaction each."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _locked(self, session: Session, delivery_id: str) -> WebhookDelivery | None:
        return session.execute(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        ).scalar_one_or_none()

    def lease(self, delivery_id: str, hold: timedelta) -> Lease | None:
        """Count an attempt and hold the delivery for ``hold``; None when the delivery is
        finished, unknown, or not due (another copy of the message holds it)."""
        now = utcnow()
        with self._sessions() as session, session.begin():
            delivery = self._locked(session, delivery_id)
            if delivery is None or delivery.status != "pending" or delivery.next_attempt_at > now:
                return None
            delivery.attempts += 1
            delivery.next_attempt_at = now + hold
            return Lease(
                delivery.id, delivery.job_id, delivery.url, delivery.event, delivery.attempts
            )

    def finish(self, delivery_id: str, status: str, *, code: int | None, error: str | None) -> None:
        with self._sessions() as session, session.begin():
            delivery = self._locked(session, delivery_id)
            if delivery is None:
                return
            delivery.status = status
            delivery.last_status_code = code
            delivery.last_error = error[:500] if error else None
            delivery.finished_at = utcnow()

    def reschedule(
        self, delivery_id: str, due: datetime, *, code: int | None, error: str | None
    ) -> None:
        with self._sessions() as session, session.begin():
            delivery = self._locked(session, delivery_id)
            if delivery is None or delivery.status != "pending":
                return
            delivery.next_attempt_at = due
            delivery.dispatched_at = utcnow()
            delivery.last_status_code = code
            delivery.last_error = error[:500] if error else None

    def overdue(self, before: datetime, limit: int = 500) -> list[str]:
        with self._sessions() as session:
            return list(
                session.execute(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at < before,
                    )
                    .limit(limit)
                ).scalars()
            )

    def purge_finished(self, before: datetime) -> int:
        with self._sessions() as session, session.begin():
            result = session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status != "pending", WebhookDelivery.finished_at < before
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        with self._sessions() as session:
            return session.get(WebhookDelivery, delivery_id)

    def for_job(self, job_id: str) -> WebhookDelivery | None:
        with self._sessions() as session:
            return session.execute(
                select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
            ).scalar_one_or_none()


def publish(celery: Celery, delivery_ids: list[str], *, countdown: float = 0) -> None:
    """Queue attempts of these deliveries on the maintenance queue."""
    for delivery_id in delivery_ids:
        celery.send_task(
            DELIVER_TASK,
            args=[delivery_id],
            queue=Queue.MAINTENANCE.value,
            countdown=countdown or None,
        )


# -- one attempt ----------------------------------------------------------------
def backoff(settings: Settings, attempt: int, retry_after: float | None) -> float:
    delay = settings.webhook_backoff_seconds * 2 ** (attempt - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_BACKOFF_SECONDS)


def _retry_after(response: urllib3.BaseHTTPResponse) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def body_of(lease: Lease, view: dict[str, Any]) -> bytes:
    payload = {
        "event": lease.event,
        "delivery_id": lease.id,
        "attempt": lease.attempt,
        "data": view,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def deliver(
    settings: Settings, ops: JobOperations, store: WebhookStore, celery: Celery, delivery_id: str
) -> str:
    """One attempt; returns ``delivered``, ``retry``, ``failed`` or ``skipped``."""
    hold = timedelta(seconds=settings.webhook_timeout_seconds + 30)
    lease = store.lease(delivery_id, hold)
    if lease is None:
        return "skipped"
    job = ops.get_job(lease.job_id)
    if job is None:
        store.finish(lease.id, "failed", code=None, error="the job no longer exists")
        return "failed"
    if not settings.webhook_secret:
        store.finish(lease.id, "failed", code=None, error="PRESSROOM_WEBHOOK_SECRET is not set")
        return "failed"
    body = body_of(lease, job_view(job))
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Pressroom-Event": lease.event,
        "X-Pressroom-Delivery": lease.id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(settings.webhook_secret, timestamp, body),
    }
    code: int | None = None
    retry_after: float | None = None
    try:
        response = post(
            lease.url,
            body,
            headers,
            timeout=settings.webhook_timeout_seconds,
            allow_private=settings.webhook_allow_private,
        )
    except CallbackUrlNotAllowedError as exc:
        log.warning("webhook %s for job %s refused: %s", lease.id, lease.job_id, exc.message)
        store.finish(lease.id, "failed", code=None, error=exc.message)
        return "failed"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = f"connection error: {exc.__class__.__name__}"
    else:
        code = response.status
        if 200 <= code < 300:
            store.finish(lease.id, "delivered", code=code, error=None)
            log.info("webhook %s for job %s delivered (%d)", lease.id, lease.job_id, code)
            return "delivered"
        error = f"HTTP {code}"
        if code != 429 and code < 500:
            store.finish(lease.id, "failed", code=code, error=error)
            log.warning(
                "webhook %s for job %s refused by receiver: %s", lease.id, lease.job_id, error
            )
            return "failed"
        retry_after = _retry_after(response)
    if lease.attempt >= settings.webhook_max_attempts:
        store.finish(lease.id, "failed", code=code, error=error)
        log.warning(
            "webhook %s for job %s failed after %d attempts: %s",
            lease.id,
            lease.job_id,
            lease.attempt,
            error,
        )
        return "failed"
    delay = backoff(settings, lease.attempt, retry_after)
    store.reschedule(lease.id, utcnow() + timedelta(seconds=delay), code=code, error=error)
    log.info("webhook %s for job %s: %s; retry in %.1fs", lease.id, lease.job_id, error, delay)
    try:
        publish(celery, [lease.id], countdown=delay)
    except Exception:
        log.warning("webhook %s: retry could not be queued; the sweeper will", lease.id)
    return "retry"


def sweep(
    settings: Settings, store: WebhookStore, celery: Celery, *, grace: timedelta = SWEEP_GRACE
) -> dict[str, int]:
    """Re-publish deliveries whose message was lost; forget old finished ones."""
    now = utcnow()
    lost = store.overdue(now - grace)
    if lost:
        publish(celery, lost)
    purged = store.purge_finished(now - timedelta(hours=settings.job_retention_hours))
    return {"republished": len(lost), "purged": purged}
