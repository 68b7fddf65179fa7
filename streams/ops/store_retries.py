"""The Weaviate client's own gRPC retries, reported like the project's: counted in
``ampere_store_retries_total{operation="store reconnect"}`` and logged at most once per interval."""

from __future__ import annotations

import logging

from engines.store import grpc_retry
from streams.ops import metrics
from streams.ops.logs import Throttled

OPERATION = "store reconnect"
log = logging.getLogger("ampere.store")
_throttled = Throttled(log, interval_s=10.0)


def report(operation: str, error: BaseException, attempt: int) -> None:
    """One client call failed because Weaviate could not be reached and is about to be retried."""
    metrics.count_retry(OPERATION)
    detail = getattr(error, "details", None)
    reason = detail() if callable(detail) else str(error)
    _throttled(OPERATION, logging.WARNING, "Weaviate unreachable (%s: %s); reconnecting, attempt %d",
               operation, str(reason)[:200], attempt)


def install() -> None:
    """Report every retry of the Weaviate client from now on (idempotent)."""
    grpc_retry.install()
    grpc_retry.on_retry(report)
