import io

import numpy as np
from PIL import Image

from tooling.sim.camera import FRAME_PX, LIVE_CAMERA, VIDEO_CAMERA, shoot


def _photo() -> Image.Image:
    arr = np.zeros((200, 300, 3), np.uint8)
    arr[:, :150] = (200, 30, 30)
    arr[:, 150:] = (30, 30, 200)
    return Image.fromarray(arr)


def test_keyframe_is_a_small_jpeg_of_the_frame_size():
    data = shoot(_photo(), np.random.default_rng(0), LIVE_CAMERA)
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.size == (FRAME_PX, FRAME_PX)
    assert len(data) < 40_000


def test_same_seed_same_bytes_other_seed_other_view():
    a = shoot(_photo(), np.random.default_rng(4), LIVE_CAMERA)
    assert a == shoot(_photo(), np.random.default_rng(4), LIVE_CAMERA)
    assert a != shoot(_photo(), np.random.default_rng(5), LIVE_CAMERA)


def test_camera_changes_the_photo_and_video_changes_it_less():
    ref = np.asarray(_photo().resize((FRAME_PX, FRAME_PX)), np.float32)

    def diff(style) -> float:
        return float(np.mean([np.abs(np.asarray(Image.open(io.BytesIO(shoot(_photo(), np.random.default_rng(s), style))), np.float32) - ref).mean()
                              for s in range(6)]))

    assert diff(LIVE_CAMERA) > 10
    assert diff(VIDEO_CAMERA) < diff(LIVE_CAMERA)
