"""Encoder throughput benchmark: images/s and texts/s per engine and batch size, ratios vs torch."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from engines.encode import EncodeItem, load_encoder

Report = Callable[[str], None]


def bench_images(n: int, seed: int = 0) -> list[Image.Image]:
    """Deterministic synthetic photos (colour fields with shapes), 320x240."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = Image.new("RGB", (320, 240), tuple(int(c) for c in rng.integers(0, 255, 3)))
        draw = ImageDraw.Draw(img)
        for _ in range(3):
            x, y = (int(v) for v in rng.integers(0, 200, 2))
            draw.rectangle((x, y, x + 80, y + 60), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        out.append(img)
    return out


def bench_texts(n: int) -> list[str]:
    """Product-summary-like sentences of varied length."""
    words = ["red", "blue", "wireless", "running", "shoe", "earbuds", "silk", "scarf", "bottle", "750ml", "size", "42", "discount", "today", "only"]
    return [" ".join(words[(i + k) % len(words)] for k in range(6 + i % 14)) for i in range(n)]


def _throughput(run: Callable[[list], object], data: Sequence, batch: int, min_items: int) -> float:
    for _ in range(3):  # warm-up: first calls pay lazy initialization (allocator, oneDNN primitives)
        run(list(data[:batch]))
    done, start = 0, time.perf_counter()
    while done < min_items:
        chunk = [data[(done + k) % len(data)] for k in range(batch)]
        run(chunk)
        done += batch
    return done / (time.perf_counter() - start)


def run_benchmark(engines: Sequence[str] = ("torch", "onnx", "onnx-int8"), batches: Sequence[int] = (1, 8, 32),
                  threads: int = 2, min_items: int = 64, rounds: int = 3, report: Report | None = None) -> dict:
    """Measure every engine at every batch size in one run; int8 quality vs fp32 ONNX included.

    Engines are interleaved over ``rounds`` and each point keeps its best round, so a burst of
    load from other processes hurts every engine alike and is mostly filtered out.
    """
    images, texts = bench_images(64), bench_texts(64)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result: dict = {"machine": {"cpu_count": os.cpu_count(), "threads": threads, "loadavg_1m_at_start": load,
                                "platform": platform.platform()},
                    "min_items_per_point": min_items, "rounds": rounds, "rows": []}
    encoders = {engine: load_encoder(engine, threads=threads) for engine in engines}
    best: dict[tuple[str, int], dict] = {}
    for r in range(rounds):
        for batch in batches:
            for engine, enc in encoders.items():
                img_run = lambda ims, e=enc: e.encode([EncodeItem("product", [im]) for im in ims])
                txt_run = lambda ts, e=enc: e.encode([EncodeItem("product", [], t) for t in ts])
                row = best.setdefault((engine, batch), {"engine": engine, "batch": batch,
                                                        "images_per_s": 0.0, "texts_per_s": 0.0})
                row["images_per_s"] = max(row["images_per_s"], round(_throughput(img_run, images, batch, min_items), 2))
                row["texts_per_s"] = max(row["texts_per_s"], round(_throughput(txt_run, texts, batch, min_items), 2))
                if report:
                    report(f"round {r + 1}/{rounds} {engine} batch {batch}: best {row['images_per_s']} images/s, "
                           f"{row['texts_per_s']} texts/s")
    result["rows"] = [best[(e, b)] for e in engines for b in batches]
    vectors: dict[str, dict[str, np.ndarray]] = {}
    items = [EncodeItem("live", images[i : i + 2], texts[i]) for i in range(0, 32, 2)]
    for engine, enc in encoders.items():
        result.setdefault("model_version", enc.model_version)
        out = enc.encode(items)
        vectors[engine] = {"fused": out.fused, "visual": out.visual, "text": out.text}
    torch_rows = {r["batch"]: r for r in result["rows"] if r["engine"] == "torch"}
    for r in result["rows"]:
        ref = torch_rows.get(r["batch"])
        if ref:
            r["images_vs_torch"] = round(r["images_per_s"] / ref["images_per_s"], 2)
            r["texts_vs_torch"] = round(r["texts_per_s"] / ref["texts_per_s"], 2)
    if "onnx" in vectors:
        for other in ("torch", "onnx-int8"):
            if other in vectors:
                result[f"cosine_onnx_vs_{other}"] = {
                    k: {"mean": round(float((vectors["onnx"][k] * vectors[other][k]).sum(1).mean()), 5),
                        "min": round(float((vectors["onnx"][k] * vectors[other][k]).sum(1).min()), 5)}
                    for k in ("fused", "visual", "text")}
    return result


def markdown_table(result: dict) -> str:
    """The result as a markdown table (plus the int8 quality line)."""
    m = result["machine"]
    lines = [(f"Encoder throughput, {result.get('model_version')}, {m['threads']} threads on {m['cpu_count']} CPUs "
             f"(1-min load at start {m['loadavg_1m_at_start']}); end-to-end `encode` incl. preprocessing; "
             f"best of {result.get('rounds', 1)} interleaved rounds."), "",
             "| engine | batch | images/s | x torch | texts/s | x torch |", "| --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        lines.append(f"| {r['engine']} | {r['batch']} | {r['images_per_s']} | {r.get('images_vs_torch', '')} | "
                     f"{r['texts_per_s']} | {r.get('texts_vs_torch', '')} |")
    if "cosine_onnx_vs_onnx-int8" in result:
        c = result["cosine_onnx_vs_onnx-int8"]
        lines += ["", "int8 vs fp32 ONNX cosine (16 live items): " +
                  ", ".join(f"{k} mean {v['mean']} min {v['min']}" for k, v in c.items())]
    return "\n".join(lines) + "\n"


def run_image_chunks(engine: str = "onnx", chunks: Sequence[int] = (1, 2, 4, 8, 16, 32), n_images: int = 32,
                     threads: int = 2, rounds: int = 5, report: Report | None = None) -> dict:
    """Frame tokens of the same ``n_images`` images (a full worker batch: 8 windows x 4 frames) run in
    chunks of each size, interleaved over ``rounds``, best round kept; ms per image and the ratio to
    the largest chunk, plus the largest difference of the tokens (chunking must not change them)."""
    enc = load_encoder(engine, threads=threads)
    images = bench_images(n_images)
    load = os.getloadavg()[0]
    ref_chunk = max(chunks)
    tokens: dict[int, np.ndarray] = {}
    best: dict[int, float] = {}
    for r in range(rounds):
        for chunk in chunks:
            enc.image_batch = chunk
            if r == 0:
                tokens[chunk] = enc.image_tokens(images)  # warm-up: the first call at a new shape allocates
            t0 = time.perf_counter()
            enc.image_tokens(images)
            ms = 1000 * (time.perf_counter() - t0) / n_images
            best[chunk] = min(best.get(chunk, ms), ms)
            if report:
                report(f"round {r + 1}/{rounds} chunk {chunk}: {ms:.2f} ms / image (best {best[chunk]:.2f})")
    rows = [{"chunk": c, "ms_per_image": round(best[c], 3), "vs_largest": round(best[c] / best[ref_chunk], 3),
             "max_abs_token_diff": float(np.abs(tokens[c] - tokens[ref_chunk]).max())} for c in chunks]
    return {"engine": engine, "model_version": enc.model_version, "threads": threads, "n_images": n_images,
            "rounds": rounds, "loadavg_1m_at_start": load, "loadavg_1m_at_end": os.getloadavg()[0], "rows": rows}


def chunks_markdown(result: dict) -> str:
    """The chunk comparison as a markdown table."""
    lines = [(f"Image encode by chunk size, {result['engine']} ({result['model_version']}), {result['threads']} threads, "
              f"the same {result['n_images']} images each time, best of {result['rounds']} interleaved rounds "
              f"(1-min load {result['loadavg_1m_at_start']:.2f} at start, {result['loadavg_1m_at_end']:.2f} at end)."), "",
             "| images per run | ms / image | vs the largest chunk | max token difference |", "| ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['chunk']} | {r['ms_per_image']:.2f} | {r['vs_largest']:.2f} | {r['max_abs_token_diff']:.1e} |"
              for r in result["rows"]]
    return "\n".join(lines) + "\n"
