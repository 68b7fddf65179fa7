"""The Weaviate client's retry of an unavailable gRPC server: bounded, reported, other errors at once."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from weaviate.exceptions import WeaviateRetryError

from engines.store import grpc_retry


class _Rpc(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "connection refused"


def _failing(code: grpc.StatusCode, calls: list[int], ok_after: int | None = None):
    def f() -> str:
        calls.append(1)
        if ok_after is not None and len(calls) > ok_after:
            return "ok"
        raise _Rpc(code)

    return f


class Reports(list):
    """The hook's ``(operation, attempt)`` reports; ``sleeps`` the back-off asked for."""

    sleeps: list[float]


@pytest.fixture
def reports(monkeypatch) -> Reports:
    seen = Reports()
    seen.sleeps = []
    monkeypatch.setattr(grpc_retry.time, "sleep", seen.sleeps.append)
    monkeypatch.setattr(grpc_retry.BoundedRetry, "hook", staticmethod(lambda op, exc, n: seen.append((op, n))))
    return seen


def test_an_outage_is_retried_a_bounded_number_of_times_with_capped_sleeps(reports) -> None:
    calls: list[int] = []
    with pytest.raises(WeaviateRetryError):
        grpc_retry.BoundedRetry(4).with_exponential_backoff(0, "Searching", _failing(grpc.StatusCode.UNAVAILABLE, calls))
    assert len(calls) == grpc_retry.BoundedRetry.max_tries  # the unpatched client made 6 calls over 63 s
    assert reports == [("Searching", 1), ("Searching", 2)]
    assert reports.sleeps and all(s <= grpc_retry.BoundedRetry.cap_s for s in reports.sleeps)


def test_a_call_that_answers_again_returns_and_other_errors_are_raised_at_once(reports) -> None:
    calls: list[int] = []
    assert grpc_retry.BoundedRetry(4).with_exponential_backoff(0, "Batch", _failing(grpc.StatusCode.UNAVAILABLE, calls, 1)) == "ok"
    calls.clear()
    with pytest.raises(grpc.RpcError):
        grpc_retry.BoundedRetry(4).with_exponential_backoff(0, "Batch", _failing(grpc.StatusCode.PERMISSION_DENIED, calls))
    assert len(calls) == 1


def test_connect_routes_the_clients_retries_through_the_bound() -> None:
    from weaviate.connect import v4

    from engines.store.weaviate_store import connect

    with contextlib.suppress(Exception):  # nothing listens there; only the patch matters
        connect("http://127.0.0.1:1", 2, timeout_s=0.5)
    assert v4._Retry is grpc_retry.BoundedRetry
    assert ("grpc.max_reconnect_backoff_ms", 2_000) in grpc_retry.reconnect_options(2_000)
