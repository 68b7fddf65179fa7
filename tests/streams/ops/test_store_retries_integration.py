"""On a real Weaviate that stops and comes back: the client's reconnects are logged and counted from
the first seconds of the outage, and a write succeeds within a bound after the server is ready again
(before, the client's own silent retries slept 1, 2, 4, ... 32 s: ~60 s more with no log line and
no counter)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid

import pytest

from engines.store.weaviate_store import StoredObject, WeaviateStore, connect
from streams.ops import store_retries
from streams.ops.metrics import REGISTRY
from streams.worker.retry import call_with_retries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DOWN_S = 35.0  # long enough for the client's unbounded sleeps to reach 16 and 32 s
RECOVERY_BOUND_S = 15.0  # back-off cap of the retry loop (10 s) + the client's bounded retries and redial


def _retries() -> float:
    return REGISTRY.get_sample_value("ampere_store_retries_total", {"operation": store_retries.OPERATION}) or 0.0


def _obj(oid: str, kind: str = "product") -> StoredObject:
    vec = [1.0] + [0.0] * 7
    props = {"product_id": oid, "title": "t"} if kind == "product" else {"window_id": oid, "stream_id": "s", "revision": 1}
    return StoredObject(kind, oid, props, {"fused": vec, "visual": vec, "text": vec})


def test_a_write_after_weaviate_returns_is_bounded_logged_and_counted(weaviate_restart, caplog) -> None:
    ep = weaviate_restart.endpoint
    store_retries.install()
    store = WeaviateStore(connect(ep.http_url, ep.grpc_port, ep.api_key), prefix=f"R{uuid.uuid4().hex[:8]}")
    store.ensure_collections()
    first = str(uuid.uuid4())
    store.upsert([_obj(first), _obj(first, "live")])
    caplog.set_level(logging.WARNING, logger="ampere.store")
    before = _retries()
    done: dict[str, float] = {}

    def write_through_the_outage() -> None:
        async def call() -> None:  # what the index agent does with a closed window: revision lookup, upsert
            up = lambda: asyncio.to_thread(store.is_ready)
            await call_with_retries("revision lookup", lambda: asyncio.to_thread(store.revisions, "live", [first]),
                                    service_up=up)
            await call_with_retries("store upsert", lambda: asyncio.to_thread(store.upsert, [_obj(str(uuid.uuid4()))]))

        asyncio.run(call())
        done["at"] = time.monotonic()

    try:
        weaviate_restart.service.stop()
        stopped = time.monotonic()
        writer = threading.Thread(target=write_through_the_outage, daemon=True)
        writer.start()
        time.sleep(10.0)
        assert _retries() > before, "no reconnect counted in the first 10 s of the outage"
        assert any("Weaviate unreachable" in r.getMessage() for r in caplog.records if r.name == "ampere.store")
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - stopped)))
        weaviate_restart.service.start()
        weaviate_restart.service.wait_ready(120)
        ready = time.monotonic()
        writer.join(timeout=120)
        assert "at" in done, "the write did not finish after Weaviate returned"
        assert done["at"] - ready <= RECOVERY_BOUND_S, f"indexed {done['at'] - ready:.1f}s after Weaviate was ready"
        lines = [r for r in caplog.records if r.name == "ampere.store" and "Weaviate unreachable" in r.getMessage()]
        assert len(lines) <= DOWN_S / 10 + 2, "reconnect lines are throttled"
        assert store.count("product") == 2
    finally:
        store.close()
