"""A real Weaviate server: named vectors, 1,000 batch-inserted objects, self top-1 retrieval, persistence."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import weaviate
from weaviate.classes.config import Configure, DataType, Property, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import MetadataQuery

from tests.conftest import ManagedWeaviate, WeaviateEndpoint

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

OBJECTS = 1_000
SAMPLED = 20
DIMS = {"fused": 64, "visual": 96, "text": 96}


def connect(endpoint: WeaviateEndpoint) -> weaviate.WeaviateClient:
    return weaviate.connect_to_local(
        host=endpoint.host, port=endpoint.http_port, grpc_port=endpoint.grpc_port,
        auth_credentials=Auth.api_key(endpoint.api_key) if endpoint.api_key else None,
    )


def unit_vectors(rng: np.random.Generator, count: int, dims: int) -> np.ndarray:
    vectors = rng.standard_normal((count, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def create_collection(client: weaviate.WeaviateClient) -> str:
    name = f"InfraTest{uuid.uuid4().hex[:10]}"
    client.collections.create(
        name,
        properties=[Property(name="item", data_type=DataType.TEXT)],
        vector_config=[
            Configure.Vectors.self_provided(
                name=vector_name,
                vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
            )
            for vector_name in DIMS
        ],
    )
    return name


def insert_objects(client: weaviate.WeaviateClient, name: str, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Batch-insert OBJECTS objects with three named vectors; returns uuid -> vectors."""
    rng = np.random.default_rng(seed)
    vectors = {vector_name: unit_vectors(rng, OBJECTS, dims) for vector_name, dims in DIMS.items()}
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{i}")) for i in range(OBJECTS)]
    result = client.collections.use(name).data.insert_many([
        DataObject(
            uuid=ids[i],
            properties={"item": f"item-{i}"},
            vector={vector_name: vectors[vector_name][i].tolist() for vector_name in DIMS},
        )
        for i in range(OBJECTS)
    ])
    assert not result.errors, list(result.errors.values())[:3]
    return {ids[i]: {vector_name: vectors[vector_name][i] for vector_name in DIMS} for i in range(OBJECTS)}


def sample_ids(objects: dict[str, dict[str, np.ndarray]], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return list(rng.choice(sorted(objects), size=SAMPLED, replace=False))


def assert_self_top1(
    client: weaviate.WeaviateClient, name: str, objects: dict[str, dict[str, np.ndarray]],
    ids: list[str], target: str,
) -> None:
    collection = client.collections.use(name)
    for object_id in ids:
        response = collection.query.near_vector(
            objects[object_id][target].tolist(), target_vector=target, limit=1,
            return_metadata=MetadataQuery(distance=True),
        )
        assert [str(hit.uuid) for hit in response.objects] == [object_id]
        assert response.objects[0].metadata.distance == pytest.approx(0.0, abs=1e-4)


def count(client: weaviate.WeaviateClient, name: str) -> int:
    return client.collections.use(name).aggregate.over_all(total_count=True).total_count


@pytest.fixture
def client(weaviate_endpoint: WeaviateEndpoint) -> Iterator[weaviate.WeaviateClient]:
    with connect(weaviate_endpoint) as connected:
        yield connected


def test_named_vectors_batch_insert_and_self_top1(client: weaviate.WeaviateClient) -> None:
    name = create_collection(client)
    try:
        objects = insert_objects(client, name, seed=1)
        assert count(client, name) == OBJECTS
        ids = sample_ids(objects, seed=2)
        assert_self_top1(client, name, objects, ids, "fused")
        assert_self_top1(client, name, objects, ids[:5], "visual")
        assert_self_top1(client, name, objects, ids[:5], "text")
    finally:
        client.collections.delete(name)


def test_objects_survive_a_restart(weaviate_restart: ManagedWeaviate) -> None:
    endpoint = weaviate_restart.endpoint
    with connect(endpoint) as before:
        name = create_collection(before)
        objects = insert_objects(before, name, seed=3)
        ids = sample_ids(objects, seed=4)
        assert_self_top1(before, name, objects, ids, "fused")

    seconds = weaviate_restart.restart()
    print(f"weaviate restart ready in {seconds:.1f}s")

    with connect(endpoint) as after:
        try:
            assert count(after, name) == OBJECTS
            collection = after.collections.use(name)
            for object_id in ids:
                stored = collection.query.fetch_object_by_id(object_id, include_vector=True)
                assert stored is not None
                np.testing.assert_allclose(stored.vector["fused"], objects[object_id]["fused"], atol=1e-6)
            assert_self_top1(after, name, objects, ids, "fused")
        finally:
            after.collections.delete(name)
