"""A local HTTP server speaking OpenAI's chat-completions protocol, for the
AI provider tests (started by the tests on 127.0.0.1, a free port).

By default it answers like a well-behaved model, deterministically, from what
it was asked (the system prompt says which task):

- a summary: ``{"summary": <the first sentence of the text>, "key_points":
  [<the first sentences of the text>...]}``;
- a translation: ``{"translated_text": ...}`` with ``[<target>] `` put after
  the indentation of every line of the text (lines and blank lines kept);
- anything else (structured extraction): the JSON in ``canned``.

A test can queue scripted answers (``script``): a status, headers, a raw body
and a delay each, taken in order before the default behaviour resumes. Text
markers do the same for requests a test cannot script in order (a real
worker's): ``@@429-ONCE@@`` (one 429 with Retry-After: 1 per distinct text),
``@@REJECT@@`` (400), ``@@GARBLE-ONCE@@`` (one answer that is not JSON).
Every request is recorded (``requests``), with its arrival time.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: str | dict[str, Any] | None = None  # None: the default answer
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    at: float
    body: dict[str, Any]
    headers: dict[str, str]


def completion(content: str, *, model: str = "fake-model") -> dict[str, Any]:
    words = len(content.split())
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": words, "total_tokens": 100 + words},
    }


class ChatServer:
    def __init__(self) -> None:
        self.script: list[Scripted] = []
        self.requests: list[Seen] = []
        self.canned: dict[str, Any] = {}
        self._markers_seen: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                status, headers, payload, delay = server.answer(
                    self.path, body, dict(self.headers.items())
                )
                if delay:
                    time.sleep(delay)
                data = payload.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a time-out test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> ChatServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.canned = {}

    # -- answers --------------------------------------------------------------------
    def answer(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], str, float]:
        with self._lock:
            self.requests.append(Seen(time.monotonic(), body, headers))
            scripted = self.script.pop(0) if self.script else None
        if not path.endswith("/chat/completions"):
            return 404, {}, json.dumps({"error": {"message": "no such path"}}), 0.0
        if scripted is not None:
            if scripted.body is None:
                payload = json.dumps(completion(self.default_content(body)))
            elif isinstance(scripted.body, dict):
                payload = json.dumps(scripted.body)
            else:
                payload = scripted.body
            return scripted.status, scripted.headers, payload, scripted.delay
        user = _message(body, "user")
        for marker, once in (("@@429-ONCE@@", True), ("@@GARBLE-ONCE@@", True)):
            if marker in user and once:
                key = marker + user
                with self._lock:
                    first = key not in self._markers_seen
                    self._markers_seen.add(key)
                if first and marker == "@@429-ONCE@@":
                    error = {"error": {"message": "Rate limit reached", "type": "rate_limit"}}
                    return 429, {"Retry-After": "1"}, json.dumps(error), 0.0
                if first:
                    return 200, {}, json.dumps(completion("Sure! Here is the summary: {oops")), 0.0
        if "@@REJECT@@" in user:
            error = {"error": {"message": "This model's maximum context length is exceeded"}}
            return 400, {}, json.dumps(error), 0.0
        return (
            200,
            {},
            json.dumps(
                completion(self.default_content(body), model=body.get("model", "fake-model"))
            ),
            0.0,
        )

    def default_content(self, body: dict[str, Any]) -> str:
        system = _message(body, "system")
        user = _message(body, "user")
        if "translat" in system.lower():
            target = re.search(r"into '([^']+)'", system)
            tag = f"[{target.group(1) if target else '?'}] "
            lines = [_tagged(line, tag) for line in user.split("\n")]
            return json.dumps({"translated_text": "\n".join(lines)})
        if "summar" in system.lower():
            sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", user) if s.strip()]
            return json.dumps(
                {"summary": sentences[0] if sentences else user[:100], "key_points": sentences[:3]}
            )
        return json.dumps(self.canned)


def _message(body: dict[str, Any], role: str) -> str:
    for message in body.get("messages", []):
        if message.get("role") == role:
            return str(message.get("content", ""))
    return ""


def _tagged(line: str, tag: str) -> str:
    """A "translated" line: the tag after the line's indentation, as a
    translator keeps the layout."""
    if not line.strip():
        return line
    body = line.lstrip()
    return line[: len(line) - len(body)] + tag + body
