"""The side-by-side summarizer comparison: window picking, turn order, ratios, and a run over fake engines."""

from __future__ import annotations

import pytest

from engines.summarize.extractive import ExtractiveSummarizer
from engines.summarize.quality import Truth
from engines.summarize.schema import SummaryRequest
from tooling.bench.summarizer_compare import (
    Variant,
    compare_variants,
    markdown,
    pick_windows,
    ratio_summary,
    rotation,
    windows_per_cpu_s,
)


def test_pick_windows_spreads_over_the_list():
    assert pick_windows(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert pick_windows(list(range(3)), 5) == [0, 1, 2]


def test_rotation_gives_every_variant_each_position_once():
    orders = [rotation(3, r) for r in range(3)]
    assert orders == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    for position in range(3):
        assert sorted(o[position] for o in orders) == [0, 1, 2]


def test_windows_per_cpu_second_takes_the_load_out():
    rows = [{"windows": 4, "seconds": 10.0, "cpu_share": 0.5}, {"windows": 4, "seconds": 4.0, "cpu_share": 1.0}]
    assert windows_per_cpu_s(rows) == 0.8889  # 8 windows in 5 + 4 CPU seconds
    assert windows_per_cpu_s([]) is None


def test_ratio_is_the_median_of_same_round_ratios():
    rows = [
        {"variant": "base", "round": 0, "windows_per_s": 0.1}, {"variant": "fast", "round": 0, "windows_per_s": 0.3},
        {"variant": "base", "round": 1, "windows_per_s": 0.2}, {"variant": "fast", "round": 1, "windows_per_s": 0.5},
        {"variant": "base", "round": 2, "windows_per_s": 0.05}, {"variant": "fast", "round": 2, "windows_per_s": 0.2},
    ]
    ratios = ratio_summary(rows, "base")
    assert ratios == {"base": 1.0, "fast": 3.0}  # median of 3.0, 2.5, 4.0: load swings cancel within a round


class _Counting(ExtractiveSummarizer):
    """A real (extractive) engine that records which windows it saw and counts fake generated tokens."""

    def __init__(self, tokens_per_window: int) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.generated_tokens = 0
        self.per_window = tokens_per_window

    def summarize(self, batch):
        self.seen += [r.window_id for r in batch]
        self.generated_tokens += self.per_window * len(batch)
        return super().summarize(batch)


def test_every_variant_sees_the_same_windows_and_is_scored():
    built: list[_Counting] = []

    def build(options):
        built.append(_Counting(options["tokens"]))
        return built[-1]

    windows = [SummaryRequest(f"w{i}", f"this red cotton dress number {i} is 20 dollars", "en") for i in range(6)]
    truths = [Truth("red cotton dress", attributes={"color": "red"})] * 6
    variants = [Variant("base", {"tokens": 100}), Variant("lean", {"tokens": 60})]
    result = compare_variants(build, windows, truths, variants=variants, rounds=3, log=lambda m: None)
    assert [b.seen for b in built] == [[f"w{i}" for i in range(6)]] * 2
    assert len(result["rows"]) == 6 and result["windows_per_round"] == 2
    by_name = {v["variant"]: v for v in result["variants"]}
    assert by_name["base"]["ratio_to_baseline"] == 1.0
    assert by_name["lean"]["tokens_per_window"] == 60.0 and by_name["base"]["tokens_per_window"] == 100.0
    assert by_name["lean"]["name_recall"] is not None and by_name["lean"]["attr_recall"] is not None
    table = markdown(result)
    assert "| base |" in table and "| lean |" in table and "3 rounds × 2 windows" in table


def test_mismatched_truths_are_refused():
    with pytest.raises(ValueError, match="truths"):
        compare_variants(lambda o: None, [SummaryRequest("w", "x")], [], variants=[Variant("a")], rounds=1)
