"""Deterministic object ids, so that a replay overwrites instead of duplicating."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1c1c9e-6d0b-5b7e-9a43-2b6f4e8d1a10")


def window_id(stream_id: str, start_ms: int, end_ms: int) -> str:
    """Stable id of a window of a stream."""
    return f"{stream_id}@{start_ms}-{end_ms}"


def moment_object_id(kind: str, stream_id: str, start_ms: int, end_ms: int, model_version: str) -> str:
    """uuid5 of (kind, stream, window, model version)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}|{stream_id}|{start_ms}|{end_ms}|{model_version}"))


def product_object_id(product_id: str, model_version: str) -> str:
    """uuid5 of (product, model version)."""
    return str(uuid.uuid5(NAMESPACE, f"product|{product_id}|{model_version}"))
