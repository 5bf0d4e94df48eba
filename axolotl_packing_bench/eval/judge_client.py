"""Ask an OpenAI-compatible judge, with retries, a concurrency limit and a disk cache.

- Requests go through the `openai` client (any ``base_url``: OpenAI, vLLM,
  `transformers serve`...), temperature 0. The API key is read from an
  environment variable whose *name* is configured; its value is only handed
  to the client, and scrubbed from every message this module produces. It
  is never part of a cache key, a cache line or a result.
- Connection errors, timeouts, 429 and 5xx are retried with exponential
  backoff (``backoff_s * 2**attempt``, with jitter, capped); other 4xx fail
  at once.
- At most ``concurrency`` requests are in flight (a thread pool).
- Every reply (parsable or not) is cached in a JSONL file, keyed by the hash
  of (judge model, mode, rubric version, prompt, answers in the order shown,
  reference, max tokens): a rerun sends no request and counts cache hits.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.fileio import append_line, read_lines
from axolotl_packing_bench.eval.errors import EvalError, clean, sentence

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
NO_KEY = "not-needed"  # local servers ignore the key, but the client wants one
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class JudgeRequest:
    """One judgment to ask for; `key` identifies it in the cache."""

    mode: str
    rubric: str
    prompt: str
    answers: tuple[str, ...]
    reference: str | None
    messages: tuple[tuple[str, str], ...]

    def key(self, judge_model: str, max_tokens: int) -> str:
        payload = {
            "judge_model": judge_model,
            "mode": self.mode,
            "rubric": self.rubric,
            "prompt": self.prompt,
            "answers": list(self.answers),
            "reference": self.reference,
            "max_tokens": max_tokens,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class JudgeReply:
    """The judge's reply text and token usage, or the error that stopped it."""

    text: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None


@dataclass
class JudgeStats:
    """What this client did: requests sent, retries, cache hits, tokens spent."""

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("requests", "retries", "cache_hits", "failed", "prompt_tokens", "completion_tokens")
        }


class JudgeCache:
    """Replies on disk, one JSON object per line: ``{"key", "reply", "usage", ...}``."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path).expanduser() if path else None
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self.path is not None and self.path.is_dir():
            raise EvalError(f"judge cache {self.path} is a directory; pass a file path such as judge-cache.jsonl")
        if self.path is not None and self.path.exists():
            for line in read_lines(self.path):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn line from a crashed writer
                if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                    self._entries[entry["key"]] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        line = {"key": key, **entry}
        with self._lock:
            self._entries[key] = line
        if self.path is not None:
            append_line(self.path, json.dumps(line, ensure_ascii=False, separators=(",", ":")))


def _retryable(error: BaseException) -> bool:
    import openai

    if isinstance(
        error, (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)
    ):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def _describe(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return f"HTTP {status}: {message}" if status else f"{type(error).__name__}: {message}"


class JudgeClient:
    """Send judge requests to one OpenAI-compatible endpoint.

    Args:
        base_url: The endpoint, e.g. ``https://api.openai.com/v1`` or
            ``http://127.0.0.1:8000/v1``.
        model: The judge model name.
        api_key_env: Name of the environment variable holding the API key
            (unset: a placeholder key, fine for local servers).
        cache: A `JudgeCache` (or a path for one; None: in memory only).
        concurrency: Requests in flight at most.
        max_retries: Retries of a retryable failure (so 1 + this attempts).
        backoff_s: First retry delay; doubles each retry.
        timeout_s: Per-request timeout.
        max_tokens: Judge reply length limit.
        sleep: Injected for tests.
        no_api_key: Send the placeholder key even when the variable is set.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        cache: JudgeCache | str | Path | None = None,
        concurrency: int = 4,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 120.0,
        max_tokens: int = 1024,
        sleep: Callable[[float], None] = time.sleep,
        no_api_key: bool = False,
    ):
        import openai

        if concurrency < 1:
            raise EvalError(f"--concurrency is {concurrency}; use 1 or more")
        if max_retries < 0:
            raise EvalError(f"--max-retries is {max_retries}; use 0 or more")
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self._secret = None if no_api_key else os.environ.get(api_key_env) or None
        self.cache = cache if isinstance(cache, JudgeCache) else JudgeCache(cache)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.sleep = sleep
        self.stats = JudgeStats()
        self._client = openai.OpenAI(
            base_url=base_url, api_key=self._secret or NO_KEY, max_retries=0, timeout=timeout_s
        )

    def scrub(self, text: object) -> str:
        """``text`` on one line with the API key (and key-like strings) redacted: for errors."""
        return clean(text, self._secret)

    def mask(self, text: str | None) -> str | None:
        """``text`` as it is but for the API key, should a server echo it: for replies."""
        if text is None or not self._secret:
            return text
        return text.replace(self._secret, "[REDACTED]")

    def _send(self, request: JudgeRequest) -> JudgeReply:
        attempt = 0
        while True:
            self.stats.add(requests=1)
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": role, "content": content} for role, content in request.messages],
                    temperature=0,
                    max_tokens=self.max_tokens,
                )
            except Exception as error:  # noqa: BLE001 - classified below, never raised with the key in it
                if attempt < self.max_retries and _retryable(error):
                    delay = min(self.backoff_s * 2**attempt, MAX_BACKOFF_S) * (1 + 0.1 * random.random())
                    attempt += 1
                    self.stats.add(retries=1)
                    self.sleep(delay)
                    continue
                self.stats.add(failed=1)
                return JudgeReply(None, error=self.scrub(_describe(error)))
            choices = getattr(response, "choices", None) or []
            message = getattr(choices[0], "message", None) if choices else None
            text = getattr(message, "content", None) if message is not None else None
            usage = getattr(response, "usage", None)
            prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
            completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
            self.stats.add(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            return JudgeReply(self.mask(text if isinstance(text, str) else ""), prompt_tokens, completion_tokens)

    def ask(self, request: JudgeRequest) -> JudgeReply:
        """The reply to ``request``, from the cache when it is there."""
        key = request.key(self.model, self.max_tokens)
        entry = self.cache.get(key)
        if entry is not None:
            self.stats.add(cache_hits=1)
            usage = entry.get("usage") or {}
            return JudgeReply(
                entry.get("reply"),
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                cached=True,
            )
        reply = self._send(request)
        if reply.error is None:
            self.cache.put(
                key,
                {
                    "judge_model": self.model,
                    "mode": request.mode,
                    "rubric": request.rubric,
                    "reply": reply.text,
                    "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens},
                },
            )
        return reply

    def ask_all(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """Replies in request order, at most ``concurrency`` in flight.

        Raises:
            EvalError: Every request failed (the judge is down, or rejects the
                key): one sentence with the first error, the key scrubbed.
        """
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="judge") as pool:
            replies = list(pool.map(self.ask, requests))
        errors = [reply.error for reply in replies if reply.error]
        if errors and len(errors) == len(replies):
            hint = (
                f" (is ${self.api_key_env} set and valid?)"
                if any(code in errors[0] for code in ("HTTP 401", "HTTP 403"))
                else ""
            )
            raise EvalError(
                sentence(f"the judge at {self.base_url} failed every request{hint}: {errors[0]}", self._secret)
            )
        return replies
