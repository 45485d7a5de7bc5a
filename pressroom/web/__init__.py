"""The web page at ``/``: static HTML, CSS and JavaScript served by the
service itself, with no build step and nothing loaded from elsewhere.

The page builds its form from ``GET /api/extended-features/capabilities``, so
an operation or option declared in pressroom.api.spec appears on it without
any change here.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).parent / "static"

bp = Blueprint("web", __name__)

#: the page loads its own files only; anything the server sends is text, never markup
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _static(name: str) -> Response:
    response = send_from_directory(STATIC, name, max_age=0)
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.get("/")
def index() -> Response:
    return _static("index.html")


@bp.get("/assets/<name>")
def asset(name: str) -> Response:
    return _static(name)
