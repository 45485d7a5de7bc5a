"""The error envelope, written once for every endpoint.

``{"success": false, "error": {"code", "message", "details"}, "timestamp",
"request_id"}`` with the error's HTTP status. Unexpected exceptions are logged
with the request id and answered as a 500 with no internals.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from pressroom.errors import (
    FileTooLargeError,
    MethodNotAllowedError,
    NotFoundError,
    PressroomError,
    ServiceUnavailableError,
    ValidationError,
)
from pressroom.logging import bind_log_context

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: an absolute file path (two parts or more), not the path of a URL
_SERVER_PATH = re.compile(r"(?<![\w:/.])/(?:[^\s'\"/:]+/)+[^\s'\",:]*")


def scrub(value: Any) -> Any:
    """``value`` with server paths replaced: an engine's message (a details
    entry) may name a file on the server, and an answer must never show one."""
    if isinstance(value, str):
        return _SERVER_PATH.sub("<path>", value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def request_id() -> str:
    rid = getattr(g, "request_id", None)
    if rid is None:
        supplied = request.headers.get("X-Request-ID", "")
        rid = g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        bind_log_context(request_id=rid)
    return rid


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def error_response(error: PressroomError) -> Response:
    body: dict[str, Any] = {
        "success": False,
        "error": {
            "code": error.code,
            "message": scrub(error.message),
            "details": scrub(error.details or {}),
        },
        "timestamp": now_iso(),
        "request_id": request_id(),
    }
    response = jsonify(body)
    response.status_code = error.http_status
    if error.http_status == 503:
        response.headers["Retry-After"] = "5"
    if error.http_status == 429:
        response.headers["Retry-After"] = str(int((error.details or {}).get("retry_after", 1)))
    return response


def _from_http(exc: HTTPException) -> PressroomError:
    if isinstance(exc, RequestEntityTooLarge):
        return FileTooLargeError()
    if isinstance(exc, NotFound):
        return NotFoundError()
    if isinstance(exc, MethodNotAllowed):
        return MethodNotAllowedError(allowed=sorted(exc.valid_methods or []))
    error = ValidationError(exc.description or "Bad request.")
    if exc.code and 400 <= exc.code < 500:
        error.http_status = exc.code  # type: ignore[misc]
    return error


def register_error_handlers(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        request_id()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = request_id()
        return response

    @app.errorhandler(PressroomError)
    def _domain(exc: PressroomError) -> Response:
        if exc.http_status >= 500:
            log.warning("request %s: %s %s", request_id(), exc.code, exc.details)
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        response = error_response(_from_http(exc))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, OperationalError):
            log.error("request %s: database unavailable: %s", request_id(), exc.__class__.__name__)
            return error_response(ServiceUnavailableError("The database is unavailable."))
        log.exception("request %s failed", request_id())
        return error_response(PressroomError())
