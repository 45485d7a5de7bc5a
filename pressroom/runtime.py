"""The composition root: settings, database, job operations and files, built
once per process (and again after a fork) and shared by the API, the
workers and the CLI."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from celery import Celery
from PIL import Image

from pressroom.access.keys import KeyStore
from pressroom.config import Settings, get_settings
from pressroom.db.engine import dispose_engines, session_factory
from pressroom.jobs.operations import JobOperations
from pressroom.storage.backend import LocalStorage
from pressroom.storage.files import FileManagementService
from pressroom.webhooks.delivery import WebhookStore


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    ops: JobOperations
    files: FileManagementService
    #: the Celery app used to publish messages (configured from ``settings``)
    celery: Celery
    keys: KeyStore
    webhooks: WebhookStore

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        settings.ensure_dirs()
        # decompression bombs: Pillow refuses images above this in every
        # process that builds a runtime (API, workers)
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
        sessions = session_factory(settings)
        ops = JobOperations(
            sessions,
            result_retention=timedelta(hours=settings.result_retention_hours),
        )
        files = FileManagementService(
            LocalStorage(settings.files_root),
            settings.data_dir / "tmp",
            max_upload_bytes=settings.max_upload_bytes,
            engine_timeout=min(60, settings.engine_timeout_seconds),
            max_pages=settings.max_pages,
            max_image_pixels=settings.max_image_pixels,
        )
        from pressroom.tasks.celery_app import make_celery
        from pressroom.webhooks.delivery import publish

        celery = make_celery(settings, set_as_current=False, include_tasks=False)
        ops.on_deliveries = lambda ids: publish(celery, ids)
        return cls(
            settings=settings,
            ops=ops,
            files=files,
            celery=celery,
            keys=KeyStore(sessions),
            webhooks=WebhookStore(sessions),
        )


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime.build(get_settings())
        return _runtime


def reset_runtime() -> None:
    """Forget connections and cached settings (after fork, in tests)."""
    global _runtime
    with _lock:
        _runtime = None
    dispose_engines()
    get_settings.cache_clear()
