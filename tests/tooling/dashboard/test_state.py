"""Unit tests of the dashboard's view: windows joined from three topics, bounds, freshness, DLQ rate."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from tooling.dashboard.server import parse_query
from tooling.dashboard.state import DashboardState, thumbnail


def _jpeg_b64(color=(200, 30, 30), size=(320, 240)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def test_window_embedding_and_tag_meet_in_one_card() -> None:
    s = DashboardState()
    s.on_product({"product_id": "p-mug", "title": "Ceramic Coffee Mug", "images_b64": [_jpeg_b64()]})
    s.on_window({"stream_id": "live-0", "start_ms": 0, "end_ms": 10_000, "keyframes_b64": [_jpeg_b64()], "closed_at": 100.0})
    s.on_embedding({"kind": "live", "stream_id": "live-0", "window": [0, 10_000], "object_id": "o1",
                    "summary": {"sentence": "A red ceramic mug.", "source": "extractive"}, "closed_at": 100.0, "indexed_at": 101.25})
    up = s.on_tag({"stream_id": "live-0", "window": [0, 10_000], "claimed": True, "tagged_at": 102.0,
                   "products": [{"product_id": "p-mug", "title": "Ceramic Coffee Mug", "score": 0.91}] * 4})
    w = up["window"]
    assert w["thumb"].startswith("data:image/jpeg;base64,") and w["sentence"] == "A red ceramic mug."
    assert len(w["products"]) == 3 and w["products"][0]["thumb"].startswith("data:image/jpeg")
    assert w["queryable_s"] == pytest.approx(1.25)
    f = up["freshness"]
    assert f["queryable_p50_s"] == pytest.approx(1.25) and f["tagged_p50_s"] == pytest.approx(2.0)
    snap = s.snapshot()
    assert [st["stream_id"] for st in snap["streams"]] == ["live-0"] and snap["catalog_size"] == 1


def test_views_stay_bounded_and_keep_the_latest() -> None:
    s = DashboardState(max_streams=2, windows_per_stream=3)
    for sid in ("a", "b", "c"):
        for k in range(5):
            s.on_window({"stream_id": sid, "start_ms": k * 10, "end_ms": k * 10 + 10, "closed_at": 1.0})
    snap = s.snapshot()
    assert [st["stream_id"] for st in snap["streams"]] == ["c", "b"]
    assert [w["start_ms"] for w in snap["streams"][0]["windows"]] == [40, 30, 20]
    assert s.on_window({"stream_id": "v", "domain": "video", "start_ms": 0, "end_ms": 1}) is None


def test_dlq_rate_counts_the_last_minute() -> None:
    s = DashboardState(dlq_window_s=60)
    for t in (0.0, 50.0, 100.0, 110.0):
        s.on_dlq({"topic": "x.asr", "reason": "not valid JSON", "failed_at": t}, now=t)
    d = s.dlq(now=120.0)
    assert d["total"] == 4 and d["per_min"] == 2.0 and d["last"][0]["reason"] == "not valid JSON"


def test_thumbnail_of_garbage_is_none() -> None:
    assert thumbnail(base64.b64encode(b"not an image").decode()) is None
    small = thumbnail(_jpeg_b64(size=(800, 600)), size=100)
    img = Image.open(io.BytesIO(base64.b64decode(small.split(",", 1)[1])))
    assert max(img.size) == 100


def test_search_query_needs_text_or_a_decodable_image() -> None:
    assert parse_query({"text": " red mug "}) == ("red mug", None)
    text, img = parse_query({"image_b64": "data:image/jpeg;base64," + _jpeg_b64()})
    assert text is None and img.size == (320, 240)
    for bad, why in (({}, "give a text"), ({"image_b64": "***"}, "not valid base64"),
                     ({"image_b64": base64.b64encode(b"abc").decode()}, "undecodable image")):
        with pytest.raises(ValueError, match=why):
            parse_query(bad)


def test_a_search_image_bomb_is_refused_before_decoding() -> None:
    """A query image goes through the worker's decoders: a 13k x 13k PNG (a few hundred KB) is refused
    from its header, and an oversized base64 string before it is decoded."""
    buf = io.BytesIO()
    Image.new("1", (13_000, 13_000)).save(buf, format="PNG")
    with pytest.raises(ValueError, match="pixel"):
        parse_query({"image_b64": base64.b64encode(buf.getvalue()).decode()})
    with pytest.raises(ValueError, match="larger than the limit"):
        parse_query({"image_b64": "A" * 40_000_000})


def test_a_refined_revision_replaces_the_first_and_never_the_other_way() -> None:
    s = DashboardState()
    base = {"kind": "live", "stream_id": "s", "window": [0, 10], "object_id": "o", "closed_at": 100.0}
    s.on_embedding({**base, "revision": 1, "indexed_at": 100.5, "summary": {"sentence": "quick", "source": "extractive"}})
    up = s.on_embedding({**base, "revision": 2, "indexed_at": 108.0, "summary": {"sentence": "refined", "source": "llamacpp"}})
    assert up["window"]["sentence"] == "refined" and up["window"]["revision"] == 2
    assert s.on_embedding({**base, "revision": 1, "indexed_at": 200.0, "summary": {"sentence": "old"}}) is None
    f = s.freshness()
    assert f["queryable_p50_s"] == pytest.approx(0.5) and f["refined_p50_s"] == pytest.approx(8.0) and f["windows"] == 1
    tag = {"stream_id": "s", "window": [0, 10], "claimed": True, "tagged_at": 101.0}
    s.on_tag({**tag, "revision": 2, "products": [{"product_id": "b", "title": "B", "score": 0.9}]})
    assert s.on_tag({**tag, "revision": 1, "products": [{"product_id": "a", "title": "A", "score": 0.5}]}) is None
    assert s.snapshot()["streams"][0]["windows"][0]["products"][0]["product_id"] == "b"
