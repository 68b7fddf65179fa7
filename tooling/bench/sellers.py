"""Seller catalogs, two layouts side by side on the same products: one collection with a field-tokenized
``seller_id`` filter (what the tag stage does) vs Weaviate's multi-tenancy (a tenant per seller). Import
time, query latency (p50/p99, each query scoped to one seller) and the server's resident memory after
each import. Writes sellers.json and sellers.md."""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from pathlib import Path

import numpy as np
import weaviate
from rich.console import Console
from rich.progress import Progress
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter
from weaviate.classes.tenants import Tenant

DIM = 256  # the fused vector; the branch vectors scale both layouts alike
BATCH = 1000


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _server_rss() -> int | None:
    """Resident bytes of the local Weaviate server (Linux /proc; None when there is not exactly one)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if text.startswith("Name:\tweaviate"):
            rss = next((line.split()[1] for line in text.splitlines() if line.startswith("VmRSS:")), None)
            if rss:
                found.append(int(rss) * 1024)
    return found[0] if len(found) == 1 else None


def _create(client: weaviate.WeaviateClient, name: str, tenants: bool) -> None:
    client.collections.create(
        name,
        properties=[Property(name="product_id", data_type=DataType.TEXT, tokenization=Tokenization.FIELD),
                    Property(name="seller_id", data_type=DataType.TEXT, tokenization=Tokenization.FIELD)],
        vector_config=[Configure.Vectors.self_provided(
            name="fused", vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE))],
        multi_tenancy_config=Configure.multi_tenancy(enabled=True) if tenants else None,
    )


def _import(client, name: str, tenants: bool, sellers: int, per_seller: int, seed: int, progress: Progress) -> float:
    col = client.collections.get(name)
    if tenants:
        for i in range(0, sellers, 100):
            col.tenants.create([Tenant(name=f"seller{j}") for j in range(i, min(sellers, i + 100))])
    rng = np.random.default_rng(seed)
    task = progress.add_task(f"import {name}", total=sellers * per_seller)
    started = time.perf_counter()
    for s in range(sellers):
        target = col.with_tenant(f"seller{s}") if tenants else col
        vecs = _vectors(rng, per_seller)
        for i in range(0, per_seller, BATCH):
            objs = [DataObject(properties={"product_id": f"s{s}-p{j}", "seller_id": f"seller{s}"},
                               uuid=uuid.uuid5(uuid.NAMESPACE_OID, f"{s}/{j}"), vector={"fused": vecs[j].tolist()})
                    for j in range(i, min(per_seller, i + BATCH))]
            res = target.data.insert_many(objs)
            if res.has_errors:
                raise RuntimeError(f"{name}: {len(res.errors)} objects refused: {next(iter(res.errors.values())).message}")
            progress.advance(task, len(objs))
    return time.perf_counter() - started


def _queries(client, name: str, tenants: bool, sellers: int, n: int, seed: int) -> tuple[list[float], int]:
    """Latencies (ms) of ``n`` seller-scoped top-3 searches, and how many hits named another seller."""
    col = client.collections.get(name)
    rng = np.random.default_rng(seed)
    times, leaks = [], 0
    for q, s in zip(_vectors(rng, n), rng.integers(0, sellers, size=n), strict=True):
        seller = f"seller{int(s)}"
        t = time.perf_counter()
        if tenants:
            res = col.with_tenant(seller).query.near_vector(q.tolist(), target_vector="fused", limit=3)
        else:
            res = col.query.near_vector(q.tolist(), target_vector="fused", limit=3,
                                        filters=Filter.by_property("seller_id").equal(seller))
        times.append((time.perf_counter() - t) * 1000)
        leaks += sum(o.properties["seller_id"] != seller for o in res.objects)
    return times, leaks


def run_sellers(client: weaviate.WeaviateClient, sellers: int, per_seller: int, queries: int,
                out_dir: Path, console: Console, prefix: str) -> dict:
    rows = []
    with Progress(console=console) as progress:
        for layout, tenants in (("filter on seller_id", False), ("a tenant per seller", True)):
            name = f"{prefix}{'Tenants' if tenants else 'Filter'}"
            client.collections.delete(name)
            rss0 = _server_rss()
            _create(client, name, tenants)
            try:
                import_s = _import(client, name, tenants, sellers, per_seller, 7, progress)
                rss1 = _server_rss()
                _queries(client, name, tenants, sellers, min(100, queries), 1)  # warm-up
                times, leaks = _queries(client, name, tenants, sellers, queries, 2)
            finally:
                client.collections.delete(name)
            rows.append({"layout": layout, "objects": sellers * per_seller, "import_s": import_s,
                         "import_per_s": sellers * per_seller / import_s,
                         "query_p50_ms": statistics.median(times), "query_p99_ms": float(np.percentile(times, 99)),
                         "rss_growth_mb": (rss1 - rss0) / 2**20 if rss0 and rss1 else None, "foreign_hits": leaks})
            console.print(rows[-1])
    result = {"sellers": sellers, "per_seller": per_seller, "queries": queries, "dim": DIM, "rows": rows,
              "load_1m": os.getloadavg()[0], "cpus": os.cpu_count()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sellers.json").write_text(json.dumps(result, indent=2) + "\n")
    f, t = rows
    lines = ["# Seller catalogs: a filter vs a tenant per seller", "",
             (f"{sellers:,} sellers × {per_seller:,} products ({DIM}-d vectors, HNSW cosine), one local Weaviate node; "
              f"{queries} top-3 searches, each scoped to a random seller; `ampere bench sellers`; "
              f"{result['cpus']} CPUs, load {result['load_1m']:.1f} at the end. The tenant layout ran second, "
              "after the filter collection was deleted (RSS growth is the server's, so read it as a rough figure)."), "",
             "| layout | objects | import s | objects/s | query p50 ms | p99 ms | RSS growth MB | hits of another seller |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    def mb(r: dict) -> str:
        return "-" if r["rss_growth_mb"] is None else f"{r['rss_growth_mb']:.0f}"

    lines += [f"| {r['layout']} | {r['objects']:,} | {r['import_s']:.1f} | {r['import_per_s']:,.0f} | {r['query_p50_ms']:.2f} | "
              f"{r['query_p99_ms']:.2f} | {mb(r)} | {r['foreign_hits']} |" for r in rows]
    lines += ["", (f"Ratios (tenants / filter): import time {t['import_s'] / f['import_s']:.2f}, query p50 "
                   f"{t['query_p50_ms'] / f['query_p50_ms']:.2f}, p99 {t['query_p99_ms'] / f['query_p99_ms']:.2f}.")]
    (out_dir / "sellers.md").write_text("\n".join(lines) + "\n")
    return result
