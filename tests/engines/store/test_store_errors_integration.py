"""On a real Weaviate: an object the store refuses raises a typed PermanentError naming it, and a
bounded retry gives up on it while an outage would be waited out."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from engines.errors import PermanentError
from engines.store.weaviate_store import StoredObject, StoreError, WeaviateStore, connect
from streams.retry import call_with_retries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _obj(oid: str, dim: int) -> StoredObject:
    vec = [1.0] + [0.0] * (dim - 1)
    return StoredObject("product", oid, {"product_id": oid, "title": "t"}, {"fused": vec, "visual": vec, "text": vec})


def test_a_refused_object_is_permanent_after_bounded_tries(weaviate_endpoint) -> None:
    ep = weaviate_endpoint
    store = WeaviateStore(connect(ep.http_url, ep.grpc_port, ep.api_key), prefix=f"E{uuid.uuid4().hex[:8]}")
    store.ensure_collections()
    try:
        good, bad = str(uuid.uuid4()), str(uuid.uuid4())
        store.upsert([_obj(good, 8)])
        assert store.is_ready()
        with pytest.raises(StoreError) as err:
            store.upsert([_obj(bad, 5)])  # the collection's vectors have 8 dimensions
        assert bad in err.value.failed and isinstance(err.value, PermanentError)
        calls = {"n": 0}

        async def upsert() -> None:
            calls["n"] += 1
            await asyncio.to_thread(store.upsert, [_obj(bad, 5)])

        async def up() -> bool:
            return await asyncio.to_thread(store.is_ready)

        with pytest.raises(PermanentError, match="refused after 3 tries"):
            asyncio.run(call_with_retries("upsert", upsert, service_up=up, permanent_tries=3, base_s=0.01, cap_s=0.05))
        assert calls["n"] == 3
        assert store.count("product") == 1
    finally:
        store.drop()
        store.close()
