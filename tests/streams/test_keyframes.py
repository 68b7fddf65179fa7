"""Unit tests of keyframe decoding, scoring and selection."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from streams.keyframes import (
    FrameCandidate,
    decode_image,
    load_image_bytes,
    make_candidate,
    select_keyframes,
    sharpness,
)
from streams.schemas import BadRecord


def _img(seed: int, color: tuple[int, int, int] = (200, 30, 30)) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = np.zeros((96, 96, 3), dtype=np.uint8) + np.array(color, dtype=np.uint8)
    a[rng.integers(0, 96, 400), rng.integers(0, 96, 400)] = 255
    return Image.fromarray(a)


def test_blur_lowers_sharpness() -> None:
    img = _img(0)
    assert sharpness(img.filter(ImageFilter.GaussianBlur(3))) < sharpness(img) / 4


def test_select_prefers_sharp_and_diverse() -> None:
    red, blue = _img(1, (200, 30, 30)), _img(2, (30, 30, 200))
    cands = [
        make_candidate(0, red),
        make_candidate(1, red.filter(ImageFilter.GaussianBlur(2))),
        make_candidate(2, red),
        make_candidate(3, blue),
    ]
    chosen = select_keyframes(cands, 2)
    assert [c.ts_ms for c in chosen] in ([0, 3], [2, 3])


def test_select_returns_all_when_few() -> None:
    cands = [FrameCandidate(5, "a", 1.0, (1.0,)), FrameCandidate(1, "b", 0.5, (1.0,))]
    assert [c.ts_ms for c in select_keyframes(cands, 4)] == [1, 5]
    assert select_keyframes(cands, 0) == []


def test_decode_and_limits(tmp_path) -> None:
    buf = io.BytesIO()
    _img(3).save(buf, format="PNG")
    raw = buf.getvalue()
    assert decode_image(load_image_bytes(base64.b64encode(raw).decode(), None, max_bytes=10**6)).size == (96, 96)
    p = tmp_path / "f.png"
    p.write_bytes(raw)
    assert load_image_bytes(None, str(p), max_bytes=10**6) == raw
    with pytest.raises(BadRecord, match="over the limit"):
        load_image_bytes(None, str(p), max_bytes=10)
    with pytest.raises(BadRecord, match="undecodable"):
        decode_image(b"not an image")
    with pytest.raises(BadRecord, match="neither"):
        load_image_bytes(None, None, max_bytes=10)
    with pytest.raises(BadRecord, match="not found"):
        load_image_bytes(None, str(tmp_path / "missing.jpg"), max_bytes=10)
