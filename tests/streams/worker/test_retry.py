"""Typed retries: an outage is waited out, a refusal while the service is up ends in PermanentError."""

from __future__ import annotations

import pytest

from streams.errors import PermanentError, TransientError
from streams.worker.retry import backoff_s, call_with_retries


def test_backoff_is_jittered_and_capped() -> None:
    waits = [backoff_s(a, base_s=0.1, cap_s=1.0) for a in range(50)]
    assert all(0.0 <= w <= 1.0 for w in waits) and len(set(waits)) > 40


async def test_transient_failures_are_retried_until_success() -> None:
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 6:
            raise TransientError("down")
        return "ok"

    assert await call_with_retries("x", flaky, permanent_tries=2, base_s=0.001, cap_s=0.002) == "ok"
    assert calls["n"] == 6


async def test_errors_while_the_service_is_down_do_not_count() -> None:
    calls = {"n": 0}

    async def fails() -> str:
        calls["n"] += 1
        if calls["n"] < 5:
            raise ConnectionError("refused")
        return "ok"

    async def down() -> bool:
        return False

    assert await call_with_retries("x", fails, service_up=down, permanent_tries=2, base_s=0.001, cap_s=0.002) == "ok"


async def test_a_refusal_while_up_is_permanent_after_bounded_tries() -> None:
    calls = {"n": 0}

    async def refuses() -> None:
        calls["n"] += 1
        raise ValueError("vector has the wrong length")

    async def up() -> bool:
        return True

    with pytest.raises(PermanentError, match="wrong length"):
        await call_with_retries("upsert", refuses, service_up=up, permanent_tries=3, base_s=0.001, cap_s=0.002)
    assert calls["n"] == 3
