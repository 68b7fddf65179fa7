"""The Weaviate store: collections with named vectors (fused / visual / text), idempotent batched upserts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import weaviate
from weaviate.classes.config import ConsistencyLevel, DataType
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, MetadataQuery, Sort, TargetVectors
from weaviate.config import GrpcConfig
from weaviate.exceptions import (
    WeaviateBaseError,
    WeaviateClosedClientError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateInsertManyAllFailedError,
    WeaviateTimeoutError,
)

from engines.errors import PermanentError, TransientError
from engines.store import grpc_retry
from engines.store.migrate import migrate_id_tokenization, staging_name
from engines.store.schema import KIND_COLLECTION, VECTOR_NAMES, create_collection

__all__ = ["KIND_COLLECTION", "VECTOR_NAMES", "Hit", "StoreError", "StoredObject", "WeaviateStore", "connect"]

log = logging.getLogger("ampere.store")

_OUTAGE_TYPES = (WeaviateConnectionError, WeaviateGRPCUnavailableError, WeaviateTimeoutError, WeaviateClosedClientError)
_OUTAGE_TEXT = (
    "StatusCode.UNAVAILABLE", "Connection refused", "failed to connect to all addresses", "Socket closed",
    # a replica the coordinating node was writing to died mid-call (per-object batch errors of a cluster)
    "the client connection is closing", "code = Unavailable",
    # no answer within the call's deadline (the coordinator still waiting on a replica that just died);
    # an upsert by deterministic id is safe to repeat
    "Deadline Exceeded", "StatusCode.DEADLINE_EXCEEDED", "code = DeadlineExceeded",
)


def is_outage(exc: BaseException | str) -> bool:
    """Whether an error says the server could not be reached (not that it refused the request)."""
    if isinstance(exc, _OUTAGE_TYPES):
        return True
    if isinstance(exc, (WeaviateBaseError, str)):  # retry, query and batch errors wrap the gRPC status
        return any(t in str(exc) for t in _OUTAGE_TEXT)
    return False


@contextmanager
def outage_is_transient() -> Iterator[None]:
    """Raise :class:`TransientError` for an unreachable server: while Weaviate restarts its REST
    readiness can answer before its gRPC port does, so the readiness probe alone would blame the item."""
    try:
        yield
    except Exception as exc:
        if is_outage(exc):
            raise TransientError(f"Weaviate unreachable: {type(exc).__name__}: {str(exc)[:300]}") from exc
        raise


class StoreError(PermanentError):
    """An upsert or query the store refused while it was up; ``failed`` maps object ids to the reason."""

    def __init__(self, reason: str, failed: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.failed = failed or {}


@dataclass
class StoredObject:
    """One object to upsert; vectors with a None value (masked branch) are left out."""

    kind: str
    object_id: str
    properties: dict[str, Any]
    vectors: dict[str, list[float] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A search result."""

    object_id: str
    score: float
    properties: dict[str, Any]


def connect(
    url: str, grpc_port: int, api_key: str | None = None, timeout_s: float = 30.0, reconnect_max_ms: int = 2_000
) -> weaviate.WeaviateClient:
    """Connect the v4 client to a Weaviate server given its REST url and gRPC port; a server that went
    away is redialled at least every ``reconnect_max_ms`` and the client's own retries are bounded
    (:mod:`engines.store.grpc_retry`)."""
    grpc_retry.install()
    u = urlparse(url)
    client = weaviate.connect_to_custom(
        http_host=u.hostname or "127.0.0.1",
        http_port=u.port or (443 if u.scheme == "https" else 80),
        http_secure=u.scheme == "https",
        grpc_host=u.hostname or "127.0.0.1",
        grpc_port=grpc_port,
        grpc_secure=u.scheme == "https",
        auth_credentials=Auth.api_key(api_key) if api_key else None,
        additional_config=AdditionalConfig(
            timeout=Timeout(init=timeout_s, query=timeout_s, insert=timeout_s * 2),
            grpc_config=GrpcConfig(channel_options=grpc_retry.reconnect_options(reconnect_max_ms)),
        ),
    )
    return client


class WeaviateStore:
    """LiveMoment / VideoMoment / Product collections; every call is thread-safe."""

    def __init__(
        self, client: weaviate.WeaviateClient, prefix: str = "", *, replication_factor: int = 1,
        consistency: str = "QUORUM",
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.replication_factor = replication_factor  # of collections created here
        self.consistency = ConsistencyLevel(consistency)  # of every write and read here
        self._lock = threading.Lock()

    def name(self, kind: str) -> str:
        """Collection name of a kind (live | video | product)."""
        return f"{self.prefix}{KIND_COLLECTION[kind]}"

    def _collection(self, kind: str) -> Any:
        """A kind's collection, written and read at the store's consistency level."""
        return self.client.collections.get(self.name(kind)).with_consistency_level(self.consistency)

    def ensure_collections(self) -> None:
        """Create the collections if missing (named vectors, cosine HNSW); migrate, once, a collection
        whose id properties are not field-tokenized (see :mod:`engines.store.migrate`)."""
        with self._lock:
            for kind in KIND_COLLECTION:
                name = self.name(kind)
                migrate_id_tokenization(self.client, name, kind)
                if self.client.collections.exists(name):
                    self._warn_old_types(name)
                else:
                    create_collection(self.client, name, kind, replication_factor=self.replication_factor)

    def _warn_old_types(self, name: str) -> None:
        """Collections made before start_ms/end_ms became NUMBER keep INT (types cannot change in place)."""
        props = {p.name: p.data_type for p in self.client.collections.get(name).config.get().properties}
        old = [n for n in ("start_ms", "end_ms") if props.get(n) == DataType.INT]
        if old:
            log.warning("%s stores %s as int: GraphQL returns null for values above 2^31 (epoch ms); "
                        "recreate the collection (or use a new AMPERE_COLLECTION_PREFIX) to store them as number",
                        name, ", ".join(old))

    def upsert(self, objects: Sequence[StoredObject]) -> None:
        """Create or replace objects by their deterministic ids, one batch per collection."""
        by_kind: dict[str, list[DataObject]] = {}
        for o in objects:
            vecs = {k: v for k, v in o.vectors.items() if v is not None}
            by_kind.setdefault(o.kind, []).append(DataObject(properties=o.properties, uuid=o.object_id, vector=vecs))
        with self._lock, outage_is_transient():
            for kind, objs in by_kind.items():
                try:
                    res = self._collection(kind).data.insert_many(objs)
                except WeaviateInsertManyAllFailedError as exc:  # every object refused: name them all
                    if is_outage(exc):
                        raise
                    reason = str(exc)[:1000]
                    raise StoreError(f"{len(objs)} of {len(objs)} {kind} objects refused: {reason}",
                                     {str(o.uuid): reason for o in objs}) from None
                if res.has_errors:
                    failed = {str(objs[i].uuid): e.message for i, e in res.errors.items()}
                    first = next(iter(failed.values()))
                    if all(is_outage(m) for m in failed.values()):
                        raise TransientError(f"Weaviate unreachable: {first[:300]}")
                    raise StoreError(f"{len(failed)} of {len(objs)} {kind} objects refused: {first}", failed)

    def revisions(self, kind: str, object_ids: Sequence[str]) -> dict[str, int]:
        """Stored revision of each of ``object_ids`` that exists (objects without one count as 1)."""
        if not object_ids:
            return {}
        with self._lock, outage_is_transient():
            res = self._collection(kind).query.fetch_objects(
                filters=Filter.by_id().contains_any(list(object_ids)),
                return_properties=["revision"],
                limit=len(object_ids),
            )
        return {str(o.uuid): int(o.properties.get("revision") or 1) for o in res.objects}

    def stored_dims(self, kind: str) -> dict[str, int]:
        """Length of each named vector already in a collection (empty while the collection is)."""
        with self._lock:
            res = self._collection(kind).query.fetch_objects(limit=1, include_vector=True)
        for o in res.objects:
            vectors = o.vector if isinstance(o.vector, dict) else {"fused": o.vector}
            return {name: len(vec) for name, vec in vectors.items() if vec}
        return {}

    def is_ready(self) -> bool:
        """True when the server answers its readiness probe (used to tell an outage from a refusal)."""
        try:
            with self._lock:
                return bool(self.client.is_ready())
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False

    def near_vector(
        self, kind: str, vector: Sequence[float], *, target: str = "fused", limit: int = 10, where: Filter | None = None
    ) -> list[Hit]:
        """Nearest objects of a kind to ``vector`` on one named vector; score = cosine similarity."""
        with self._lock, outage_is_transient():
            res = self._collection(kind).query.near_vector(
                near_vector=list(map(float, vector)),
                target_vector=target,
                limit=limit,
                filters=where,
                return_metadata=MetadataQuery(distance=True),
            )
        return [Hit(str(o.uuid), 1.0 - float(o.metadata.distance), dict(o.properties)) for o in res.objects]

    def near_vectors(
        self, kind: str, vectors: dict[str, Sequence[float]], *, limit: int = 10, where: Filter | None = None
    ) -> list[Hit]:
        """Nearest objects of a kind by the mean cosine similarity over several named vectors
        (``{name: query vector}``; one name is a plain :meth:`near_vector`)."""
        if len(vectors) == 1:
            (target, vector), = vectors.items()
            return self.near_vector(kind, vector, target=target, limit=limit, where=where)
        with self._lock, outage_is_transient():
            res = self._collection(kind).query.near_vector(
                near_vector={k: list(map(float, v)) for k, v in vectors.items()},
                target_vector=TargetVectors.average(list(vectors)),
                limit=limit,
                filters=where,
                return_metadata=MetadataQuery(distance=True),
            )
        return [Hit(str(o.uuid), 1.0 - float(o.metadata.distance), dict(o.properties)) for o in res.objects]

    def fetch(self, kind: str, object_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The properties of each of ``object_ids`` that exists in a kind's collection."""
        if not object_ids:
            return {}
        with self._lock, outage_is_transient():
            res = self._collection(kind).query.fetch_objects(
                filters=Filter.by_id().contains_any(list(object_ids)), limit=len(object_ids)
            )
        return {str(o.uuid): dict(o.properties) for o in res.objects}

    def find(self, kind: str, equal: Mapping[str, Any], limit: int, sort_by: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind whose properties equal ``equal`` (all of them), at most ``limit``, by ``sort_by``
        ascending when given."""
        where = None
        for name, value in equal.items():
            f = Filter.by_property(name).equal(value)
            where = f if where is None else where & f
        with self._lock, outage_is_transient():
            res = self._collection(kind).query.fetch_objects(
                filters=where, limit=limit, sort=Sort.by_property(sort_by, ascending=True) if sort_by else None,
            )
        return [dict(o.properties) | {"_id": str(o.uuid)} for o in res.objects]

    def delete_closed_before(self, kind: str, cutoff: float) -> tuple[int, int]:
        """One pass of deleting the objects of a kind closed before UNIX time ``cutoff`` (at most the
        server's result limit per pass): (deleted, failed)."""
        with self._lock, outage_is_transient():
            res = self._collection(kind).data.delete_many(where=Filter.by_property("closed_at").less_than(cutoff))
        return int(res.successful), int(res.failed)

    def count(self, kind: str) -> int:
        """Number of objects of a kind."""
        with self._lock:
            return int(self._collection(kind).aggregate.over_all(total_count=True).total_count or 0)

    def drop(self) -> None:
        """Delete this store's collections, with a migration's staging copy (tests and `ampere demo --fresh`)."""
        with self._lock:
            for kind in KIND_COLLECTION:
                self.client.collections.delete([self.name(kind), staging_name(self.name(kind))])

    def close(self) -> None:
        self.client.close()
