"""The real Weaviate ranks products by the same rule as `encoders.scoring` (mean cosine over shared branches)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from encoders.scoring import Branches, search_targets, similarity
from engines.store.weaviate_store import StoredObject, WeaviateStore, connect

pytestmark = pytest.mark.integration


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_near_vectors_ranks_like_the_scoring_rule(weaviate_endpoint) -> None:
    rng = np.random.default_rng(5)
    n, dim = 12, 16
    fused, visual, text = (_unit(rng.normal(size=(n, dim))) for _ in range(3))
    store = WeaviateStore(connect(weaviate_endpoint.http_url, weaviate_endpoint.grpc_port, weaviate_endpoint.api_key),
                          prefix=f"T{uuid.uuid4().hex[:8]}")
    try:
        store.ensure_collections()
        store.upsert([StoredObject("product", str(uuid.UUID(int=i + 1)), {"product_id": f"p{i}"},
                                   {"fused": fused[i].tolist(), "visual": visual[i].tolist(), "text": text[i].tolist()})
                      for i in range(n)])
        gallery = Branches(fused, visual, text, np.ones(n, bool), np.ones(n, bool))
        q = {name: _unit(rng.normal(size=dim)) for name in ("fused", "visual", "text")}
        for has_visual, has_text in ((True, True), (True, False), (False, True)):
            query = Branches(q["fused"][None], q["visual"][None] * has_visual, q["text"][None] * has_text,
                             np.array([has_visual]), np.array([has_text]))
            expected = similarity(query, gallery)[0]
            targets = search_targets(has_visual, has_text)
            hits = store.near_vectors("product", {t: q[t].tolist() for t in targets}, limit=5)
            assert [h.properties["product_id"] for h in hits] == [f"p{i}" for i in np.argsort(-expected)[:5]]
            assert [h.score for h in hits] == pytest.approx(sorted(expected, reverse=True)[:5], abs=1e-4)
    finally:
        store.drop()
        store.close()
