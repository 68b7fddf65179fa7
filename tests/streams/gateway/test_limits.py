from __future__ import annotations

import pytest

from streams.gateway.limits import RateLimiter


def test_burst_then_refill_at_rate() -> None:
    rl = RateLimiter(rate_per_s=2.0, burst=3)
    assert [rl.acquire("s", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.acquire("s", 0.0)
    assert wait == pytest.approx(0.5)
    assert rl.acquire("s", 0.5) == 0.0  # one token came back after 1/rate seconds
    assert rl.acquire("s", 0.5) > 0


def test_streams_have_their_own_buckets_and_memory_is_bounded() -> None:
    rl = RateLimiter(rate_per_s=1.0, burst=1, max_streams=2)
    assert rl.acquire("a", 0.0) == 0.0
    assert rl.acquire("a", 0.0) > 0
    assert rl.acquire("b", 0.0) == 0.0
    assert rl.acquire("c", 0.0) == 0.0  # evicts "a", the least recently used
    assert len(rl._buckets) == 2
    assert rl.acquire("a", 0.0) == 0.0  # forgotten: full bucket again


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 1)
