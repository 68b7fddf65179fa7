"""One-time migration of a collection whose id properties are not field-tokenized.

Weaviate cannot change a property's tokenization in place. An alias to a new collection would keep
the name, but Weaviate 1.39 refuses GraphQL ``where`` filters on an alias ("class does not exist in
schema"), which breaks the documented query; so :func:`migrate_id_tokenization` rebuilds the
collection under its own name:

1. copy every object (same uuid, properties, named vectors; cursor iteration, batched inserts) into a
   staging collection ``<name>_Staging`` with the current schema, repeating while the source holds
   more objects than the copy (a writer added some meanwhile; at most ``passes`` copies);
2. delete ``<name>`` and create it again with the current schema (id properties field-tokenized,
   properties the old collection had beyond the schema kept with their type);
3. copy the staged objects back, only those ``<name>`` does not hold yet (a worker may already have
   written a newer revision), then delete the staging collection.

The old collection is deleted only once the staging copy holds as many objects. A crash at any step
is finished by the next call: with ``<name>_Staging`` present, step 1 is redone while ``<name>`` is
still unfit, and steps 2-3 (or 3 alone) otherwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import weaviate
from weaviate.classes.config import Property
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter

from engines.errors import PermanentError
from engines.store.schema import create_collection, properties, unfit_id_properties

log = logging.getLogger("ampere.store")

BATCH = 500


class MigrationError(PermanentError):
    """A migration that could not finish; the objects are in ``<name>`` or ``<name>_Staging``."""


@dataclass(frozen=True)
class Migration:
    """What a migration did."""

    name: str
    objects: int
    passes: int
    seconds: float


def staging_name(name: str) -> str:
    """The staging collection of ``name`` during a migration."""
    return f"{name}_Staging"


def _extra_properties(client: weaviate.WeaviateClient, source: str, kind: str) -> list[Property]:
    """Properties of ``source`` that the kind's schema lacks (added by auto-schema or older versions)."""
    known = {p.name for p in properties(kind)}
    return [
        Property(name=p.name, data_type=p.data_type, tokenization=p.tokenization,
                 index_filterable=p.index_filterable, index_searchable=p.index_searchable)
        for p in client.collections.get(source).config.get().properties
        if p.name not in known
    ]


def _copy(client: weaviate.WeaviateClient, source: str, target: str, *, only_missing: bool = False) -> int:
    """Copy the objects of ``source`` into ``target`` (same uuid, properties, named vectors); with
    ``only_missing``, those ``target`` does not hold. Returns the number written."""
    dst = client.collections.get(target)
    batch: list[DataObject] = []
    written = 0

    def flush() -> int:
        if only_missing:
            have = dst.query.fetch_objects(filters=Filter.by_id().contains_any([o.uuid for o in batch]),
                                           return_properties=[], limit=len(batch))
            held = {str(o.uuid) for o in have.objects}
            todo = [o for o in batch if str(o.uuid) not in held]
        else:
            todo = list(batch)
        batch.clear()
        if not todo:
            return 0
        res = dst.data.insert_many(todo)
        if res.has_errors:
            i, err = next(iter(res.errors.items()))
            raise MigrationError(f"copying {source} to {target}: {len(res.errors)} of {len(todo)} objects "
                                 f"refused, e.g. {todo[i].uuid}: {err.message}")
        return len(todo)

    for o in client.collections.get(source).iterator(include_vector=True):
        vectors = o.vector if isinstance(o.vector, dict) else {}
        props = {k: v for k, v in o.properties.items() if v is not None}  # unset stays unset
        batch.append(DataObject(properties=props, uuid=str(o.uuid),
                                vector={k: v for k, v in vectors.items() if v} or None))
        if len(batch) >= BATCH:
            written += flush()
    if batch:
        written += flush()
    return written


def _factor(client: weaviate.WeaviateClient, collection: str) -> int:
    """The replication factor of an existing collection (kept by the rebuild)."""
    cfg = client.collections.get(collection).config.get().replication_config
    return int(getattr(cfg, "factor", 1) or 1)


def _count(client: weaviate.WeaviateClient, collection: str) -> int:
    return int(client.collections.get(collection).aggregate.over_all(total_count=True).total_count or 0)


def _stage(client: weaviate.WeaviateClient, name: str, kind: str, passes: int) -> tuple[int, int]:
    """Step 1: copy ``name`` into its staging collection; returns (objects, passes)."""
    staging = staging_name(name)
    if client.collections.exists(staging) and unfit_id_properties(client, staging, kind):
        raise MigrationError(f"{staging} exists without field-tokenized ids; delete it and start again")
    if not client.collections.exists(staging):
        create_collection(client, staging, kind, extra=_extra_properties(client, name, kind),
                          replication_factor=_factor(client, name))
    for n in range(1, passes + 1):
        copied = _copy(client, name, staging)
        if _count(client, staging) >= _count(client, name):
            return copied, n
    raise MigrationError(f"{name} kept growing while it was copied to {staging} ({passes} passes); "
                         "stop the other writers and start again")


def migrate_id_tokenization(client: weaviate.WeaviateClient, name: str, kind: str, *, passes: int = 3) -> Migration | None:
    """Rebuild ``name`` (a collection of ``kind``: live | video | product) with field-tokenized id
    properties, keeping every object's uuid, properties and named vectors; None when there was
    nothing to do. Finishes a migration a crash interrupted."""
    staging = staging_name(name)
    exists, staged = client.collections.exists(name), client.collections.exists(staging)
    unfit = unfit_id_properties(client, name, kind) if exists else []
    if not unfit and not staged:
        return None
    t0 = time.monotonic()
    n_passes = 0
    if unfit:
        log.warning("migrating %s: id properties %s are not field-tokenized, so equality filters match other "
                    "ids; copying its objects to %s", name, ", ".join(unfit), staging)
        _, n_passes = _stage(client, name, kind, passes)
        extra = _extra_properties(client, name, kind)
        factor = _factor(client, name)
        client.collections.delete(name)
        exists = False
    else:
        log.warning("finishing the migration of %s from %s", name, staging)
        extra = _extra_properties(client, staging, kind)
        factor = _factor(client, staging)
    if not exists:
        create_collection(client, name, kind, extra=extra, replication_factor=factor)
    _copy(client, staging, name, only_missing=True)
    staged_n, now = _count(client, staging), _count(client, name)
    if now < staged_n:
        raise MigrationError(f"{name} holds {now} objects after the copy back, {staging} {staged_n}; "
                             f"{staging} is kept: start again to finish")
    client.collections.delete(staging)
    seconds = time.monotonic() - t0
    log.warning("migrated %s: %d objects, id properties field-tokenized, %d copy pass(es), %.1f s",
                name, now, n_passes, seconds)
    return Migration(name, now, n_passes, seconds)
