"""Migrations build exactly the schema the models describe, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pressroom.db.engine import get_engine
from pressroom.db.models import Base
from tests.support.backends import Backend


def test_migrations_match_the_models(isolated_backend: Backend) -> None:
    # isolated_backend was created by running every migration
    with get_engine(isolated_backend.settings()).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
