"""The scaling benchmark's arithmetic: per-core throughput, who owns which partition, the rebalance pause."""

from __future__ import annotations

import math

import pytest

from tooling.bench.scaling import (
    moved,
    owners,
    partition_of,
    per_core,
    resume_pause,
    usual_gap,
    write_results,
)


def test_per_core_divides_by_wall_and_cpu_time() -> None:
    r = per_core(windows=120, wall_s=60.0, cpu_s=90.0)
    assert r["windows_per_s"] == pytest.approx(2.0)
    assert r["busy_cores"] == pytest.approx(1.5)
    assert r["windows_per_busy_core_s"] == pytest.approx(120 / 90)
    assert r["windows_per_busy_core_s"] == pytest.approx(r["windows_per_s"] / r["busy_cores"])
    assert all(math.isnan(v) for v in per_core(0, 0.0, 0.0).values())


def test_partition_of_matches_the_producers_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in ("live-0#a-0-0", "live-1#b-2-7", "x"):
        expected = DefaultPartitioner()(key.encode(), list(range(6)), list(range(6)))
        assert partition_of(key, 6) == expected


def test_owners_and_moved_partitions_from_a_group_description() -> None:
    def member(mid: str, parts: dict[str, list[int]]) -> dict:
        return {"member_id": mid, "member_assignment": {
            "assigned_partitions": [{"topic": t, "partitions": ps} for t, ps in parts.items()]}}

    before = owners({"members": [member("a", {"asr": [0, 1, 2], "kf": [0, 1, 2]}), member("b", {"asr": [3, 4, 5]})]}, "asr")
    after = owners({"members": [member("a", {"asr": [0, 1]}), member("b", {"asr": [3, 4]}),
                                member("c", {"asr": [2, 5]})]}, "asr")
    assert before == {0: "a", 1: "a", 2: "a", 3: "b", 4: "b", 5: "b"}
    assert moved(before, after) == {2, 5}
    assert moved(after, {p: o for p, o in after.items() if o != "c"}) == {2, 5}  # c left: unowned on one side


def test_resume_pause_is_the_first_event_after_the_change_on_a_moved_partition() -> None:
    events = [(10.0, 2), (11.0, 3), (12.0, 2), (15.5, 3), (17.0, 2), (13.0, 5)]
    assert resume_pause(12.5, {2}, events) == pytest.approx(4.5)  # 17.0 on partition 2; 15.5 is partition 3
    assert resume_pause(12.5, {2, 5}, events) == pytest.approx(0.5)  # 13.0 on partition 5 comes first
    assert resume_pause(20.0, {2}, events) is None
    assert usual_gap(16.0, {2}, events) == pytest.approx(2.0)  # 10 -> 12 on partition 2
    assert usual_gap(16.0, {4}, events) is None


def test_results_table_holds_every_row(tmp_path) -> None:
    row = {"workers": 2, "streams": 24, "speed": 2.0, "windows": 96, "queryable_p50_s": 0.5, "queryable_p99_s": 1.5,
           "worker_cpu_s": 40.0, "dead_letters": 0, "load_avg_1m_end": 3.0, **per_core(96, 30.0, 40.0)}
    pause = {"change": "join", "moved_partitions": [2, 5], "window_stage_pause_s": 3.2, "queryable_pause_s": None,
             "usual_gap_s": 1.0}
    write_results({"shape": "3 brokers", "engines": {}, "cores": 2, "rows": [row], "rebalance": [pause]}, tmp_path)
    md = (tmp_path / "scaling.md").read_text()
    assert "| 2 | 24 | 2x | 96 | 3.20 |" in md and "| 2.40 |" in md  # 96/30 windows/s, 96/40 per busy core
    assert "| join | [2, 5] | 3.20 | - | 1.00 |" in md
    assert (tmp_path / "scaling.json").exists()


def test_a_run_that_stopped_early_says_why_beside_its_rows(tmp_path) -> None:
    result = {"shape": "3 brokers", "engines": {}, "cores": 2, "rows": [], "rebalance": [],
              "stopped": "RuntimeError: group never had 2 stable members"}
    write_results(result, tmp_path)
    assert "The run stopped early: RuntimeError: group never had 2 stable members" in (tmp_path / "scaling.md").read_text()
