"""`ampere bench hotpath`: the window stage's per-keyframe work, the path before and after each change
measured side by side in one run over the same frames (ratios; the machine is shared)."""

from __future__ import annotations

import base64
import io
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from streams.keyframes import HIST_BINS, THUMB_SIDE, FrameCandidate, decode_image, make_candidate


# ------------------------------------------------------------------ the path before (kept here to compare)
def _old_sharpness(img: Image.Image) -> float:
    g = np.asarray(img.convert("L").resize((128, 128)), dtype=np.float32)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def _old_histogram(img: Image.Image) -> tuple[float, ...]:
    a = np.asarray(img.resize((64, 64)), dtype=np.int32) * HIST_BINS // 256
    idx = a[..., 0] * HIST_BINS * HIST_BINS + a[..., 1] * HIST_BINS + a[..., 2]
    h = np.bincount(idx.ravel(), minlength=HIST_BINS**3).astype(np.float64)
    h /= h.sum()
    return tuple(round(float(x), 5) for x in h)


def old_keyframe(ts_ms: int, data: bytes) -> FrameCandidate:
    """Full decode, bicubic thumbnail, two bicubic score copies (the path before)."""
    img = decode_image(data)
    thumb = img.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=85)
    return FrameCandidate(ts_ms, base64.b64encode(buf.getvalue()).decode("ascii"), _old_sharpness(thumb), _old_histogram(thumb))


def new_keyframe(ts_ms: int, data: bytes) -> FrameCandidate:
    """What the window stage does now (``streams.worker.ingest``): decode shrunk, one box-filtered score copy."""
    return make_candidate(ts_ms, decode_image(data, shrink_to=THUMB_SIDE))


# ------------------------------------------------------------------ timing
def best_ms(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of ``fn``, in ms per item (``n`` items a run)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times) / max(1, n)


def frames_at(datas: Sequence[bytes], size: tuple[int, int] | None) -> list[bytes]:
    """The frames as JPEG (q90), resized to ``size`` (a broadcast frame size) when given."""
    if size is None:
        return list(datas)
    out = []
    for d in datas:
        buf = io.BytesIO()
        Image.open(io.BytesIO(d)).convert("RGB").resize(size, Image.Resampling.BICUBIC).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def old_encode_state(st) -> bytes:
    """The changelog value as ``json.dumps`` wrote it (the path before)."""
    return json.dumps(st.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def state_row(states: Sequence) -> dict:
    """Old vs new changelog encode over the same states (every state a stream passes through)."""
    from streams.worker.window_stage import encode_state

    t_old = best_ms(lambda: [old_encode_state(s) for s in states], len(states))
    t_new = best_ms(lambda: [encode_state(s) for s in states], len(states))
    mean_kib = statistics.mean(len(encode_state(s)) for s in states) / 1024
    return {"what": "state encode", "n": len(states), "old_ms": t_old, "new_ms": t_new, "ratio": t_new / t_old,
            "mean_state_kib": mean_kib, "load_avg_1m": os.getloadavg()[0]}


def replayed_states(ds, max_streams: int = 8) -> list:
    """The states the sample's first live streams pass through, record by record, as the stage builds them."""
    from streams.kafka.topics import TopicNames
    from streams.sdk.publish import stream_messages
    from streams.settings import Settings
    from streams.worker.ingest import apply_message, window_config
    from streams.worker.windowing import StreamState

    settings, topics = Settings(), TopicNames("bench")
    cfg, streams = window_config(settings), ds.streams()
    out = []
    for sid in sorted(k for k, v in streams.items() if v and v[0].domain == "live")[:max_streams]:
        st = None
        for i, m in enumerate(sorted(stream_messages(ds, sid, streams[sid], topics), key=lambda m: m.ts_ms)):
            st, _, _ = apply_message(m.topic, m.value, st, 0.0, settings, cfg, topics, offset=i)
            out.append(StreamState.from_dict(st.to_dict()))
    return out


def run_hotpath(frame_files: Sequence[Path], out_dir: Path, console, ds=None) -> list[dict]:
    """Old vs new keyframe path on the sample frames as they are and at 1280x720, and old vs new state
    encode over replayed states; writes hotpath.json/.md."""
    raw = [p.read_bytes() for p in frame_files]
    rows = []
    for label, size in (("sample frames", None), ("1280x720", (1280, 720))):
        datas = frames_at(raw, size)
        old = [old_keyframe(i, d) for i, d in enumerate(datas)]
        new = [new_keyframe(i, d) for i, d in enumerate(datas)]
        rank_same = statistics.mean(  # does the sharper of two neighbouring frames stay the sharper?
            (a.sharpness > b.sharpness) == (c.sharpness > d.sharpness)
            for a, b, c, d in zip(old, old[1:], new, new[1:], strict=False)
        ) if len(old) > 1 else 1.0
        hist_tv = statistics.mean(0.5 * float(np.abs(np.subtract(a.hist, b.hist)).sum()) for a, b in zip(old, new, strict=True))
        t_old = best_ms(lambda datas=datas: [old_keyframe(i, d) for i, d in enumerate(datas)], len(datas))
        t_new = best_ms(lambda datas=datas: [new_keyframe(i, d) for i, d in enumerate(datas)], len(datas))
        rows.append({"frames": label, "n": len(datas), "old_ms": t_old, "new_ms": t_new, "ratio": t_new / t_old,
                     "sharper_of_pair_agrees": rank_same, "hist_tv_mean": hist_tv, "load_avg_1m": os.getloadavg()[0]})
    state = state_row(replayed_states(ds)) if ds is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "hotpath.json").write_text(json.dumps({"rows": rows, "state": state}, indent=2) + "\n")
    lines = [("Keyframe path of the window stage (decode, thumbnail, JPEG, scores), old vs new in one run, "
             "best of 5, ms per frame."), "",
             "| frames | n | old ms | new ms | new / old | sharper-of-pair agrees | histogram TV (mean) | load (1 min) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['frames']} | {r['n']} | {r['old_ms']:.2f} | {r['new_ms']:.2f} | {r['ratio']:.2f} | "
              f"{100 * r['sharper_of_pair_agrees']:.0f} % | {r['hist_tv_mean']:.3f} | {r['load_avg_1m']:.1f} |" for r in rows]
    if state:
        lines += ["", (f"Window state encode (changelog value), {state['n']} states of replayed sample streams "
                       f"(mean {state['mean_state_kib']:.1f} KiB): json.dumps {state['old_ms']:.3f} ms, pydantic-core "
                       f"{state['new_ms']:.3f} ms, new / old {state['ratio']:.2f} (load {state['load_avg_1m']:.1f}).")]
    (out_dir / "hotpath.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))
    return rows
