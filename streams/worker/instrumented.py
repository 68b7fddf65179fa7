"""Engines wrapped so that every call feeds the worker's metrics; the agents stay unaware of them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from engines.encode.base import Embeddings, EncodeItem, Encoder, branch_dims
from engines.store.weaviate_store import StoredObject, WeaviateStore
from streams.ops import metrics


class InstrumentedEncoder:
    """An ``Encoder`` that records each batch's latency by domain (``ampere_encode_batch_seconds``)."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.model_version = inner.model_version
        self.dim = inner.dim
        self.branch_dims = branch_dims(inner)

    def encode(self, items: Sequence[EncodeItem]) -> Embeddings:
        elapsed = metrics.timed()
        out = self.inner.encode(items)
        kinds = {i.domain for i in items}
        metrics.observe_encode(kinds.pop() if len(kinds) == 1 else "mixed", elapsed())
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class InstrumentedStore:
    """A ``WeaviateStore`` whose successful upserts record their latency and, for windows, the time
    from window close until they became queryable (``ampere_window_close_to_queryable_seconds``)."""

    def __init__(self, inner: WeaviateStore) -> None:
        self.inner = inner

    def upsert(self, objects: Sequence[StoredObject]) -> None:
        elapsed = metrics.timed()
        self.inner.upsert(objects)
        metrics.observe_upsert(elapsed(), [_Indexed(o) for o in objects], time.time())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Indexed:
    """What ``metrics.observe_upsert`` reads of a stored object."""

    def __init__(self, o: StoredObject) -> None:
        self.kind = o.kind
        self.closed_at = o.properties.get("closed_at")
        self.revision = o.properties.get("revision", 1)
