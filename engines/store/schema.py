"""Collection definitions: properties, named vectors, and the id properties that must match exactly."""

from __future__ import annotations

from collections.abc import Sequence

import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances

VECTOR_NAMES = ("fused", "visual", "text")

KIND_COLLECTION = {"live": "LiveMoment", "video": "VideoMoment", "product": "Product", "segment": "ProductSegment"}

#: Text properties that hold identifiers: field tokenization keeps each value one token, so a filter
#: ``stream_id == "victim-A"`` matches that id only (word tokenization splits it into "victim" and the
#: stopword "a", and then matches "victim-B" too).
ID_PROPERTIES = ("stream_id", "window_id", "product_id", "model_version", "segment_id", "seller_id")


def _id(name: str) -> Property:
    return Property(name=name, data_type=DataType.TEXT, tokenization=Tokenization.FIELD)


_MOMENT_PROPS = [
    _id("stream_id"),
    _id("seller_id"),
    _id("window_id"),
    # NUMBER (float64, exact to 2^53), not INT: GraphQL's Int is 32-bit, so Weaviate's GraphQL answers
    # null for epoch milliseconds stored as INT
    Property(name="start_ms", data_type=DataType.NUMBER),
    Property(name="end_ms", data_type=DataType.NUMBER),
    Property(name="sentence", data_type=DataType.TEXT),
    Property(name="product_name", data_type=DataType.TEXT),
    Property(name="summary_json", data_type=DataType.TEXT, skip_vectorization=True),
    Property(name="summary_source", data_type=DataType.TEXT),
    _id("model_version"),
    Property(name="closed_at", data_type=DataType.NUMBER),
    Property(name="revision", data_type=DataType.INT),
]
_PRODUCT_PROPS = [
    _id("product_id"),
    _id("seller_id"),
    Property(name="title", data_type=DataType.TEXT),
    Property(name="category", data_type=DataType.TEXT),
    Property(name="brand", data_type=DataType.TEXT),
    Property(name="attribute_values", data_type=DataType.TEXT_ARRAY),
    _id("model_version"),
]

#: A product segment (streams/worker/segments.py): searched by filters only, its vectors left empty.
_SEGMENT_PROPS = [
    _id("segment_id"),
    _id("stream_id"),
    _id("seller_id"),
    _id("product_id"),
    Property(name="segment_start_ms", data_type=DataType.NUMBER),
    Property(name="start_ms", data_type=DataType.NUMBER),
    Property(name="end_ms", data_type=DataType.NUMBER),
    Property(name="title", data_type=DataType.TEXT),
    Property(name="score", data_type=DataType.NUMBER),
    Property(name="claimed", data_type=DataType.BOOL),
    Property(name="reason", data_type=DataType.TEXT, skip_vectorization=True),
    Property(name="basis", data_type=DataType.TEXT),
    Property(name="windows", data_type=DataType.INT),
    Property(name="product_hint", data_type=DataType.TEXT),
    Property(name="evidence_json", data_type=DataType.TEXT, skip_vectorization=True, index_searchable=False,
             index_filterable=False),
    Property(name="closed_at", data_type=DataType.NUMBER),
    Property(name="updated_at", data_type=DataType.NUMBER),
    Property(name="revision", data_type=DataType.INT),
]


def properties(kind: str) -> list[Property]:
    """The properties of a kind's collection (live | video | product | segment)."""
    if kind not in KIND_COLLECTION:
        raise ValueError(f"unknown kind {kind!r}")
    return list({"product": _PRODUCT_PROPS, "segment": _SEGMENT_PROPS}.get(kind, _MOMENT_PROPS))


def id_properties(kind: str) -> list[str]:
    """Names of the id properties of a kind's collection."""
    return [p.name for p in properties(kind) if p.name in ID_PROPERTIES]


def create_collection(
    client: weaviate.WeaviateClient, name: str, kind: str, extra: Sequence[Property] = (), replication_factor: int = 1
) -> None:
    """Create ``name`` with the kind's properties (plus ``extra``) and the named vectors (cosine HNSW),
    each shard kept on ``replication_factor`` nodes."""
    client.collections.create(
        name,
        properties=[*properties(kind), *extra],
        replication_config=Configure.replication(factor=replication_factor),
        vector_config=[
            Configure.Vectors.self_provided(
                name=v, vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
            )
            for v in VECTOR_NAMES
        ],
    )


def unfit_id_properties(client: weaviate.WeaviateClient, collection: str, kind: str) -> list[str]:
    """Id properties of an existing collection that are not field-tokenized (missing ones included:
    auto-schema would add them with word tokenization)."""
    have = {p.name: p.tokenization for p in client.collections.get(collection).config.get().properties}
    return [n for n in id_properties(kind) if have.get(n) != Tokenization.FIELD]
