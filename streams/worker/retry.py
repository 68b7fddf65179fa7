"""Retrying calls to services (on the back-off of ``engines.retry``, the one retry module): transient failures wait with exponential back-off and full jitter until
the service is back; a failure while the service says it is up counts as this item's fault, and after
``permanent_tries`` of those the call raises :class:`PermanentError` (the caller dead-letters the item).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from engines.retry import backoff_s
from streams.errors import PermanentError, TransientError
from streams.ops import metrics

T = TypeVar("T")
log = logging.getLogger("ampere.retry")


async def call_with_retries(
    what: str,
    fn: Callable[[], Awaitable[T]],
    *,
    service_up: Callable[[], Awaitable[bool]] | None = None,
    permanent_tries: int = 3,
    base_s: float = 0.2,
    cap_s: float = 10.0,
) -> T:
    """Run ``fn`` until it succeeds or fails ``permanent_tries`` times while the service is up.

    A :class:`TransientError` never counts; a :class:`PermanentError` always counts; any other exception
    counts only when ``service_up()`` says the service answers (an outage is never the item's fault).
    """
    faults = 0
    attempt = 0
    while True:
        try:
            return await fn()
        except TransientError as exc:
            err: Exception = exc
        except PermanentError as exc:
            err = exc
            faults += 1
        except Exception as exc:  # noqa: BLE001 - classified below by asking the service
            err = exc
            if service_up is None or await service_up():
                faults += 1
        if faults >= permanent_tries:
            reason = err.reason if isinstance(err, PermanentError) else f"{type(err).__name__}: {err}"
            raise PermanentError(f"{what} refused after {faults} tries: {reason}"[:2000]) from err
        delay = backoff_s(attempt, base_s, cap_s)
        attempt += 1
        log.warning("%s failed (%s: %s); retry %d in %.1fs", what, type(err).__name__, str(err)[:300], attempt, delay)
        metrics.count_retry(what)
        await asyncio.sleep(delay)
