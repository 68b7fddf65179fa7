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


def test_search_products_ranks_like_eval_with_spoken_attribute_values(weaviate_endpoint) -> None:
    """The tag agent's search (Weaviate + re-rank by the values said) equals the eval's scores:
    ``with_attributes(similarity(...))`` over the same products."""
    from encoders.attributes import said_matrix, terms
    from encoders.scoring import with_attributes
    from streams.schemas import EmbeddingRecord
    from streams.worker import stages

    rng = np.random.default_rng(7)
    n, dim = 30, 16
    base = _unit(rng.normal(size=(n // 3, dim)))
    # near-duplicates: three variants of each item with almost the same vectors, told apart by a value
    fused = visual = text = _unit(np.repeat(base, 3, axis=0) + 0.01 * rng.normal(size=(n, dim)))
    values = [[f"{(i % 3 + 1) * 120}GB", "black"] for i in range(n)]
    store = WeaviateStore(connect(weaviate_endpoint.http_url, weaviate_endpoint.grpc_port, weaviate_endpoint.api_key),
                          prefix=f"T{uuid.uuid4().hex[:8]}")
    try:
        store.ensure_collections()
        store.upsert([StoredObject("product", str(uuid.UUID(int=i + 1)),
                                   {"product_id": f"p{i}", "attribute_values": values[i]},
                                   {"fused": fused[i].tolist(), "visual": visual[i].tolist(), "text": text[i].tolist()})
                      for i in range(n)])
        gallery = Branches(fused, visual, text, np.ones(n, bool), np.ones(n, bool))
        for target in range(0, n, 4):
            q = _unit(base[target // 3] + 0.05 * rng.normal(size=dim))
            speech = "this black one with two hundred forty gig" if target % 3 == 1 else "the black one"
            rec = EmbeddingRecord(object_id="m", kind="live", model_version="m", vector=q.tolist(), indexed_at=0.0,
                                  branches={"visual": q.tolist(), "text": q.tolist()},
                                  spoken_terms=stages.spoken_terms(speech))
            query = Branches(q[None], q[None], q[None], np.array([True]), np.array([True]))
            said = np.asarray(said_matrix([set(terms(speech))], values), dtype=float)
            expected = with_attributes(similarity(query, gallery), said)[0]
            hits = stages.search_products(store, rec, limit=5)
            assert [h.properties["product_id"] for h in hits] == [f"p{i}" for i in np.argsort(-expected)[:5]]
            assert [h.score for h in hits] == pytest.approx(sorted(expected, reverse=True)[:5], abs=1e-4)
            if target % 3 == 1:
                assert hits[0].properties["product_id"] == f"p{target}"  # the 240 GB variant, said aloud
    finally:
        store.drop()
        store.close()
