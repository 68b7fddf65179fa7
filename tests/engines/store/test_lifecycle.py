"""Expiry passes: the server deletes at most its result limit per call, so expiry goes on until none is left."""

from __future__ import annotations

import pytest

from engines.store.lifecycle import expire_moments


class PagedStore:
    """Deletes at most ``limit`` of the objects closed before the cutoff per call, like the server."""

    def __init__(self, closed_at: list[float], limit: int, stuck: int = 0) -> None:
        self.closed_at, self.limit, self.stuck, self.calls = list(closed_at), limit, stuck, 0

    def delete_closed_before(self, kind: str, cutoff: float) -> tuple[int, int]:
        self.calls += 1
        old = [t for t in self.closed_at if t < cutoff]
        deletable = old[: max(0, len(old) - self.stuck)][: self.limit]
        for t in deletable:
            self.closed_at.remove(t)
        return len(deletable), min(self.stuck, len(old))


def test_expiry_goes_on_past_the_servers_result_limit() -> None:
    store = PagedStore([float(t) for t in range(2_500)] + [9_000.0] * 3, limit=1_000)
    done = expire_moments(store, "live", 1_000, now=10_000)  # type: ignore[arg-type]
    assert (done.deleted, done.failed, done.cutoff) == (2_500, 0, 9_000)
    assert store.closed_at == [9_000.0] * 3 and store.calls == 4


def test_objects_that_keep_failing_end_the_expiry_and_are_counted() -> None:
    store = PagedStore([float(t) for t in range(10)], limit=4, stuck=2)
    done = expire_moments(store, "live", 1, now=100)  # type: ignore[arg-type]
    assert done.deleted == 8 and done.failed > 0 and len(store.closed_at) == 2


@pytest.mark.parametrize(("kind", "age"), [("product", 10), ("live", 0), ("live", -5)])
def test_products_never_expire_and_the_age_is_positive(kind: str, age: float) -> None:
    with pytest.raises(ValueError):
        expire_moments(PagedStore([], 1), kind, age)  # type: ignore[arg-type]
