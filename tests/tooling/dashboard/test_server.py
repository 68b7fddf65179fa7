"""The dashboard's HTTP answers without Kafka: a small /api/state, thumbnails by URL, a favicon."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from starlette.testclient import TestClient

from streams.settings import Settings
from tooling.dashboard.server import create_dashboard
from tooling.dashboard.state import DashboardState


def _photo_b64(seed: int, size=(640, 360)) -> str:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
    return base64.b64encode(buf.getvalue()).decode()


def busy_state(streams: int = 24, windows: int = 6, products: int = 200) -> DashboardState:
    """A full view: every stream with its windows shown, each with a keyframe, tagged from the catalog."""
    s = DashboardState()
    photo = _photo_b64(0)
    for p in range(products):
        s.on_product({"product_id": f"p{p}", "title": f"Product {p}", "images_b64": [photo]})
    for i in range(streams):
        for k in range(windows):
            win = [k * 10_000, k * 10_000 + 10_000]
            s.on_window({"stream_id": f"live-{i}", "start_ms": win[0], "end_ms": win[1], "closed_at": 100.0 + k,
                         "text": "hi everyone look at this red ceramic mug", "keyframes_b64": [_photo_b64(i * 100 + k)]})
            s.on_tag({"stream_id": f"live-{i}", "window": win, "claimed": True, "tagged_at": 102.0 + k,
                      "products": [{"product_id": f"p{j}", "title": f"Product {j}", "score": 0.8} for j in range(3)]})
    return s


def _client(state: DashboardState) -> TestClient:
    # no lifespan: the feed is not started, nothing connects to Kafka
    return TestClient(create_dashboard(Settings(kafka_bootstrap="127.0.0.1:9", topic_prefix="srv"), state))


def test_api_state_names_thumbnails_by_url_and_stays_small() -> None:
    client = _client(busy_state())
    r = client.get("/api/state")
    assert r.status_code == 200 and b"data:image" not in r.content
    assert len(r.content) < 150_000, len(r.content)  # 24 streams x 6 windows, 200 products
    w = r.json()["streams"][0]["windows"][0]
    for url in (w["thumb"], w["products"][0]["thumb"]):
        img = client.get(url)
        assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(img.content)).size) <= 160
    assert client.get("/thumbs/0000.jpg").status_code == 404


def test_the_favicon_is_served() -> None:
    r = _client(DashboardState()).get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
