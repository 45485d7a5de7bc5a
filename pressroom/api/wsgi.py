"""WSGI entry point for gunicorn."""

from pressroom.api import create_app
from pressroom.logging import configure_logging

configure_logging()
app = create_app()
