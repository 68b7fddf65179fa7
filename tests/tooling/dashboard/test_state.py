"""Unit tests of the dashboard's view: windows joined from three topics, bounds, freshness, DLQ rate,
and a history replayed in any order after a restart."""

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
    assert w["thumb"].startswith("/thumbs/") and w["sentence"] == "A red ceramic mug."
    assert len(w["products"]) == 3 and w["products"][0]["thumb"].startswith("/thumbs/")
    assert s.thumb_bytes(w["thumb"][len("/thumbs/"):-len(".jpg")]).startswith(b"\xff\xd8")  # a JPEG
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


def test_dlq_rate_counts_the_last_minute() -> None:
    s = DashboardState(dlq_window_s=60)
    for t in (0.0, 50.0, 100.0, 110.0):
        s.on_dlq({"topic": "x.asr.chunks", "reason": "not valid JSON", "failed_at": t}, now=t)
    d = s.dlq(now=120.0)["input"]
    assert d["total"] == 4 and d["per_min"] == 2.0 and d["last"][0]["reason"] == "not valid JSON"


def test_thumbnail_of_garbage_is_none() -> None:
    assert thumbnail(base64.b64encode(b"not an image").decode()) is None
    small = thumbnail(_jpeg_b64(size=(800, 600)), size=100)
    img = Image.open(io.BytesIO(small))
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


def _history(stream_id: str, k: int, closed_at: float) -> list[tuple[str, dict]]:
    """The three records of one indexed and tagged window, as the topics hold them."""
    win = [k * 10_000, k * 10_000 + 10_000]
    return [
        ("window", {"stream_id": stream_id, "start_ms": win[0], "end_ms": win[1], "closed_at": closed_at,
                    "text": f"um look at this {stream_id}", "keyframes_b64": []}),
        ("embedding", {"kind": "live", "stream_id": stream_id, "window": win, "object_id": f"{stream_id}{k}",
                       "summary": {"sentence": "", "source": "extractive"}, "closed_at": closed_at,
                       "indexed_at": closed_at + 0.5}),
        ("tag", {"stream_id": stream_id, "window": win, "claimed": True, "tagged_at": closed_at + 2.0,
                 "products": [{"product_id": "p", "title": "P", "score": 0.8}]}),
    ]


def _replay(s: DashboardState, records: list[tuple[str, dict]]) -> None:
    handlers = {"window": s.on_window, "embedding": s.on_embedding, "tag": s.on_tag}
    for kind, rec in records:
        handlers[kind](rec)


def test_after_a_restart_recency_comes_from_the_records_times() -> None:
    """The followers replay each topic's history side by side: arrival order is not recency."""
    closed = {"live-001": 100.0, "live-002": 200.0, "metric-x": 300.0, "live-003": 400.0}
    recs = [r for sid, t in closed.items() for r in _history(sid, 0, t)]
    by_topic = sorted(recs, key=lambda r: ["tag", "embedding", "window"].index(r[0]))  # tags follower first
    s = DashboardState()
    _replay(s, list(reversed(by_topic)))
    assert [st["stream_id"] for st in s.snapshot()["streams"]] == ["live-003", "metric-x", "live-002", "live-001"]
    s = DashboardState(max_streams=2)
    _replay(s, list(reversed(by_topic)))
    assert [st["stream_id"] for st in s.snapshot()["streams"]] == ["live-003", "metric-x"]


def test_close_to_tagged_is_joined_whichever_record_comes_first() -> None:
    s = DashboardState(windows_per_stream=2)
    recs = [r for k in range(6) for r in _history("live-0", k, 100.0 + 10 * k)]
    _replay(s, [r for r in recs if r[0] == "tag"] + [r for r in recs if r[0] != "tag"])
    f = s.freshness()
    assert f["tagged_p50_s"] == pytest.approx(2.0) and f["tags"] == 6 and f["windows"] == 6


def test_a_window_without_a_summary_sentence_shows_its_transcript() -> None:
    s = DashboardState()
    _replay(s, _history("live-0", 0, 100.0))
    w = s.snapshot()["streams"][0]["windows"][0]
    assert w["sentence"] == "" and w["text"] == "um look at this live-0" == s.window_text("live-0", 0.0, 10_000.0)


def test_short_videos_are_listed_with_their_keyframe() -> None:
    s = DashboardState()
    s.on_window({"stream_id": "v", "domain": "video", "start_ms": 0, "end_ms": 3000, "closed_at": 5.0,
                 "keyframes_b64": [_jpeg_b64()], "text": "new blue shoe"})
    s.on_embedding({"kind": "video", "stream_id": "v", "window": [0, 3000], "object_id": "o",
                    "summary": {"sentence": "A blue shoe."}, "closed_at": 5.0, "indexed_at": 6.0})
    (st,) = s.snapshot()["streams"]
    w = st["windows"][0]
    assert st["stream_id"] == "v" and w["domain"] == "video" and w["thumb"] and w["sentence"] == "A blue shoe."


def test_a_refined_summary_of_a_window_out_of_view_keeps_every_thumbnail() -> None:
    """Thumbnails outlive the view's bounds: search hits and late revisions still name them."""
    s = DashboardState(windows_per_stream=1)
    for k in range(3):
        s.on_window({"stream_id": "s", "start_ms": k * 10, "end_ms": k * 10 + 10, "closed_at": 1.0 + k,
                     "keyframes_b64": [_jpeg_b64()]})
    assert all(s.window_thumb("s", k * 10.0, k * 10.0 + 10) for k in range(3))  # the store's numbers
    up = s.on_embedding({"kind": "live", "stream_id": "s", "window": [0, 10], "revision": 2, "closed_at": 1.0,
                         "indexed_at": 9.0, "summary": {"sentence": "refined"}})
    assert "window" not in up and up["freshness"]["refined_p50_s"] == pytest.approx(8.0)


def test_internal_dead_letters_are_kept_apart_from_bad_input() -> None:
    s = DashboardState()
    s.on_dlq({"topic": "shop.asr.chunks", "reason": "not valid JSON", "failed_at": 1.0}, now=2.0)
    s.on_dlq({"topic": "shop.summaries", "reason": "nothing to index", "failed_at": 1.5}, now=2.0)
    d = s.dlq(now=2.0)
    assert d["total"] == 2 and d["input"]["total"] == 1 and d["internal"]["total"] == 1
    assert d["input"]["last"][0]["reason"] == "not valid JSON"
    assert d["internal"]["last"][0] == {"topic": "shop.summaries", "reason": "nothing to index"}


def _segment(gid: str, start: int, revision: int, claimed: bool, **kw) -> dict:
    return {"stream_id": "live-0", "segment_id": gid, "start_ms": start, "end_ms": start + 60_000, "claimed": claimed,
            "product_id": "p-mug", "title": "Ceramic Coffee Mug", "windows": 2, "revision": revision,
            "reason": None if claimed else "weak", "updated_at": 100.0 + start / 1000, **kw}


def test_a_streams_timeline_keeps_each_segments_newest_revision_and_names_only_claimed_products() -> None:
    s = DashboardState(segments_per_stream=2)
    s.on_product({"product_id": "p-mug", "title": "Ceramic Coffee Mug", "images_b64": [_jpeg_b64()]})
    guess = s.on_segment(_segment("g1", 0, 1, False))["segment"]
    assert guess["product_id"] is None and guess["title"] == "" and guess["reason"] == "weak"  # a guess is never shown
    up = s.on_segment(_segment("g1", 0, 2, True))["segment"]
    assert up["product_id"] == "p-mug" and up["thumb"].startswith("/thumbs/")
    assert s.on_segment(_segment("g1", 0, 1, False)) is None  # an older revision arriving late
    s.on_segment(_segment("g2", 60_000, 1, True))
    s.on_segment(_segment("g3", 120_000, 1, True))
    (stream,) = s.snapshot()["streams"]
    assert [g["segment_id"] for g in stream["segments"]] == ["g2", "g3"]  # bounded: the latest two
    assert s.on_segment({"stream_id": 5, "segment_id": "x"}) is None and s.on_segment({"segment_id": "x"}) is None
