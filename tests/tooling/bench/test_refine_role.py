"""Refined coverage: windows refined of windows indexed, by age at refinement."""

from __future__ import annotations

from tooling.bench.refine_role import markdown, refined_coverage


def _e(oid: str, revision: int, closed_at: float = 100.0, indexed_at: float = 101.0, kind: str = "live") -> dict:
    return {"object_id": oid, "revision": revision, "closed_at": closed_at, "indexed_at": indexed_at, "kind": kind}


def test_coverage_counts_each_window_once_by_age_and_ignores_products() -> None:
    events = [
        _e("a", 1), _e("b", 1), _e("c", 1), _e("d", 1, kind="video"), _e("p", 1, kind="product"),
        _e("a", 2, indexed_at=105.0), _e("a", 2, indexed_at=150.0),  # a replayed refinement counts once, earliest
        _e("b", 2, indexed_at=145.0),
        _e("d", 2, indexed_at=400.0),
        _e("z", 2, indexed_at=101.0),  # refined, but its revision 1 was not seen in this run: not counted
    ]
    cov = refined_coverage(events, buckets=(10.0, 60.0))
    assert cov == {"windows": 4, "refined": 3, "refined_share": 0.75,
                   "refined_share_by_age": {"<=10s": 0.25, "<=60s": 0.5}}


def test_no_windows_gives_no_share_rather_than_zero() -> None:
    assert refined_coverage([])["refined_share"] is None


def test_the_table_shows_coverage_beside_first_queryable() -> None:
    from streams.settings import Settings

    row = {"configuration": "one worker, role all", "streams": 50, "windows": 4, "windows_per_s": 1.5,
           "queryable_p50_s": 0.5, "queryable_p99_s": 1.9, "refined_p50_s": 40.0, "refined_p99_s": float("nan"),
           "load_avg_1m_end": 3.0, "coverage": refined_coverage([_e("a", 1), _e("a", 2, indexed_at=105.0)])}
    table = markdown([row], 4.0, Settings(summarizer="llamacpp"))
    assert "| one worker, role all | 50 | 4 | 1.50 | 0.50 / 1.90 | 40.00 / - | 1 / 1 (1.00) | 1.00 | 1.00 | 1.00 | 1.00 | 3.0 |" in table
