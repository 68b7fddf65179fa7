"""The cost table of `ampere bench profile`: collapsed stacks → categories (pure logic, no py-spy)."""

from __future__ import annotations

import pytest

from tooling.bench.profile import OTHER, Stack, breakdown, categorize, is_idle, parse_collapsed

MAIN = "thread (100): MainThread"
POOL = "thread (101): asyncio_0"
LINES = [
    f"{MAIN};<module> (streams/__main__.py:5);run (asyncio/base_events.py:640);select (selectors.py:468) 30",
    (f"{MAIN};<module> (streams/__main__.py:5);index_and_publish (streams/worker/agents/index.py:70);"
    "upsert (engines/store/weaviate_store.py:150);dumps (json/__init__.py:231);encode (json/encoder.py:200) 10"),
    f"{POOL};_worker (concurrent/futures/thread.py:83);moment_item (streams/worker/stages.py:190);b64decode (base64.py:88) 6",
    (f"{POOL};_worker (concurrent/futures/thread.py:83);moment_item (streams/worker/stages.py:190);"
    "decode_image (streams/keyframes.py:100);load (PIL/ImageFile.py:300) 4"),
    f"{POOL};_worker (concurrent/futures/thread.py:80);get (queue.py:171);wait (threading.py:320) 50",
    f"{MAIN};<module> (streams/__main__.py:5);something (streams/other.py:1) 5",
    "",
    "garbage-without-count",
]


def test_parse_collapsed_splits_thread_label_and_count():
    stacks = parse_collapsed(LINES)
    assert len(stacks) == 6
    assert stacks[0].thread == MAIN and stacks[0].count == 30 and stacks[0].frames[-1].startswith("select (")


@pytest.mark.parametrize(
    ("frames", "want"),
    [
        (("upsert (engines/store/weaviate_store.py:150)", "encode (json/encoder.py:200)"), "Weaviate upsert"),
        (("moment_item (streams/worker/stages.py:190)", "b64decode (base64.py:88)"), "base64"),
        (("_apply (streams/worker/window_stage.py:1)", "decode_image (streams/keyframes.py:100)"), "image decode"),
        (("embed_batch (streams/worker/agents/index.py:1)", "image_tokens (engines/encode/runner.py:1)",
          "run (onnxruntime/capi/session.py:1)"), "ONNX image encode"),
        (("parse_record (streams/schemas.py:1)", "loads (json/__init__.py:1)", "decode (json/decoder.py:1)"),
         "JSON parse"),
        (("_send (aiokafka/producer/producer.py:1)",), "Kafka produce/consume"),
        (("WindowStage._apply (streams/worker/window_stage.py:1)", "make_candidate (streams/keyframes.py:1)"),
         "keyframe choice"),
        (("index_and_publish (streams/worker/agents/index.py:1)", "InstrumentedStore.upsert (streams/worker/instrumented.py:1)",
          "WeaviateStore.upsert (engines/store/weaviate_store.py:150)"), "Weaviate upsert"),
        (("f (x.py:1)",), OTHER),
    ],
)
def test_categorize_takes_the_first_category_any_frame_matches(frames, want):
    assert categorize(Stack("t", frames, 1)) == want


def test_breakdown_counts_loop_waiting_and_drops_idle_pool_threads():
    res = breakdown(parse_collapsed(LINES), rate_hz=10, windows=5)
    by = {r["category"]: r for r in res["rows"]}
    assert res["waiting_samples"] == 30 and res["idle_other_samples"] == 50
    assert res["cpu_samples"] == 10 + 6 + 4 + 5
    assert by["Weaviate upsert"]["cpu_s"] == pytest.approx(1.0)
    assert by["Weaviate upsert"]["ms_per_window"] == pytest.approx(200.0)
    assert by["base64"]["share"] == pytest.approx(6 / 25)
    assert next(r["category"] for r in res["rows"]) == "Weaviate upsert"  # largest first
    assert is_idle(Stack(POOL, ("get (queue.py:171)", "wait (threading.py:320)"), 1))
    assert is_idle(Stack(MAIN, ("BaseEventLoop._run_once (asyncio/base_events.py:1)", "EpollSelector.select (selectors.py:468)"), 1))
