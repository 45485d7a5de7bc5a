"""Alembic environment: runs migrations with lock and statement time-outs on
PostgreSQL, so a migration never waits for ever behind a long transaction."""

from __future__ import annotations

from alembic import context

from pressroom.db.engine import make_engine
from pressroom.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET lock_timeout = '5s'")
            connection.exec_driver_sql("SET statement_timeout = '60s'")
            connection.commit()  # session settings stay; alembic opens its own transaction
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run 'pressroom migrate'")
run_migrations_online()
