"""The Flask app factory (gunicorn: ``pressroom.api.wsgi:app``)."""

from __future__ import annotations

from flask import Flask

from pressroom.api import (
    ai,
    capabilities,
    compress,
    convert,
    extract_text,
    extraction,
    health,
    jobs,
    metrics,
    ocr,
    openapi,
)
from pressroom.api.access import init_access
from pressroom.api.errors import register_error_handlers
from pressroom.api.submission import FORM_OVERHEAD
from pressroom.api.uploads import UploadRequest
from pressroom.config import Settings, get_settings
from pressroom.jobs.changes import ChangeListener
from pressroom.runtime import Runtime
from pressroom.web import bp as web_bp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask("pressroom", static_folder=None)
    app.request_class = UploadRequest
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + FORM_OVERHEAD,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["pressroom"] = Runtime.build(settings)
    # pushes job changes to event streams (PostgreSQL); started by the first one
    app.extensions["pressroom_changes"] = ChangeListener(settings.database_url)
    register_error_handlers(app)
    init_access(app, settings)  # rate limits, API keys, CORS, security headers
    blueprints = (
        compress,
        jobs,
        health,
        capabilities,
        openapi,
        metrics,
        ai,
        extraction,
        convert,
        ocr,
        extract_text,
    )
    for module in blueprints:
        app.register_blueprint(module.bp)
    app.register_blueprint(web_bp)  # the web page at /
    return app
