"""Engine and session factory, one per process.

SQLite (embedded) runs in WAL mode with a busy time-out. A write transaction
(a session whose connection carries the ``WRITE`` execution option, as every
JobOperations transaction does) starts with ``BEGIN IMMEDIATE``, so that a
transaction which reads a job and then writes it holds the database's write
lock from the start: SQLite's stand-in for ``SELECT ... FOR UPDATE``. Reads
begin deferred and, under WAL, never wait for a writer. PostgreSQL uses real row locks.
Forked worker processes must call ``dispose_engine()`` so they never share a
connection with their parent.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pressroom.config import Settings, get_settings

#: execution option that marks a transaction as a writer (see module docstring)
WRITE = "pressroom_write"


def is_database_outage(exc: BaseException) -> bool:
    """The database cannot be reached (restarting, failing over, refusing
    connections), as opposed to a statement that is wrong."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


#: execution option of a connection whose statements are each their own
#: transaction (PostgreSQL: no BEGIN; see ``_configure_postgresql``)
SINGLE_STATEMENTS = "pressroom_single_statements"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _configure_postgresql(engine: Engine) -> None:
    """Every connection stays in autocommit mode, and a transaction begins
    with the ``BEGIN`` we send (as on SQLite), except on a connection that
    carries ``SINGLE_STATEMENTS``: a job read or a one-statement write is
    then one round trip, without ``BEGIN`` and ``COMMIT``. psycopg's
    ``commit()`` and ``rollback()`` still end a transaction that is open.
    The alternative, ``execution_options(isolation_level="AUTOCOMMIT")`` for
    such statements, switches a pooled connection into autocommit at its
    checkout and back at its checkin: about a tenth of the CPU of a
    ``GET /api/jobs/{id}`` (docs/benchmarks.md)."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not conn.get_execution_options().get(SINGLE_STATEMENTS, False):
            conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
        isolation_level="AUTOCOMMIT",
    )
    _configure_postgresql(engine)
    _ping_idle_connections(engine)
    return engine


#: a pooled connection idle longer than this is pinged before it is handed out
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a connection before use only when it sat idle in the pool for
    PING_AFTER_IDLE_SECONDS: SQLAlchemy's ``pool_pre_ping`` pings every
    checkout, a round trip to PostgreSQL for each of a job's eight or so
    transactions. A connection in steady use is not pinged; if the server
    went away meanwhile, its first statement fails as a disconnect, SQLAlchemy
    then drops every pooled connection, and JobOperations retries the
    transaction on a new one (``_is_retryable_db_error``). A failed ping makes
    the pool replace the connection (``DisconnectionError``)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError() from exc


def get_engine(settings: Settings | None = None) -> Engine:
    url = (settings or get_settings()).database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def session_factory(settings: Settings | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(settings), expire_on_commit=False)


def dispose_engines() -> None:
    """Drop every pooled connection (after fork, or in tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
