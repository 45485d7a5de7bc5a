"""Language-model providers: the interface the AI service talks to, and its
one implementation, any server that speaks OpenAI's chat-completions protocol
(OpenAI, OpenRouter, Ollama, vLLM, a llama.cpp server...).

Why httpx and not the ``openai`` SDK: we use one endpoint, and we need to own
exactly what the SDK would hide: how many times a call is retried and how
long we wait (Retry-After, capped, so a worker never sleeps for minutes), how
each failure maps to a Pressroom error code (retryable or not), and the
token and latency figures of every call. The SDK would add its own retry
loop on top of ours and a dozen dependencies for that.

Failures, and what becomes of them:

- 429, 408 and 5xx: retried here with exponential backoff (with jitter), or
  after the server's ``Retry-After`` / ``retry-after-ms``, at most
  ``max_retries`` times; a wait longer than ``max_retry_wait`` is not slept
  through. Then ``AIProviderUnavailableError`` (retryable: the job is tried
  again later by the task pattern).
- connection refused, DNS, reset: retried the same way, then unavailable.
- read time-out: ``AIProviderTimeoutError`` at once (retryable at the job
  level; a model that did not answer in minutes is not asked again at once).
- any other 4xx (bad request, key, unknown model, context too long):
  ``AIProviderRejectedError``, not retryable.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from pressroom.errors import (
    AIOutputInvalidError,
    AIProviderRejectedError,
    AIProviderTimeoutError,
    AIProviderUnavailableError,
)

log = logging.getLogger(__name__)

#: statuses a later try can fix (529: "overloaded", used by some gateways)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})

Message = dict[str, str]


@dataclass
class Usage:
    """Tokens and time spent on a provider, summed over calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    retries: int = 0
    latency_ms: float = 0.0
    models: list[str] = field(default_factory=list)

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.retries += other.retries
        self.latency_ms += other.latency_ms
        for model in other.models:
            if model not in self.models:
                self.models.append(model)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "calls": self.calls,
            "retries": self.retries,
            "latency_ms": round(self.latency_ms, 1),
        }


@dataclass(frozen=True)
class Completion:
    content: str
    model: str  # as the provider names it in its answer
    finish_reason: str | None
    usage: Usage


class ChatProvider(Protocol):
    """What the AI service needs from a provider: one chat completion."""

    def complete(
        self,
        messages: list[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.2,
        json_output: bool = True,
    ) -> Completion: ...

    def close(self) -> None: ...


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The wait a server asks for: ``retry-after-ms``, or ``Retry-After`` as
    seconds or as an HTTP date."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _provider_message(response: httpx.Response) -> str:
    """The provider's own explanation, short (shown to the client)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    if isinstance(error, str):
        return error[:300]
    return str(body)[:300]


class OpenAICompatibleProvider:
    """``POST {base_url}/chat/completions`` with a bearer key."""

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        backoff_base: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "pressroom"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.backoff_base = backoff_base
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def _backoff(self, retry: int) -> float:
        """Exponential, with jitter so that many workers do not retry in step."""
        return self.backoff_base * (2**retry) * (0.5 + random.random() / 2)  # noqa: S311

    def complete(
        self,
        messages: list[Message],
        *,
        model: str,
        max_tokens: int,
        temperature: float = 0.2,
        json_output: bool = True,
    ) -> Completion:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if json_output:
            body["response_format"] = {"type": "json_object"}
        usage = Usage()
        retry = 0
        while True:
            started = time.monotonic()
            try:
                response = self._client.post("chat/completions", json=body)
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                usage.latency_ms += (time.monotonic() - started) * 1000
                log.warning("AI provider: no answer in %.0fs (%s)", self.timeout, model)
                raise AIProviderTimeoutError(
                    f"The AI provider did not answer within {self.timeout:.0f} s.", model=model
                ) from exc
            except httpx.TransportError as exc:  # refused, DNS, reset, connect time-out
                usage.latency_ms += (time.monotonic() - started) * 1000
                wait = self._backoff(retry)
                if retry >= self.max_retries:
                    raise AIProviderUnavailableError(
                        "The AI provider could not be reached.", reason=type(exc).__name__
                    ) from exc
                log.warning(
                    "AI provider unreachable (%s); retry in %.1fs", type(exc).__name__, wait
                )
                retry += 1
                usage.retries += 1
                self._sleep(wait)
                continue
            usage.latency_ms += (time.monotonic() - started) * 1000
            status = response.status_code
            if status == 200:
                return self._completion(response, model, usage)
            if status in RETRY_STATUSES:
                asked = retry_after_seconds(response)
                wait = asked if asked is not None else self._backoff(retry)
                if retry >= self.max_retries or wait > self.max_retry_wait:
                    raise AIProviderUnavailableError(
                        f"The AI provider answered {status} "
                        f"{'(rate limit)' if status == 429 else ''}".strip()
                        + f" after {retry + 1} tries.",
                        provider_status=status,
                        retry_after=asked,
                        provider_message=_provider_message(response),
                    )
                log.warning("AI provider answered %d; retry in %.1fs", status, wait)
                retry += 1
                usage.retries += 1
                self._sleep(wait)
                continue
            raise AIProviderRejectedError(
                f"The AI provider refused the request ({status}): {_provider_message(response)}",
                provider_status=status,
                provider_message=_provider_message(response),
                model=model,
            )

    def _completion(self, response: httpx.Response, model: str, usage: Usage) -> Completion:
        try:
            body = response.json()
            choice = body["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise AIOutputInvalidError(
                "The AI provider's answer is not a chat completion.", model=model
            ) from exc
        if not isinstance(content, str):
            raise AIOutputInvalidError("The AI provider's answer has no text.", model=model)
        counted = body.get("usage") or {}
        usage.prompt_tokens += int(counted.get("prompt_tokens") or 0)
        usage.completion_tokens += int(counted.get("completion_tokens") or 0)
        usage.calls += 1
        answered_by = str(body.get("model") or model)
        usage.models.append(answered_by)
        return Completion(content, answered_by, choice.get("finish_reason"), usage)
