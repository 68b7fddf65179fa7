"""The metric wrappers around the engines record what they wrap and change nothing else."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engines.encode.base import Embeddings, EncodeItem
from engines.store.weaviate_store import StoredObject
from streams.ops import metrics
from streams.worker.instrumented import InstrumentedEncoder, InstrumentedStore


def _value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


class _Store:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.seen = fail, []

    def upsert(self, objects) -> None:
        if self.fail:
            raise RuntimeError("store down")
        self.seen.extend(objects)

    def count(self, kind: str) -> int:
        return len(self.seen)


class _Encoder:
    model_version, dim = "v-test", 2

    def encode(self, items):
        n = len(items)
        z = np.zeros((n, 2), np.float32)
        return Embeddings(z, z, z, np.ones(n, bool), np.ones(n, bool), self.model_version)


def test_store_upsert_records_latency_and_close_to_queryable_only_on_success() -> None:
    store = InstrumentedStore(_Store())
    n0 = _value("ampere_store_upsert_seconds_count")
    q0 = _value("ampere_window_close_to_queryable_seconds_count", kind="video", revision="1")
    objs = [
        StoredObject("video", "a", {"closed_at": time.time() - 2.0}),
        StoredObject("product", "b", {"product_id": "p"}),
    ]
    store.upsert(objs)
    assert store.count("x") == 2  # other calls reach the wrapped store
    assert _value("ampere_store_upsert_seconds_count") == n0 + 1
    assert _value("ampere_window_close_to_queryable_seconds_count", kind="video", revision="1") == q0 + 1
    with pytest.raises(RuntimeError):
        InstrumentedStore(_Store(fail=True)).upsert(objs)
    assert _value("ampere_store_upsert_seconds_count") == n0 + 1


def test_encoder_batches_are_timed_by_domain() -> None:
    enc = InstrumentedEncoder(_Encoder())
    c0 = _value("ampere_encode_batch_seconds_count", kind="product")
    m0 = _value("ampere_encode_batch_seconds_count", kind="mixed")
    out = enc.encode([EncodeItem("product", text="a"), EncodeItem("product", text="b")])
    assert len(out) == 2 and enc.model_version == "v-test"
    enc.encode([EncodeItem("product", text="a"), EncodeItem("live", text="b")])
    assert _value("ampere_encode_batch_seconds_count", kind="product") == c0 + 1
    assert _value("ampere_encode_batch_seconds_count", kind="mixed") == m0 + 1
