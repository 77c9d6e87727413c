"""A small client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, TGI, Ollama, llama.cpp…).

Plain HTTP through :mod:`urllib` (no SDK): ``POST {base_url}/chat/completions`` with ``model``,
``messages``, ``temperature`` and ``max_tokens``; the answer is ``choices[0].message.content``.

* **Key**: from ``api_key`` or the environment variable ``api_key_env``; sent as a Bearer header and
  never logged, cached or shown in ``repr``.
* **Cache / resume**: every successful answer is written atomically to ``cache_dir/<sha256>.json``,
  keyed by a hash of the request body (endpoint, model, messages, sampling settings — not the key).
  A re-run, after an interruption or a crash, answers cached requests from disk and sends only the
  rest: a request that already succeeded is never repeated. Failures are not cached.
* **Retries**: connection errors, timeouts, HTTP 408/409/429 and 5xx are retried with exponential
  backoff and jitter (``Retry-After`` is honoured); other HTTP errors (401, 404, …) fail at once,
  and an authentication error stops the whole run with a clear message.
* **Concurrency**: at most ``max_concurrency`` requests in flight (a thread pool), with progress (a bar on a terminal, lines in a log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..progress import progress

__all__ = ["ChatResult", "LLMAuthError", "LLMRequestError", "OpenAIChatClient"]

logger = logging.getLogger(__name__)

Messages = List[Dict[str, str]]
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMRequestError(RuntimeError):
    """A request that failed for good (after retries, or with a non-retryable status)."""


class LLMAuthError(LLMRequestError):
    """HTTP 401/403: the key is missing or wrong; retrying or continuing would not help."""


@dataclass
class ChatResult:
    """The outcome of one request: ``content`` on success, ``error`` otherwise; ``cached`` if read from disk."""

    content: Optional[str]
    error: Optional[str] = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.content is not None


class OpenAIChatClient:
    """Chat completions against an OpenAI-compatible endpoint, with an on-disk cache that makes runs resumable."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: Optional[str] = None,
        api_key_env: str = "OPENAI_API_KEY",
        cache_dir: Optional[os.PathLike] = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_concurrency: int = 4,
    ):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL such as 'http://localhost:8000/v1', got {base_url!r}")
        if not model:
            raise ValueError("model must name the served model (e.g. 'gpt-4o' or 'meta-llama/Llama-3.1-8B-Instruct')")
        if max_concurrency < 1 or max_retries < 0:
            raise ValueError("max_concurrency must be >= 1 and max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env) if api_key_env else None
        self.api_key_env = api_key_env
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_concurrency = max_concurrency
        self._lock = threading.Lock()
        self.stats = {"sent": 0, "succeeded": 0, "cached": 0, "retried": 0, "failed": 0}

    def __repr__(self) -> str:
        key = "set" if self._api_key else "not set"
        return f"OpenAIChatClient(base_url={self.base_url!r}, model={self.model!r}, api_key={key}, cache_dir={str(self.cache_dir)!r})"

    # -- request body, cache -------------------------------------------------------------------------
    def request_body(self, messages: Messages) -> Dict[str, Any]:
        return {"model": self.model, "messages": messages, "temperature": self.temperature, "max_tokens": self.max_tokens}

    def cache_key(self, messages: Messages) -> str:
        payload = {"url": self.base_url + "/chat/completions", **self.request_body(messages)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Optional[Path]:
        return self.cache_dir / f"{key}.json" if self.cache_dir is not None else None

    def _read_cache(self, key: str) -> Optional[str]:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["content"]
        except (OSError, ValueError, KeyError):
            logger.warning("ignoring unreadable cache entry %s", path.name)
            return None

    def _write_cache(self, key: str, messages: Messages, content: str) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        record = {"model": self.model, "messages": messages, "content": content}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, ensure_ascii=False)
        os.replace(tmp, path)  # atomic: an interrupted write never leaves a half entry

    # -- HTTP ----------------------------------------------------------------------------------------
    def _post(self, body: Dict[str, Any]) -> str:
        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + "/chat/completions", data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        if self._api_key:
            request.add_header("Authorization", f"Bearer {self._api_key}")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMRequestError(f"response has no choices[0].message.content: {str(payload)[:200]}") from None
        if not isinstance(content, str):
            raise LLMRequestError("choices[0].message.content is not a string")
        return content

    def _sleep_before_retry(self, attempt: int, retry_after: Optional[str]) -> None:
        delay = min(self.max_backoff, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)
        if retry_after:
            try:
                delay = max(delay, min(self.max_backoff, float(retry_after)))
            except ValueError:
                pass
        with self._lock:
            self.stats["retried"] += 1
        time.sleep(delay)

    def complete(self, messages: Messages) -> ChatResult:
        """One chat completion: from the cache when present, else over HTTP with retries."""
        key = self.cache_key(messages)
        cached = self._read_cache(key)
        if cached is not None:
            with self._lock:
                self.stats["cached"] += 1
            return ChatResult(cached, cached=True)
        body = self.request_body(messages)
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                with self._lock:
                    self.stats["sent"] += 1
                content = self._post(body)
            except urllib.error.HTTPError as err:
                last_error = f"HTTP {err.code} {err.reason}"
                if err.code in (401, 403):
                    raise LLMAuthError(
                        f"{self.base_url} refused the request ({last_error}); check the API key in ${self.api_key_env}"
                    ) from None
                if err.code not in _RETRY_STATUS:
                    break
                retry_after = err.headers.get("Retry-After") if err.headers else None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                last_error = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            except (LLMRequestError, ValueError) as err:
                last_error = str(err)
            else:
                self._write_cache(key, messages, content)
                with self._lock:
                    self.stats["succeeded"] += 1
                return ChatResult(content)
            if attempt < self.max_retries:
                self._sleep_before_retry(attempt, retry_after)
        with self._lock:
            self.stats["failed"] += 1
        return ChatResult(None, error=last_error)

    def complete_many(self, batch: Sequence[Messages], desc: str = "LLM requests") -> List[ChatResult]:
        """Answer many requests, at most ``max_concurrency`` at a time, in input order, with progress."""
        results: List[Optional[ChatResult]] = [None] * len(batch)
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool, progress(total=len(batch), desc=desc) as bar:
            futures = {pool.submit(self.complete, messages): i for i, messages in enumerate(batch)}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results  # type: ignore[return-value]

