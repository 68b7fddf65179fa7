"""How long the store keeps what it holds: old moments expire, products never; backups and restores with
Weaviate's backup module (filesystem or S3-compatible)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from weaviate.backup.backup import BackupStatus, BackupStorage

from engines.errors import AmpereError
from engines.store.schema import KIND_COLLECTION
from engines.store.weaviate_store import WeaviateStore

MOMENT_KINDS = ("live", "video", "segment")


class BackupFailed(AmpereError):
    """A backup or a restore did not finish (the server's reason is in the message)."""


@dataclass(frozen=True)
class Expired:
    """What one expiry pass deleted."""

    kind: str
    cutoff: float  # UNIX time: moments closed before it were deleted
    deleted: int
    failed: int
    seconds: float


def expire_moments(store: WeaviateStore, kind: str, max_age_s: float, *, now: float | None = None) -> Expired:
    """Delete the moments of ``kind`` (live | video, or the segments made of them) that closed more than ``max_age_s`` ago, in passes
    of the server's result limit until none is left; products never expire."""
    if kind not in MOMENT_KINDS:
        raise ValueError(f"only moments expire ({', '.join(MOMENT_KINDS)}), not {kind!r}")
    if max_age_s <= 0:
        raise ValueError(f"max age must be positive, got {max_age_s}")
    cutoff = (time.time() if now is None else now) - max_age_s
    deleted = failed = 0
    started = time.perf_counter()
    while True:
        done, refused = store.delete_closed_before(kind, cutoff)
        deleted, failed = deleted + done, failed + refused
        if not done:  # nothing matched any more (or only what keeps failing)
            break
    return Expired(kind, cutoff, deleted, failed, time.perf_counter() - started)


def collections_of(store: WeaviateStore) -> list[str]:
    """The collections a backup of this store holds (moments and products)."""
    return [store.name(kind) for kind in KIND_COLLECTION]


def create_backup(store: WeaviateStore, backup_id: str, backend: str = "filesystem") -> list[str]:
    """Back up this store's collections under ``backup_id``; wait until done; return the collections."""
    existing = [name for name in collections_of(store) if store.client.collections.exists(name)]
    if not existing:
        raise BackupFailed(f"nothing to back up: none of {', '.join(collections_of(store))} exists")
    res = store.client.backup.create(backup_id=backup_id, backend=BackupStorage(backend),
                                     include_collections=existing, wait_for_completion=True)
    if res.status != BackupStatus.SUCCESS:
        raise BackupFailed(f"backup {backup_id} to {backend}: {res.status.value} {res.error or ''}".strip())
    return list(res.collections)


def restore_backup(store: WeaviateStore, backup_id: str, backend: str = "filesystem", *, replace: bool = False) -> list[str]:
    """Restore this store's collections from ``backup_id``; collections that exist are refused unless
    ``replace`` (then they are deleted first). Return the collections restored."""
    wanted = collections_of(store)
    present = [name for name in wanted if store.client.collections.exists(name)]
    if present and not replace:
        raise BackupFailed(f"{', '.join(present)} exist: restoring would overwrite them (pass replace to delete them first)")
    if present:
        store.client.collections.delete(present)
    res = store.client.backup.restore(backup_id=backup_id, backend=BackupStorage(backend), wait_for_completion=True)
    if res.status != BackupStatus.SUCCESS:
        raise BackupFailed(f"restore of {backup_id} from {backend}: {res.status.value} {res.error or ''}".strip())
    return list(res.collections)
