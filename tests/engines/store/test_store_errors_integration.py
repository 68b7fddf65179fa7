"""On a real Weaviate: an object the store refuses raises a typed PermanentError naming it, and a
bounded retry gives up on it while an outage would be waited out."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from engines.errors import PermanentError
from engines.store.weaviate_store import StoredObject, StoreError, WeaviateStore, connect
from streams.worker.retry import call_with_retries

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


def test_an_unreachable_grpc_port_is_an_outage_even_while_rest_is_ready(weaviate_endpoint) -> None:
    """While Weaviate restarts, its REST readiness can answer before its gRPC port does; an upsert then
    fails with "connection refused". That is an outage (wait), not the object's fault: before this,
    three such failures dead-lettered a window in the "Weaviate stopped 30 s" fault test."""
    import socket
    from urllib.parse import urlparse

    import weaviate

    from engines.errors import TransientError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    u = urlparse(weaviate_endpoint.http_url)
    client = weaviate.connect_to_custom(http_host=u.hostname, http_port=u.port, http_secure=False,
                                        grpc_host="127.0.0.1", grpc_port=closed, grpc_secure=False,
                                        skip_init_checks=True)
    store = WeaviateStore(client, prefix=f"U{uuid.uuid4().hex[:8]}")
    try:
        assert store.is_ready()  # REST answers: the readiness probe alone would blame the object
        with pytest.raises(TransientError, match="unreachable"):
            store.upsert([_obj(str(uuid.uuid4()), 8)])  # queries take ~60 s of client retries: see the unit test
    finally:
        store.close()


def test_outage_errors_are_told_from_refusals() -> None:
    from weaviate.exceptions import WeaviateQueryError

    from engines.store.weaviate_store import is_outage

    down = "failed after 5 retries. Details: status = StatusCode.UNAVAILABLE, connect: Connection refused (111)"
    assert is_outage(WeaviateQueryError(down, "GRPC search"))
    assert is_outage("failed to connect to all addresses")
    # a replica killed while the coordinating node wrote to it (seen in the 3-node quorum test)
    assert is_outage("failed to execute query: rpc error: code = Canceled desc = grpc: the client connection is closing")
    # a batch whose coordinator waited out its deadline on a replica SIGKILLed mid-call (seen once in CI)
    from weaviate.exceptions import WeaviateBatchError

    assert is_outage(WeaviateBatchError("Query call with protocol GRPC batch failed with message Deadline Exceeded."))
    assert not is_outage(WeaviateQueryError("vector lengths don't match: 5 vs 8", "GRPC search"))
    assert not is_outage(ValueError("Connection refused"))  # only the client's own errors are classified
