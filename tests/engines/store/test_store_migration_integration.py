"""On a real Weaviate: id properties are field-tokenized, so an equality filter on one stream id returns
that stream only; a collection made with word-tokenized ids (the old schema) is migrated once on start,
keeping every object's uuid, properties and named vectors."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import pytest
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter

from engines.store.schema import create_collection
from engines.store.weaviate_store import StoredObject, WeaviateStore, connect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# the LiveMoment properties as the store defined them before: text properties with the default (word) tokenization
OLD_MOMENT_PROPS = [
    Property(name="stream_id", data_type=DataType.TEXT),
    Property(name="window_id", data_type=DataType.TEXT),
    Property(name="start_ms", data_type=DataType.NUMBER),
    Property(name="end_ms", data_type=DataType.NUMBER),
    Property(name="sentence", data_type=DataType.TEXT),
    Property(name="product_name", data_type=DataType.TEXT),
    Property(name="summary_json", data_type=DataType.TEXT, skip_vectorization=True),
    Property(name="summary_source", data_type=DataType.TEXT),
    Property(name="model_version", data_type=DataType.TEXT),
    Property(name="closed_at", data_type=DataType.NUMBER),
    Property(name="revision", data_type=DataType.INT),
]
STREAMS = {"victim-A": 3, "victim-B": 2, "victim-C": 2}


def _unit(seed: int, dim: int) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return [float(x) for x in v / np.linalg.norm(v)]


def _moments() -> list[StoredObject]:
    out = []
    for s, n in STREAMS.items():
        for i in range(n):
            seed = len(out)
            out.append(StoredObject(
                "live", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{s}/{i}")),
                {"stream_id": s, "window_id": f"{s}@{i * 30_000}", "start_ms": 1_764_500_000_000 + i * 30_000,
                 "end_ms": 1_764_500_030_000 + i * 30_000, "sentence": f"window {i} of {s}", "model_version": "m1",
                 "revision": 1 + i % 2},
                {"fused": _unit(seed, 8), "visual": _unit(seed + 100, 12), "text": None if i == 0 else _unit(seed + 200, 8)},
            ))
    return out


def _create_old(store: WeaviateStore) -> None:
    store.client.collections.create(
        store.name("live"),
        properties=OLD_MOMENT_PROPS,
        vector_config=[
            Configure.Vectors.self_provided(
                name=v, vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
            )
            for v in ("fused", "visual", "text")
        ],
    )


def _ids_of_stream(store: WeaviateStore, stream: str) -> set[str]:
    res = store.client.collections.get(store.name("live")).query.fetch_objects(
        filters=Filter.by_property("stream_id").equal(stream), limit=100
    )
    return {str(o.uuid) for o in res.objects}


def _graphql_stream(url: str, name: str, stream: str) -> list[str]:
    """The documented GraphQL query: a stream's windows in time order."""
    query = (f'{{ Get {{ {name}(where: {{path: ["stream_id"], operator: Equal, valueText: "{stream}"}}, '
             f'sort: [{{path: ["start_ms"], order: asc}}]) {{ stream_id start_ms }} }} }}')
    body = httpx.post(f"{url}/v1/graphql", json={"query": query}, timeout=30).json()
    assert "errors" not in body, body
    return [o["stream_id"] for o in body["data"]["Get"][name]]


@pytest.fixture
def store(weaviate_endpoint):
    ep = weaviate_endpoint
    s = WeaviateStore(connect(ep.http_url, ep.grpc_port, ep.api_key), prefix=f"M{uuid.uuid4().hex[:8]}")
    try:
        yield s
    finally:
        s.drop()
        s.close()


def test_a_new_collection_filters_one_stream_exactly(store, weaviate_endpoint) -> None:
    store.ensure_collections()
    moments = _moments()
    store.upsert(moments)
    want = {o.object_id for o in moments if o.properties["stream_id"] == "victim-A"}
    assert _ids_of_stream(store, "victim-A") == want
    assert _graphql_stream(weaviate_endpoint.http_url, store.name("live"), "victim-A") == ["victim-A"] * 3
    props = {p.name: p.tokenization for p in store.client.collections.get(store.name("product")).config.get().properties}
    assert props["product_id"] == Tokenization.FIELD


def test_an_old_collection_is_migrated_once_and_then_filters_one_stream(store, weaviate_endpoint, caplog) -> None:
    _create_old(store)
    moments = _moments()
    store.upsert(moments)
    want = {o.object_id for o in moments if o.properties["stream_id"] == "victim-A"}
    assert _ids_of_stream(store, "victim-A") == {o.object_id for o in moments}  # the leak: "a" is a stopword

    with caplog.at_level("WARNING", logger="ampere.store"):
        store.ensure_collections()
    assert any("migrated" in r.getMessage() and "7 objects" in r.getMessage() for r in caplog.records)
    assert not store.client.collections.exists(f"{store.name('live')}_Staging")

    assert _ids_of_stream(store, "victim-A") == want
    assert _graphql_stream(weaviate_endpoint.http_url, store.name("live"), "victim-A") == ["victim-A"] * 3
    assert store.count("live") == len(moments)
    live = store.client.collections.get(store.name("live"))
    for m in moments:
        got = live.query.fetch_object_by_id(m.object_id, include_vector=True)
        assert got is not None and {k: got.properties[k] for k in m.properties} == m.properties
        assert set(got.vector) == {k for k, v in m.vectors.items() if v is not None}
        for k, v in got.vector.items():
            assert np.allclose(v, m.vectors[k], atol=1e-6)
    assert store.revisions("live", [moments[1].object_id]) == {moments[1].object_id: 2}

    # the store works through the migrated name, and a second start changes nothing
    collections = set(store.client.collections.list_all(simple=True))
    store.ensure_collections()
    assert set(store.client.collections.list_all(simple=True)) == collections
    extra = StoredObject("live", str(uuid.uuid4()), {"stream_id": "victim-A", "window_id": "w"},
                         {"fused": _unit(9, 8), "visual": _unit(10, 12), "text": _unit(11, 8)})
    store.upsert([extra])
    assert _ids_of_stream(store, "victim-A") == want | {extra.object_id}
    assert store.near_vector("live", _unit(9, 8), limit=1)[0].object_id == extra.object_id
    assert store.stored_dims("live") in ({"fused": 8, "visual": 12}, {"fused": 8, "visual": 12, "text": 8})


def _stage_only(store: WeaviateStore, moments: list[StoredObject]) -> None:
    """What a migration stopped after deleting the old collection leaves: the staging copy alone."""
    staging = f"{store.name('live')}_Staging"
    create_collection(store.client, staging, "live")
    store.client.collections.get(staging).data.insert_many([
        DataObject(properties=m.properties, uuid=m.object_id, vector={k: v for k, v in m.vectors.items() if v})
        for m in moments
    ])


def test_a_migration_stopped_after_deleting_the_old_collection_is_finished_on_the_next_start(store) -> None:
    moments = _moments()
    _stage_only(store, moments)
    store.ensure_collections()
    assert store.count("live") == len(moments)
    assert len(_ids_of_stream(store, "victim-A")) == 3
    assert not store.client.collections.exists(f"{store.name('live')}_Staging")


def test_finishing_a_migration_keeps_what_a_worker_wrote_meanwhile(store) -> None:
    """The copy back adds only the objects the new collection lacks: a newer revision is not replaced."""
    moments = _moments()
    _stage_only(store, moments)
    create_collection(store.client, store.name("live"), "live")
    newer = moments[0]
    store.upsert([StoredObject("live", newer.object_id, {**newer.properties, "revision": 2, "sentence": "refined"},
                               newer.vectors)])
    store.ensure_collections()
    assert store.count("live") == len(moments)
    got = store.client.collections.get(store.name("live")).query.fetch_object_by_id(newer.object_id)
    assert (got.properties["revision"], got.properties["sentence"]) == (2, "refined")


def test_drop_removes_the_staging_copy(store) -> None:
    _stage_only(store, _moments()[:2])
    store.ensure_collections()
    _stage_only(store, _moments()[:2])
    store.drop()
    assert not [c for c in store.client.collections.list_all(simple=True) if c.startswith(store.prefix)]
