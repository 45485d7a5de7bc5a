"""The backends the suite runs on: embedded (SQLite + filesystem broker) and
the real servers (PostgreSQL + Redis, PostgreSQL + RabbitMQ)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from pressroom.config import Settings

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

#: timing knobs that make retries, the reaper and heartbeats observable in seconds
FAST = {
    "PRESSROOM_RETRY_BACKOFF_SECONDS": "1",
    "PRESSROOM_REAPER_INTERVAL_SECONDS": "2",
    "PRESSROOM_REAPER_GRACE_SECONDS": "3",
    "PRESSROOM_PENDING_TIMEOUT_SECONDS": "60",
    "PRESSROOM_TIME_LIMIT_PDF": "40",
    "PRESSROOM_HEARTBEAT_INTERVAL_SECONDS": "1",
    "PRESSROOM_PROGRESS_INTERVAL_SECONDS": "0.2",
    "PRESSROOM_MAX_ATTEMPTS": "3",
    "PRESSROOM_MAX_UPLOAD_MB": "5",
    "PRESSROOM_LOG_LEVEL": "INFO",
    # the suite lists jobs without keys; tests of the default build their own app
    "PRESSROOM_JOB_LIST_WITHOUT_AUTH": "true",
    # the suite submits far faster than a client may; tests of limits enable them
    "PRESSROOM_RATE_LIMIT_ENABLED": "false",
    # webhooks to a receiver the test starts on 127.0.0.1, retried quickly
    "PRESSROOM_WEBHOOK_SECRET": "test-webhook-secret",
    "PRESSROOM_WEBHOOK_ALLOW_PRIVATE": "true",
    "PRESSROOM_WEBHOOK_BACKOFF_SECONDS": "0.5",
    "PRESSROOM_WEBHOOK_SWEEP_SECONDS": "2",
}


@dataclass
class Backend:
    name: str
    data_dir: Path
    database_url: str = ""
    broker_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {**FAST, "PRESSROOM_DATA_DIR": str(self.data_dir), **self.extra}
        if self.database_url:
            env["PRESSROOM_DATABASE_URL"] = self.database_url
        if self.broker_url:
            env["PRESSROOM_BROKER_URL"] = self.broker_url
        return env

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            key.removeprefix("PRESSROOM_").lower(): value for key, value in self.env.items()
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]


def server_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def services_wanted() -> bool:
    return os.environ.get("PRESSROOM_TEST_EMBEDDED_ONLY") != "1"


def fresh_postgres_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def flush_redis(db: int) -> str:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    return f"redis://127.0.0.1:6379/{db}"


def purge_rabbitmq(queues: list[str]) -> str:
    from kombu import Connection

    url = "amqp://guest:guest@127.0.0.1:5672//"
    with Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        for queue in queues:
            try:
                channel.queue_purge(queue)
            except Exception:
                channel = conn.channel()  # the queue does not exist yet
    return url
