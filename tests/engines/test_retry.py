"""The one retry loop: retries what it is told to, reports each failure, gives up only when bounded."""

from __future__ import annotations

import asyncio

import pytest

from engines.retry import backoff_s, retry_until_done


def test_retries_until_done_and_reports_every_failure() -> None:
    calls, seen = [], []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise ConnectionError("down")
        return "ok"

    out = asyncio.run(retry_until_done(flaky, retry_on=(ConnectionError,), on_failure=lambda e, n: seen.append(n),
                                       base_s=0.001, cap_s=0.002))
    assert out == "ok" and len(calls) == 4 and seen == [1, 2, 3]


def test_other_errors_are_raised_at_once_and_bounded_tries_end() -> None:
    async def broken() -> None:
        raise ValueError("the item is wrong")

    with pytest.raises(ValueError):
        asyncio.run(retry_until_done(broken, retry_on=(ConnectionError,), base_s=0.001))
    calls = []

    async def down() -> None:
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        asyncio.run(retry_until_done(down, retry_on=(ConnectionError,), base_s=0.001, max_tries=3))
    assert len(calls) == 3


def test_backoff_is_jittered_under_its_cap() -> None:
    assert all(0.0 <= backoff_s(a, 0.2, 5.0) <= min(5.0, 0.2 * 2**a) for a in range(40))
