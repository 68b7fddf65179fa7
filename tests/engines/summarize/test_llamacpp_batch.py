"""Batched llama.cpp decoding: the packing logic (pure) and, with the real GGUF, batched = one-at-a-time."""

from __future__ import annotations

import pytest

from engines.summarize.llamacpp_batch import common_prefix, plan_batch, slot_timeout
from engines.summarize.schema import SummaryRequest


def test_common_prefix_of_token_lists():
    assert common_prefix([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert common_prefix([[1, 2, 3]]) == 3
    assert common_prefix([[1, 2], []]) == 0
    assert common_prefix([[7], [8]]) == 0
    assert common_prefix([]) == 0


def test_plan_batch_fills_capacity_in_priority_order():
    # two decoding slots (1 token each) come first, then two prefills that must share what is left
    assert plan_batch([(1, 1), (2, 1), (3, 300), (4, 300)], 512) == [(1, 1), (2, 1), (3, 300), (4, 210)]
    assert plan_batch([(1, 600)], 512) == [(1, 512)]
    assert plan_batch([(1, 0), (2, 3)], 2) == [(2, 2)]
    assert sum(t for _, t in plan_batch([(i, 100) for i in range(20)], 512)) == 512


def test_a_window_sharing_the_steps_gets_a_proportional_deadline():
    assert slot_timeout(30.0, 1) == 30.0 and slot_timeout(30.0, 8) == 240.0
    assert slot_timeout(30.0, 0) == 30.0 and slot_timeout(0.0, 8) == 0.0


WINDOWS = [
    SummaryRequest("a", "okay next up the Nimbus travel mug, stainless steel, 450 ml, keeps coffee hot six hours, "
                        "black or sage, nineteen ninety nine today", "en"),
    SummaryRequest("b", "this is the Orla linen shirt, relaxed fit, white and sand, sizes small to XL, 39 dollars", "en"),
    SummaryRequest("c", "so the Kestrel LED desk lamp, three brightness levels, USB-C charging, 25 dollars", "en"),
    SummaryRequest("d", "and here the Tova wool beanie, merino wool, grey or navy, one size, 15 dollars", "en"),
    SummaryRequest("e", "好 我们看下一个 这个是电动牙刷 声波的 有粉色和白色 一百二十九元", "zh"),
]


@pytest.mark.slow
def test_batched_decoding_refills_slots_and_gives_valid_lean_summaries(gguf_path):
    from engines.summarize import build_summarizer

    engine = build_summarizer("llamacpp", model_path=gguf_path, prompt_version="v1-lean", parallel=2,
                              timeout_s=300.0)
    out = engine.summarize(WINDOWS)  # 5 windows through 2 slots: finished slots take the next window
    assert [s.source for s in out] == ["llamacpp"] * 5, [s.fallback_reason for s in out]
    assert all(s.prompt_version == "v1-lean" and s.has_product and s.sentence for s in out)
    assert "mug" in (out[0].product_name or "").lower() and "shirt" in (out[1].product_name or "").lower()
    assert out[4].language == "zh" and engine.generated_tokens > 5 * 20
    assert engine.decoder.forced_tokens >= 5 * 10  # jump-forward fed the ten JSON keys of every answer


@pytest.mark.slow
def test_batched_decoding_deadline_falls_back_per_window(gguf_path):
    from engines.summarize import build_summarizer

    engine = build_summarizer("llamacpp", model_path=gguf_path, prompt_version="v1-lean", parallel=2,
                              timeout_s=0.0)
    out = engine.summarize(WINDOWS[:3])
    assert [s.fallback_reason for s in out] == ["timeout"] * 3 and all(s.source == "extractive" for s in out)


def test_prompt_lookup_needs_the_one_at_a_time_loop():
    from engines.summarize.llamacpp_engine import LlamaCppSummarizer

    with pytest.raises(ValueError, match="prompt_lookup works only with parallel=0"):
        LlamaCppSummarizer("missing.gguf", parallel=4, prompt_lookup=3)
    with pytest.raises(ValueError, match=">= 0"):
        LlamaCppSummarizer("missing.gguf", parallel=-1)
