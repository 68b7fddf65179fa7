"""The one place that retries: full-jitter exponential back-off, and a loop that waits an outage out.

Every retry in the project goes through here (the window stage's broker calls and dead letters, the
agents' store calls, the OpenAI-compatible summarizer), so back-off, caps and the hook that reports a
failing call (for readiness, counters and throttled logs) are the same everywhere.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def backoff_s(attempt: int, base_s: float = 0.2, cap_s: float = 10.0) -> float:
    """Full-jitter exponential back-off: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(cap_s, base_s * 2 ** min(attempt, 30)))


async def retry_until_done(
    fn: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    on_failure: Callable[[BaseException, int], None] | None = None,
    base_s: float = 0.2,
    cap_s: float = 5.0,
    max_tries: int | None = None,
) -> T:
    """Await ``fn()`` until it returns; an exception in ``retry_on`` is reported to
    ``on_failure(exc, attempt)`` and retried after a back-off (at most ``max_tries`` calls when given,
    then the last exception is raised). Anything else is raised at once."""
    attempt = 0
    while True:
        try:
            return await fn()
        except retry_on as exc:
            attempt += 1
            if max_tries is not None and attempt >= max_tries:
                raise
            if on_failure is not None:
                on_failure(exc, attempt)
            await asyncio.sleep(backoff_s(attempt - 1, base_s, cap_s))
