"""Unit tests of keyframe decoding, scoring and selection."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from streams.keyframes import (
    FrameCandidate,
    check_pixel_budget,
    decode_image,
    decode_images,
    image_size,
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


def test_decode_and_limits() -> None:
    buf = io.BytesIO()
    _img(3).save(buf, format="PNG")
    assert decode_image(buf.getvalue()).size == (96, 96)
    with pytest.raises(BadRecord, match="undecodable"):
        decode_image(b"not an image")


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    """A 13k x 13k PNG is a few hundred KB on the wire; its header alone must sink it."""
    buf = io.BytesIO()
    Image.new("1", (13_000, 13_000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 1_000_000
    with pytest.raises(BadRecord, match="exceeds the (pixel )?limit"):
        decode_image(buf.getvalue(), max_pixels=40_000_000)
    small = io.BytesIO()
    Image.new("RGB", (300, 300)).save(small, format="PNG")
    with pytest.raises(BadRecord, match="exceeds the limit"):
        decode_image(small.getvalue(), max_pixels=50_000)


def test_only_plain_image_formats_are_opened() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(BadRecord, match="undecodable"):
        decode_image(eps)


def _encoded(size: tuple[int, int], fmt: str = "PNG", mode: str = "1") -> bytes:
    """A large image that is small on the wire (one colour)."""
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format=fmt)
    return buf.getvalue()


def test_the_pixel_budget_is_checked_from_headers() -> None:
    big = _encoded((4000, 4000))
    assert len(big) < 50_000 and image_size(big) == (4000, 4000)
    check_pixel_budget([big] * 4, 40_000_000, 64_000_000)
    with pytest.raises(BadRecord, match="pixel budget of 64000000 pixels"):
        check_pixel_budget([big] * 17, 40_000_000, 64_000_000)
    with pytest.raises(BadRecord, match="exceeds the limit"):
        check_pixel_budget([big], 10_000_000, 64_000_000)
    with pytest.raises(BadRecord, match="undecodable"):
        check_pixel_budget([big, b"not an image"], 40_000_000, 64_000_000)


def test_decode_images_refuses_past_the_budget_before_decoding(monkeypatch) -> None:
    import streams.keyframes as kf

    decoded: list[bytes] = []
    monkeypatch.setattr(kf, "decode_image", lambda d, *a: decoded.append(d))
    with pytest.raises(BadRecord, match="pixel budget"):
        decode_images([_encoded((4000, 4000))] * 17, 40_000_000, 64_000_000)
    assert decoded == []


@pytest.mark.parametrize("fmt,mode", [("PNG", "1"), ("PNG", "P"), ("JPEG", "RGB")])
def test_large_images_are_decoded_down_to_the_short_side(fmt: str, mode: str) -> None:
    img = decode_image(_encoded((4000, 3000), fmt, mode), shrink_to=512)
    assert img.mode == "RGB" and img.size == (683, 512)
    assert decode_image(_encoded((300, 200), fmt, mode), shrink_to=512).size == (300, 200), "small ones stay"
    assert decode_image(_encoded((4000, 3000), fmt, mode)).size == (4000, 3000), "no shrink unless asked"
