"""The Weaviate client's own retry of an unreachable gRPC server, bounded and reported.

The v4 client retries an UNAVAILABLE gRPC call by itself, silently (a log line at INFO on its own
logger), sleeping 1, 2, 4, ... 32 s: a query waited up to 63 s after Weaviate had returned, and the
project's retry loop, which logs and counts, saw nothing in that time. Here each of those retries is
reported to a hook, the sleeps are capped, and after ``max_tries`` the error reaches the caller (whose
retry loop then logs, counts and backs off). The gRPC channel's own reconnect back-off (2 minutes at
most by default) is capped by :func:`reconnect_options`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, cast

import grpc
import weaviate.connect.v4 as _v4
from weaviate.exceptions import WeaviateRetryError
from weaviate.retry import _Retry

#: ``hook(operation, error, attempt)``: one failed call of the client that is about to be retried.
RetryHook = Callable[[str, BaseException, int], None]


class BoundedRetry(_Retry):
    """``_Retry`` of the v4 client (sync calls): at most ``max_tries`` calls, sleeps capped at ``cap_s``."""

    hook: ClassVar[RetryHook | None] = None
    max_tries: ClassVar[int] = 3
    base_s: ClassVar[float] = 0.5
    cap_s: ClassVar[float] = 2.0

    def with_exponential_backoff(self, count: int, error: str, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``f`` until it answers; an UNAVAILABLE error is reported, slept on and retried."""
        attempt = 0
        while True:
            try:
                return f(*args, **kwargs)
            except grpc.RpcError as e:
                if cast(grpc.Call, e).code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                attempt += 1
                if attempt >= min(self.max_tries, int(self.n) + 2):
                    raise WeaviateRetryError(str(e), attempt) from e
                if BoundedRetry.hook is not None:
                    BoundedRetry.hook(error, e, attempt)
                time.sleep(min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


def install() -> None:
    """Route the client's gRPC retries through :class:`BoundedRetry` (idempotent; process-wide)."""
    _v4._Retry = BoundedRetry  # type: ignore[misc]


def on_retry(hook: RetryHook | None) -> None:
    """Report every retry of the client to ``hook`` (None: report nothing)."""
    BoundedRetry.hook = hook


def reconnect_options(max_backoff_ms: int) -> list[tuple[str, int]]:
    """gRPC channel options: reconnect to a server that went away at least every ``max_backoff_ms``."""
    initial = min(1_000, max_backoff_ms)
    return [
        ("grpc.initial_reconnect_backoff_ms", initial),
        ("grpc.min_reconnect_backoff_ms", initial),
        ("grpc.max_reconnect_backoff_ms", max_backoff_ms),
    ]
