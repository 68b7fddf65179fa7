"""The loss counters: named, summed over worker processes."""

from __future__ import annotations

import pytest

from streams.ops.counters import NAMES, LossCounters, read_all


def test_counters_refuse_unknown_names_and_sum_over_workers(tmp_path) -> None:
    a, b = LossCounters(), LossCounters()
    a.add("late_keyframes", 2)
    b.add("late_keyframes")
    b.add("offsets_skipped", 4)
    with pytest.raises(KeyError):
        a.add("late_frames")
    a.write(tmp_path / "1.json")
    b.write(tmp_path / "2.json")
    total = read_all(tmp_path)
    assert set(total) == set(NAMES)
    assert total["late_keyframes"] == 3 and total["offsets_skipped"] == 4 and total["idle_closes"] == 0
    assert read_all(tmp_path / "missing") == {}
