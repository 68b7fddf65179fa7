"""Seller catalogs without a broker: the start event names the seller, every record downstream carries it,
and the product search of a seller's stream is filtered to that seller's products."""

from __future__ import annotations

import json

import pytest

from engines.store.weaviate_store import Hit
from streams.schemas import BadRecord, EmbeddingRecord, StreamEventRecord, parse_record
from streams.worker import stages
from streams.worker.claims import ClaimRule, Thresholds
from streams.worker.windowing import StreamState, close_all
from tests.streams.worker.test_lineups import CFG, T, content, feed, lineup

RULE = ClaimRule({m: Thresholds(0.5, 0.1) for m in ("visual+text", "visual", "text")})


def start(ts: int, seller: str | None, sid: str = "s") -> bytes:
    body = {"stream_id": sid, "ts_ms": ts, "type": "start"} | ({"seller_id": seller} if seller else {})
    return json.dumps(body).encode()


def test_a_seller_is_named_on_start_only() -> None:
    assert parse_record(start(0, "shop-a"), StreamEventRecord).seller_id == "shop-a"
    with pytest.raises(BadRecord, match="start"):
        parse_record(json.dumps({"stream_id": "s", "ts_ms": 0, "type": "product_switch", "seller_id": "x"}).encode(),
                     StreamEventRecord)
    with pytest.raises(BadRecord):
        parse_record(start(0, "a" * 201), StreamEventRecord)


def test_every_window_of_a_sellers_stream_carries_the_seller_through_a_restart() -> None:
    st, _ = feed([(T.events, start(0, "shop-a")), *content(0, 10_000)])
    back = StreamState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert back.seller_id == "shop-a"
    closed = close_all(back, "stream_end", CFG)
    assert closed and all(w.seller_id == "shop-a" for w in closed)
    assert stages.window_record(closed[0], 1.0).seller_id == "shop-a"


def test_a_start_naming_another_seller_is_refused_and_the_first_seller_stays() -> None:
    st, _ = feed([(T.events, start(0, "shop-a")), *content(0, 5_000)])
    from streams.worker.ingest import apply_message, window_config
    from tests.streams.worker.test_lineups import S

    st, res, _ = apply_message(T.events, start(6_000, "shop-b"), st, 0.0, S, window_config(S), T, offset=99)
    assert res.rejected and "shop-b" in res.rejected and st.seller_id == "shop-a"
    st, res, _ = apply_message(T.events, start(7_000, None), st, 0.0, S, window_config(S), T, offset=100)
    assert not res.rejected and st.seller_id == "shop-a"  # a start without a seller changes nothing


def conditions(where) -> list[tuple[str, object]]:
    """(property, value) of every condition of a Weaviate filter (an and of them, or one)."""
    parts = getattr(where, "filters", [where])
    return [(str(f.target), f.value) for f in parts]


class _Recording:
    def __init__(self) -> None:
        self.where: list[object] = []

    def near_vectors(self, kind, vectors, *, limit=10, where=None):
        self.where.append(where)
        return [Hit("o", 0.9, {"product_id": "p1", "title": "Mug", "seller_id": "shop-a"})]


def _rec(seller: str | None, lineup_ids: list[str] | None = None) -> EmbeddingRecord:
    return EmbeddingRecord(object_id="o", kind="live", stream_id="s", window=(0, 10), model_version="m",
                           vector=[1.0, 0.0], indexed_at=0.0, seller_id=seller, lineup=lineup_ids)


def test_a_sellers_stream_searches_only_its_sellers_products_and_says_so() -> None:
    store = _Recording()
    catalog, in_lineup = stages.tag_searches(store, _rec("shop-a", ["p1"]), 3)  # type: ignore[arg-type]
    assert in_lineup is not None
    seller_only, both = (conditions(w) for w in store.where)
    assert seller_only == [("seller_id", "shop-a")]
    assert both == [("seller_id", "shop-a"), ("product_id", ["p1"])]
    tag = stages.tag_record(_rec("shop-a"), catalog, RULE, 1.0)
    assert (tag.scope, tag.seller_id) == ("seller", "shop-a")
    store.where.clear()
    stages.tag_searches(store, _rec(None), 3)  # type: ignore[arg-type]
    assert store.where == [None]  # a stream without a seller keeps the whole catalog
    assert stages.tag_record(_rec(None), catalog, RULE, 1.0).scope == "catalog"


def test_a_lineup_id_of_another_seller_is_reported_as_not_in_the_sellers_catalog() -> None:
    st, _ = feed([(T.events, start(0, "shop-a")), (T.events, lineup(0, ["p1", "b-9"])), *content(0, 10_000)])
    assert close_all(st, "stream_end", CFG)[0].lineup == ["p1", "b-9"]
    hits = [Hit("o", 0.9, {"product_id": "p1", "title": "Mug"})]
    tag = stages.tag_record(_rec("shop-a", ["p1", "b-9"]), hits, RULE, 1.0, lineup_hits=hits)
    assert tag.lineup_unknown == ["b-9"] and tag.scope == "lineup"
