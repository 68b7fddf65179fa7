"""The store's lifecycle on a real Weaviate: old moments expire (products never), and a backup survives
a wipe: index, back up, drop, restore, and the same search returns the same ids."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from engines.store.lifecycle import BackupFailed, create_backup, expire_moments, restore_backup
from engines.store.weaviate_store import StoredObject, WeaviateStore, connect

pytestmark = pytest.mark.integration

DIM = 16


def _store(endpoint) -> WeaviateStore:
    store = WeaviateStore(connect(endpoint.http_url, endpoint.grpc_port, endpoint.api_key), prefix=f"T{uuid.uuid4().hex[:8]}")
    store.ensure_collections()
    return store


def _vectors(rng: np.random.Generator) -> dict[str, list[float]]:
    return {name: (v / np.linalg.norm(v)).tolist() for name, v in
            ((n, rng.normal(size=DIM)) for n in ("fused", "visual", "text"))}


def _moment(i: int, closed_at: float, rng: np.random.Generator, kind: str = "live") -> StoredObject:
    return StoredObject(kind, str(uuid.UUID(int=i + 1)), {"stream_id": f"s{i % 3}", "window_id": f"w{i}",
                                                          "closed_at": closed_at, "revision": 1}, _vectors(rng))


def _product(i: int, rng: np.random.Generator) -> StoredObject:
    return StoredObject("product", str(uuid.UUID(int=10_000 + i)), {"product_id": f"p{i}"}, _vectors(rng))


def test_moments_older_than_the_max_age_expire_and_products_stay(weaviate_endpoint) -> None:
    rng = np.random.default_rng(3)
    now = time.time()
    store = _store(weaviate_endpoint)
    try:
        old = [_moment(i, now - 3 * 86_400 - i, rng) for i in range(40)]
        fresh = [_moment(100 + i, now - 3_600 - i, rng) for i in range(25)]
        store.upsert([*old, *fresh, *[_moment(200 + i, now - 4 * 86_400, rng, "video") for i in range(5)],
                      *[_product(i, rng) for i in range(7)]])
        live = expire_moments(store, "live", 86_400, now=now)
        assert (live.deleted, live.failed) == (40, 0)
        assert store.count("live") == 25
        assert store.revisions("live", [o.object_id for o in fresh]).keys() == {o.object_id for o in fresh}
        assert expire_moments(store, "video", 86_400, now=now).deleted == 5 and store.count("video") == 0
        assert expire_moments(store, "live", 86_400, now=now).deleted == 0  # nothing left to expire
        assert store.count("product") == 7
        with pytest.raises(ValueError, match="only moments expire"):
            expire_moments(store, "product", 86_400)
    finally:
        store.drop()
        store.close()


def test_a_backup_restores_the_same_search_after_a_wipe(weaviate_endpoint) -> None:
    rng = np.random.default_rng(11)
    store = _store(weaviate_endpoint)
    backup_id = f"t-{uuid.uuid4().hex[:10]}"
    try:
        store.upsert([*[_product(i, rng) for i in range(30)], *[_moment(i, time.time(), rng) for i in range(20)]])
        segment = StoredObject("segment", str(uuid.uuid4()), {"segment_id": "g", "stream_id": "s", "claimed": True,
                                                                "revision": 2, "closed_at": time.time()})
        store.upsert([segment])
        queries = [_vectors(rng) for _ in range(5)]

        def answers() -> list[list[str]]:
            return [[h.object_id for h in store.near_vectors(kind, q, limit=5)] for q in queries
                    for kind in ("product", "live")]

        before = answers()
        assert sorted(create_backup(store, backup_id)) == sorted(store.name(k) for k in ("live", "video", "product", "segment"))
        with pytest.raises(BackupFailed, match="exist"):  # restoring over live collections is refused
            restore_backup(store, backup_id)
        store.drop()
        assert not store.client.collections.exists(store.name("product"))
        restored = restore_backup(store, backup_id)
        assert store.name("product") in restored
        assert (store.count("product"), store.count("live"), store.count("segment")) == (30, 20, 1)
        assert store.fetch("segment", [segment.object_id])[segment.object_id]["revision"] == 2
        assert answers() == before
        store.upsert([_product(99, rng)])  # a restored collection takes writes again
        assert store.count("product") == 31
        assert restore_backup(store, backup_id, replace=True) and store.count("product") == 30
    finally:
        store.drop()
        store.close()


def test_a_backup_of_nothing_is_refused_with_the_reason(weaviate_endpoint) -> None:
    store = WeaviateStore(connect(weaviate_endpoint.http_url, weaviate_endpoint.grpc_port, weaviate_endpoint.api_key),
                          prefix=f"T{uuid.uuid4().hex[:8]}")
    try:
        with pytest.raises(BackupFailed, match="nothing to back up"):
            create_backup(store, f"t-{uuid.uuid4().hex[:10]}")
    finally:
        store.close()
