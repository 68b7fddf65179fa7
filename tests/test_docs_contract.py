"""docs/CONTRACT.md: its curl examples run against a real Weaviate server and answer what the text says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from engines.store.weaviate_store import StoredObject, WeaviateStore, connect
from streams.ids import moment_object_id, product_object_id

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md"
START_MS = 1_764_500_000_000  # epoch milliseconds, far above 2^31
COLLECTIONS = re.compile(r"\b(LiveMoment|VideoMoment|Product)\b")


def weaviate_examples() -> list[str]:
    """The ```bash blocks of the Weaviate section, in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Weaviate", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


def _unit(seed: int, dim: int = 128) -> list[float]:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return [float(x) for x in v / np.linalg.norm(v)]


@pytest.fixture
def indexed(weaviate_endpoint):
    """A private set of collections holding two products and one live window at epoch milliseconds."""
    prefix = f"D{uuid.uuid4().hex[:8]}"
    store = WeaviateStore(connect(weaviate_endpoint.http_url, weaviate_endpoint.grpc_port), prefix)
    store.ensure_collections()
    mug, shoe = _unit(1), _unit(2)
    stream = "shop-42"
    oid = moment_object_id("live", stream, START_MS, START_MS + 30_000, "m1")
    store.upsert([
        StoredObject("product", product_object_id("p-mug", "m1"), {"product_id": "p-mug", "title": "Ceramic Mug"},
                     {"fused": mug, "visual": mug, "text": mug}),
        StoredObject("product", product_object_id("p-shoe", "m1"), {"product_id": "p-shoe", "title": "Canvas Shoe"},
                     {"fused": shoe, "visual": shoe, "text": shoe}),
        StoredObject("live", oid, {"stream_id": stream, "window_id": f"{stream}@{START_MS}", "start_ms": START_MS,
                                   "end_ms": START_MS + 30_000, "sentence": "a red ceramic mug"},
                     {"fused": mug, "visual": mug, "text": None}),
    ])
    try:
        yield weaviate_endpoint.http_url, prefix, oid, stream
    finally:
        store.drop()
        store.close()


def run_example(block: str, url: str, prefix: str, oid: str, stream: str) -> dict:
    script = "set -euo pipefail\n" + COLLECTIONS.sub(lambda m: prefix + m.group(1), block)
    env = {**os.environ, "WEAVIATE": url, "ID": oid, "STREAM": stream}
    out = subprocess.run(["bash", "-c", script], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_docs_have_the_four_examples() -> None:
    blocks = weaviate_examples()
    assert len(blocks) == 4 and all("curl" in b for b in blocks)
    assert 'targetVectors: [\\"fused\\"]' in blocks[3]


def test_curl_examples_run_and_answer_as_documented(indexed) -> None:
    url, prefix, oid, stream = indexed
    schema, obj, windows, near = (run_example(b, url, prefix, oid, stream) for b in weaviate_examples())

    assert set(schema["vectorConfig"]) == {"fused", "visual", "text"}
    types = {p["name"]: p["dataType"] for p in schema["properties"]}
    assert types["start_ms"] == types["end_ms"] == ["number"]

    assert obj["id"] == oid and len(obj["vectors"]["fused"]) == 128
    assert obj["properties"]["start_ms"] == START_MS

    assert "errors" not in windows, windows
    [w] = windows["data"]["Get"][f"{prefix}LiveMoment"]
    assert (w["stream_id"], w["start_ms"], w["end_ms"]) == (stream, START_MS, START_MS + 30_000)  # not null
    assert w["_additional"]["id"] == oid

    assert "errors" not in near, near
    hits = near["data"]["Get"][f"{prefix}Product"]
    assert [h["product_id"] for h in hits] == ["p-mug", "p-shoe"]
    assert hits[0]["_additional"]["distance"] == pytest.approx(0.0, abs=1e-5)


def test_near_vector_without_target_vectors_is_refused(indexed) -> None:
    """Why the docs insist on targetVectors: with named vectors Weaviate refuses the query without it."""
    url, prefix, _, _ = indexed
    q = f'{{ Get {{ {prefix}Product(nearVector: {{vector: {json.dumps(_unit(1))}}}) {{ product_id }} }} }}'
    body = httpx.post(f"{url}/v1/graphql", json={"query": q}, timeout=30).json()
    assert body.get("errors"), body
