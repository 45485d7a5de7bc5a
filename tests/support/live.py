"""A real embedded service (``pressroom serve``) on a free port, as a user
starts it: for the tests that drive it from outside (browser, CLI, OpenAPI)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.worker import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        """The environment of a client process pointed at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
        env["PRESSROOM_URL"] = self.url
        return env

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_live_server(folder: Path, timeout: float = 180) -> LiveServer:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
    env.update(
        PRESSROOM_DATA_DIR=str(folder / "var"),
        PRESSROOM_PORT=str(port),
        PRESSROOM_LOG_LEVEL="WARNING",
    )
    log = folder / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pressroom.cli", "serve", "--concurrency", "1"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", folder / "var", log, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(f"{server.url}/api/health", timeout=30).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet, or busy starting
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"pressroom serve did not become healthy:\n{log.read_text()[-3000:]}")
