"""Seller isolation end to end on the real broker, Weaviate and engines: two sellers sell the same four
products (same photos, same titles, other ids); each seller's stream, its segments, the search and a
seller's dashboard only ever name that seller's products, and a lineup naming the other seller's product
is reported, never matched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.sdk.publish import merge_streams, product_message, stream_messages
from streams.worker.stages import search_index, seller_filter
from tests.streams.mini_dataset import make_mini_dataset
from tests.streams.test_pipeline_integration import _settings, _store
from tests.streams.worker_run import run_worker_on
from tooling.dashboard.server import create_dashboard
from tooling.demo import latest_segments

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
SELLERS = {"live-0": "shop-a", "live-1": "shop-b"}


def owner(product_id: str | None) -> str | None:
    return {"a": "shop-a", "b": "shop-b"}.get((product_id or "?")[0])


def test_a_sellers_stream_search_and_dashboard_never_show_another_sellers_products(isolated_settings, tmp_path: Path) -> None:
    settings = _settings(isolated_settings, "extractive")
    topics = TopicNames(settings.topic_prefix)
    ds = make_mini_dataset(tmp_path / "data")
    streams = ds.streams()
    catalog = [product_message(ds, p, topics, seller_id=seller, product_id=f"{seller[-1]}-{p.product_id}")
               for p in ds.products for seller in ("shop-a", "shop-b")]
    foreign = f"b-{streams['live-0'][0].product_id}"  # shop-a's stream declares shop-b's copy of its own product
    lineups = {"live-0": [f"a-{m.product_id}" for m in streams["live-0"]] + [foreign], "live-1": None}
    ensure_topics(settings, topics.all(), settings.topic_partitions)
    store = _store(settings)
    timeline = merge_streams([stream_messages(ds, s, streams[s], topics, lineup=lineups[s], seller_id=SELLERS[s])
                              for s in SELLERS])
    sub = run_worker_on(settings, store, catalog, timeline, tmp_path)
    try:
        tags = sub.report.tags
        assert {t["stream_id"] for t in tags} == set(SELLERS)
        for t in tags:
            seller = SELLERS[t["stream_id"]]
            assert t["seller_id"] == seller and t["scope"] in ("lineup", "seller"), t
            assert {owner(p["product_id"]) for p in t["products"]} == {seller}, t  # the look-alike copy never shows
        assert any(t["claimed"] for t in tags)
        assert all(t["lineup_unknown"] == [foreign] for t in tags if t["stream_id"] == "live-0")
        reports = [d for d in sub.report.dlq if foreign in d["reason"]]
        assert len(reports) == 1 and "catalog of seller 'shop-a'" in reports[0]["reason"], sub.report.dlq
        segments = latest_segments(sub.report.segments)
        assert segments and all(g["seller_id"] == SELLERS[g["stream_id"]] for g in segments)
        assert all(owner(g["product_id"]) == g["seller_id"] for g in segments if g["product_id"])

        # the search: a seller's query finds its own products and moments only
        vectors = {"fused": np.ones(256, dtype=np.float32).tolist()}
        for seller in ("shop-a", "shop-b"):
            products = search_index(store, "product", vectors, [], 8, seller_filter(seller))
            moments = search_index(store, "live", vectors, [], 20, seller_filter(seller))
            assert len(products) == 4 and {h.properties["seller_id"] for h in products} == {seller}
            assert moments and {h.properties["seller_id"] for h in moments} == {seller}

        # a seller's dashboard: another seller's segments are neither listed nor reachable by asking
        dash = TestClient(create_dashboard(settings.model_copy(update={"dashboard_seller": "shop-a"})))
        own = dash.get("/api/segments", params={"stream": "live-0"}).json()["segments"]
        assert own and {g["seller_id"] for g in own} == {"shop-a"}
        assert dash.get("/api/segments", params={"stream": "live-1"}).json()["segments"] == []
        assert dash.get("/api/segments", params={"product": f"b-{streams['live-1'][0].product_id}"}).json()["segments"] == []
        assert dash.get("/api/segments", params={"stream": "live-1", "seller": "shop-b"}).status_code == 403
        assert dash.post("/api/search", json={"text": "mug", "seller": "shop-b"}).status_code == 403
    finally:
        store.drop()
        store.close()
