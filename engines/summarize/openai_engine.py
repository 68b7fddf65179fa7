"""Async client for any OpenAI-compatible chat server (``vllm serve`` in production, a local llama.cpp server).

Every window of a batch is one POST /chat/completions with a JSON-schema response format, at most
``max_concurrency`` in flight; each has a timeout and ``retries`` retries with exponential backoff
(connection errors, timeouts, 408/429/5xx); what still fails goes to the extractive fallback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx

from engines.retry import retry_until_done
from engines.summarize.guarded import Completion, GuardedLlmSummarizer
from engines.summarize.prompt import Message
from engines.summarize.schema import Summary, SummaryRequest

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
ResponseFormat = Literal["json_schema", "json_object", "none"]


class _Final(Exception):
    """A server answer that retrying cannot change (carried past the retry loop)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class ServerError(RuntimeError):
    """The server answered with an error status or an unusable body."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class OpenAISummarizer(GuardedLlmSummarizer):
    """``Summarizer`` over an OpenAI-compatible HTTP API."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str = "ampere-summarizer",
        api_key: str = "EMPTY",
        timeout_s: float = 30.0,
        max_concurrency: int = 8,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_tokens: int = 320,
        response_format: ResponseFormat = "json_schema",
        transport: httpx.AsyncBaseTransport | None = None,
        **guard_options: Any,
    ) -> None:
        super().__init__(model_id=f"{base_url}|{model}", **guard_options)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_concurrency = max(1, max_concurrency)
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.response_format = response_format
        self.transport = transport  # tests may inject one; None = real network
        self.http_requests = 0
        self.completion_tokens = 0

    # -- sync entry points run the async client on their own loop -------------------------------
    def summarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        """Sync form: runs ``asummarize`` (in a helper thread when a loop is already running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.asummarize(batch))
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.asummarize(batch)).result()

    def _complete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        return asyncio.run(self._acomplete_many(conversations))

    # -- the client ---------------------------------------------------------------------------------
    def _payload(self, messages: list[Message]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
        }
        if self.response_format == "json_schema":  # OpenAI and vllm serve
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "product_summary", "schema": self.output_schema, "strict": True},
            }
        elif self.response_format == "json_object":  # llama.cpp's server takes the schema here
            payload["response_format"] = {"type": "json_object", "schema": self.output_schema}
        return payload

    async def _acomplete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        semaphore = asyncio.Semaphore(self.max_concurrency)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        timeout = httpx.Timeout(self.timeout_s)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=self.transport
        ) as client:

            async def one(messages: list[Message]) -> Completion:
                async with semaphore:
                    try:
                        return await self._post_with_retries(client, messages)
                    except Exception as exc:  # noqa: BLE001 - reported per window, then fallback
                        return exc

            return list(await asyncio.gather(*(one(m) for m in conversations)))

    async def _post_with_retries(self, client: httpx.AsyncClient, messages: list[Message]) -> str:
        payload = self._payload(messages)

        async def once() -> str:
            try:
                return await asyncio.wait_for(self._post(client, payload), timeout=self.timeout_s)
            except ServerError as exc:
                if exc.status not in RETRY_STATUS:
                    raise _Final(exc) from exc
                raise

        try:
            return await retry_until_done(once, retry_on=(httpx.TransportError, TimeoutError, ServerError),
                                          base_s=self.backoff_s, cap_s=30 * self.backoff_s, max_tries=self.retries + 1)
        except _Final as final:
            raise final.error from None
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimeoutError(f"no answer within {self.timeout_s:.1f}s") from exc

    async def _post(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> str:
        self.http_requests += 1
        response = await client.post("/chat/completions", json=payload)
        if response.status_code != 200:
            raise ServerError(f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ServerError(f"unexpected response body: {response.text[:200]}") from exc
        self.completion_tokens += int((body.get("usage") or {}).get("completion_tokens", 0))
        return content or ""
