"""The ``pressroom`` command: run the service and its parts, migrate, maintain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any

import click

from pressroom.config import Settings, get_settings
from pressroom.jobs.states import Queue

ALL_QUEUES = ",".join(q.value for q in Queue)


def celery_argv(settings: Settings, command: str) -> list[str]:
    """``celery -A pressroom.worker <command>`` with the options every run takes."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "pressroom.worker",
        command,
        "--loglevel",
        settings.log_level,
    ]


def worker_argv(
    settings: Settings, queues: str, concurrency: int, *, beat: bool, hostname: str = ""
) -> list[str]:
    """The worker command line; the tests start their worker with it too."""
    argv = celery_argv(settings, "worker") + [
        "--queues",
        queues,
        "--hostname",
        hostname or f"pressroom-{os.getpid()}@%h",
    ]
    if concurrency or settings.worker_concurrency:
        argv += ["--concurrency", str(concurrency or settings.worker_concurrency)]
    if settings.broker_url.startswith("filesystem"):
        # the filesystem broker has no use for these broadcasts
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat:
        argv += ["--beat", "--schedule", str(settings.data_dir / "celerybeat-schedule")]
    return argv


def _api_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"{host}:{port}",
        "--graceful-timeout",
        "20",
        "--timeout",
        "120",
        "--access-logfile",
        "-",
        "pressroom.api.wsgi:app",
    ]


@click.group()
def main() -> None:
    """Pressroom: a self-hosted PDF processing service."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    from pressroom.db.migrate import upgrade

    upgrade()
    click.echo(f"database at head: {_safe_url(get_settings().database_url)}")


@main.command()
@click.option("--host", default=None, help="Address to bind (PRESSROOM_HOST).")
@click.option("--port", type=int, default=None, help="Port (PRESSROOM_PORT, default 8000).")
@click.option("--concurrency", type=int, default=0, help="Worker processes (default: cores).")
def serve(host: str | None, port: int | None, concurrency: int) -> None:
    """Start API, worker and beat together (the embedded default), until Ctrl-C."""
    from pressroom.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings)
    host, port = host or settings.host, port or settings.port
    click.echo(f"Pressroom data folder: {settings.data_dir}")
    click.echo(
        f"database {_safe_url(settings.database_url)}, broker {_safe_url(settings.broker_url)}"
    )
    click.echo(f"serving on http://{host}:{port}  (Ctrl-C stops)")
    children = [
        subprocess.Popen(_api_argv(host, port, 1, 16)),
        subprocess.Popen(worker_argv(settings, ALL_QUEUES, concurrency, beat=True)),
    ]
    _supervise(children)


def _supervise(children: list[subprocess.Popen[Any]]) -> None:
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    click.echo("Pressroom stopped.")
    codes = [child.returncode for child in children]
    sys.exit(0 if stopping else max(abs(c or 0) for c in codes) or 1)


@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--workers", type=int, default=2, help="gunicorn worker processes.")
@click.option("--threads", type=int, default=16, help="Threads per worker process.")
def api(host: str | None, port: int | None, workers: int, threads: int) -> None:
    """Run only the HTTP API under gunicorn (production split)."""
    settings = get_settings()
    argv = _api_argv(host or settings.host, port or settings.port, workers, threads)
    os.execv(sys.executable, argv)


@main.command()
@click.option("--queues", default=ALL_QUEUES, show_default=True, help="Queues to consume.")
@click.option("--concurrency", type=int, default=0, help="Processes (default: cores).")
@click.option("--beat/--no-beat", default=False, help="Also run the beat scheduler.")
def worker(queues: str, concurrency: int, beat: bool) -> None:
    """Run a Celery worker; by default it consumes every queue."""
    unknown = set(queues.split(",")) - {q.value for q in Queue}
    if unknown:
        raise click.BadParameter(f"unknown queues {sorted(unknown)}; known: {ALL_QUEUES}")
    argv = worker_argv(get_settings(), queues, concurrency, beat=beat)
    os.execv(sys.executable, argv)


@main.command()
def beat() -> None:
    """Run the beat scheduler alone (cleanup and the reaper)."""
    settings = get_settings()
    argv = celery_argv(settings, "beat") + [
        "--schedule",
        str(settings.data_dir / "celerybeat-schedule"),
    ]
    os.execv(sys.executable, argv)


@main.command()
def cleanup() -> None:
    """Delete expired files and job rows now."""
    from pressroom.jobs.maintenance import cleanup_expired
    from pressroom.runtime import get_runtime

    click.echo(json.dumps(asdict(cleanup_expired(get_runtime()))))


@main.command()
def reap() -> None:
    """Re-queue or fail stuck jobs now."""
    from pressroom.jobs.maintenance import reap_stuck_jobs
    from pressroom.runtime import get_runtime

    click.echo(json.dumps(asdict(reap_stuck_jobs(get_runtime()))))


@main.group()
def keys() -> None:
    """API keys (used when PRESSROOM_AUTH=api_key)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its token as JSON.")
def keys_create(name: str, as_json: bool) -> None:
    """Create a key and print its token (shown once: only its hash is stored)."""
    from pressroom.runtime import get_runtime

    info, token = get_runtime().keys.create(name)
    if as_json:
        click.echo(json.dumps({**info.as_dict(), "token": token}))
        return
    click.echo(f"Created {info.id} ({info.name}). Its token, shown only now:")
    click.echo(token)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def keys_list(as_json: bool) -> None:
    """List keys (ids and names; never tokens)."""
    from pressroom.runtime import get_runtime

    for info in get_runtime().keys.list():
        if as_json:
            click.echo(json.dumps(info.as_dict()))
        else:
            state = "active" if info.active else f"revoked {info.as_dict()['revoked_at']}"
            click.echo(f"{info.id}\t{info.name}\t{state}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: its next request is refused (401). Its jobs stay."""
    from pressroom.runtime import get_runtime

    info = get_runtime().keys.revoke(key_id)
    if info is None:
        raise click.ClickException(f"no key {key_id}")
    click.echo(f"Revoked {info.id} ({info.name}).")


def _safe_url(url: str) -> str:
    """A URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _add_client_commands() -> None:
    from pressroom.cli_client import jobs, submit

    main.add_command(submit)
    main.add_command(jobs)


_add_client_commands()

if __name__ == "__main__":
    main()
