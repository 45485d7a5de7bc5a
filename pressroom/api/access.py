"""Access rules every request passes through, written once for the whole API.

- **Who is calling** (``caller``): with ``PRESSROOM_AUTH=api_key``, the key in
  ``X-API-Key`` (or ``Authorization: Bearer``); its id owns the jobs it makes.
  Every POST, DELETE and every ``/api/jobs`` request needs a valid key (401
  otherwise); descriptions (health, OpenAPI, capabilities, the web page) stay
  public. With ``none``, there is no owner and job ids are the capability.
- **Rate limits** (``RateLimits``, counted by the ``limits`` library in a
  moving window): ``PRESSROOM_RATE_LIMIT`` over all requests and
  ``PRESSROOM_RATE_LIMIT_SUBMIT`` over each POST endpoint, counted per API
  key, or per client address when there is no valid key. Counters live in
  the broker's Redis when there is one (shared by every API process),
  otherwise in memory (``PRESSROOM_RATE_LIMIT_STORAGE_URL`` overrides).
- **CORS** for the configured origins only, and **security headers** on every
  answer.
- **Admission** of a submission (``admit``): the owner, the row id behind a
  client-chosen ``job_id`` (pressroom.access.ids), the callback URL check,
  the open-jobs limit. ``submit_upload`` (and the JSON variant) call it, so
  every operation gets the same rules without code of its own.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from pressroom.access import ids
from pressroom.config import Settings
from pressroom.errors import (
    AuthRequiredError,
    CallbackUrlNotAllowedError,
    InvalidApiKeyError,
    PressroomError,
    RateLimitedError,
)
from pressroom.runtime import Runtime
from pressroom.webhooks.urls import check_callback_url

log = logging.getLogger(__name__)

#: paths that never need a key, are never rate limited (probes, scrapers)
UNLIMITED_PATHS = ("/api/health", "/metrics")

#: a page served by the service itself, with local scripts and styles only
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
#: headers a browser page on another origin may send and read
CORS_ALLOW_HEADERS = ["Content-Type", "X-API-Key", "Authorization", "X-Request-ID"]
CORS_EXPOSE_HEADERS = [
    "Location",
    "Retry-After",
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Content-Disposition",
]


@dataclass(frozen=True)
class Caller:
    """The request's identity: ``owner`` is the API key id (None without keys)."""

    owner: str | None
    address: str
    error: PressroomError | None = None

    @property
    def rate_key(self) -> str:
        return f"key:{self.owner}" if self.owner else f"addr:{self.address}"


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["pressroom"]
    return rt


def presented_token() -> str | None:
    token = request.headers.get("X-API-Key", "").strip()
    if not token:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    return token or None


def caller() -> Caller:
    """Who is calling (resolved once per request)."""
    found: Caller | None = getattr(g, "pressroom_caller", None)
    if found is not None:
        return found
    rt = _runtime()
    address = request.remote_addr or "unknown"
    if rt.settings.auth == "none":
        found = Caller(None, address)
    else:
        token = presented_token()
        if token is None:
            found = Caller(None, address, AuthRequiredError())
        else:
            key_id = rt.keys.verify(token)
            found = Caller(key_id, address, None if key_id else InvalidApiKeyError())
    g.pressroom_caller = found
    return found


def caller_owner() -> str | None:
    """The owner of the jobs this request may see and make."""
    return caller().owner


def _needs_key() -> bool:
    if request.method == "OPTIONS":
        return False
    if request.method not in ("GET", "HEAD"):
        return True
    return request.path == "/api/jobs" or request.path.startswith("/api/jobs/")


def _unlimited() -> bool:
    return request.method == "OPTIONS" or request.path in UNLIMITED_PATHS


class RateLimits:
    """``PRESSROOM_RATE_LIMIT`` over every request but the probes, and
    ``PRESSROOM_RATE_LIMIT_SUBMIT`` over each POST endpoint, each counted per
    caller (``Caller.rate_key``) in a moving window. The ``limits`` library
    counts (one Redis script call a limit); this is only the part that picks
    the limits of a request: Flask-Limiter, which did that before, spent as
    much CPU picking them as the count itself (docs/benchmarks.md). If the
    store is down, the request goes through (logged)."""

    def __init__(self, settings: Settings) -> None:
        self._every = parse_many(settings.rate_limit)
        self._submit = parse_many(settings.rate_limit_submit)
        storage = storage_from_string(settings.rate_limit_storage, wrap_exceptions=True)
        self._window = MovingWindowRateLimiter(storage)

    def check(self) -> None:
        """Count the current request; raise ``RateLimitedError`` over a limit.
        A request that reaches no view (an unknown path, a wrong method) is
        not counted: it costs the service next to nothing."""
        endpoint = request.endpoint
        if not endpoint or _unlimited():
            return
        key = caller().rate_key
        self._hit(self._every, key, "all")
        if request.method == "POST":
            self._hit(self._submit, key, endpoint)

    def _hit(self, limits: list[RateLimitItem], *identifiers: str) -> None:
        for limit in limits:
            try:
                if self._window.hit(limit, "pressroom", *identifiers):
                    continue
                stats = self._window.get_window_stats(limit, "pressroom", *identifiers)
            except StorageError as exc:
                log.warning("rate limit store unavailable, request let through: %s", exc)
                return
            # written on the 429 by init_access's after-request hook
            g.pressroom_rate_limit_headers = {
                "X-RateLimit-Limit": str(limit.amount),
                "X-RateLimit-Remaining": str(stats.remaining),
                "X-RateLimit-Reset": str(int(stats.reset_time)),
            }
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimitedError(retry_after=retry_after, limit=str(limit))


def init_access(app: Flask, settings: Settings) -> None:
    """Install rate limits, authentication, CORS and security headers."""
    if settings.rate_limit_enabled:
        app.before_request(RateLimits(settings).check)

    @app.before_request
    def _authenticate() -> None:  # registered after the limiter: runs after it
        if _needs_key():
            error = caller().error
            if error is not None:
                raise error

    origins = settings.cors_origin_list
    if origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": origins}},
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            methods=["GET", "POST", "DELETE", "OPTIONS"],
            max_age=600,
            supports_credentials=False,
            vary_header=True,
        )

    @app.after_request
    def _headers(response: Response) -> Response:
        # on a 429 of a rate limit only, as documented
        response.headers.update(g.get("pressroom_rate_limit_headers", {}))
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


# -- admission of a submission -----------------------------------------------------
@dataclass(frozen=True)
class Admission:
    """What a submission needs from the access rules."""

    owner: str | None
    row_id: str  # the job row's id (storage keys, messages)
    client_job_id: str | None  # the client's own id, when the row id was derived
    callback_url: str | None
    max_open: int | None

    def input_fields(self) -> dict[str, Any]:
        """Fields to keep in the job's ``input_data``."""
        return {"callback_url": self.callback_url} if self.callback_url else {}

    def create_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``JobOperations.create_job_safely``."""
        return {
            "owner": self.owner,
            "client_job_id": self.client_job_id,
            "max_open": self.max_open,
        }


def _callback_in_request() -> str | None:
    """``callback_url`` as sent (a form field, or a member of the JSON body),
    for endpoints whose options are built from a nested object; the request's
    schema (``FormModel``) has already validated it."""
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get("callback_url") if isinstance(body, dict) else None
    else:
        value = request.form.get("callback_url")
    return value.strip() if isinstance(value, str) and value.strip() else None


def admit(options: dict[str, Any], job_id: str | None) -> Admission:
    """The access rules of one submission; takes ``callback_url`` out of
    ``options`` (it is not an option of the operation; or from the request
    itself) and checks it."""
    settings = _runtime().settings
    callback = options.pop("callback_url", None) or _callback_in_request()
    if callback:
        if not settings.webhook_secret:
            raise CallbackUrlNotAllowedError(
                "Webhooks are not enabled on this server (no PRESSROOM_WEBHOOK_SECRET).",
                reason="webhooks_disabled",
            )
        check_callback_url(callback, allow_private=settings.webhook_allow_private)
    owner = caller_owner()
    row_id, client_job_id = ids.row_id_for(owner, job_id)
    return Admission(
        owner=owner,
        row_id=row_id,
        client_job_id=client_job_id,
        callback_url=callback or None,
        max_open=settings.max_open_jobs_per_key if owner else None,
    )
