"""A store that holds vectors of another model is refused at start with a clear reason (real Weaviate)."""

from __future__ import annotations

import uuid

import pytest

from engines.store.weaviate_store import StoredObject, WeaviateStore, connect
from streams.worker.wiring import IndexMismatch, check_index_matches

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_collections_of_another_dimension_are_refused_at_start(weaviate_endpoint) -> None:
    ep = weaviate_endpoint
    store = WeaviateStore(connect(ep.http_url, ep.grpc_port, ep.api_key), prefix=f"W{uuid.uuid4().hex[:8]}")
    store.ensure_collections()
    try:
        check_index_matches(store, 8)  # empty: any model fits
        vec, wide = [1.0] + [0.0] * 4, [1.0] + [0.0] * 11
        store.upsert([StoredObject("product", str(uuid.uuid4()), {"product_id": "p", "title": "t"},
                                   {"fused": vec, "visual": wide, "text": vec})])
        assert store.stored_dims("product")["fused"] == 5
        assert store.stored_dims("product") == {"fused": 5, "visual": 12, "text": 5}
        check_index_matches(store, {"fused": 5, "visual": 12, "text": 5})
        with pytest.raises(IndexMismatch, match="holds 5-d fused vectors but the encoder makes 8-d"):
            check_index_matches(store, 8)
        # same fused width, another visual width (a model keeping the backbone's visual space)
        with pytest.raises(IndexMismatch, match="holds 12-d visual vectors but the encoder makes 1280-d"):
            check_index_matches(store, {"fused": 5, "visual": 1280, "text": 5})
    finally:
        store.drop()
        store.close()
