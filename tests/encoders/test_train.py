"""Training on a tiny synthetic dataset: the loss falls, runs are reproducible, the output serves."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord, ProductRecord
from encoders.registry import fetch_all
from encoders.train import TrainConfig, train

COLOURS = [(220, 30, 30), (30, 200, 40), (30, 60, 220), (230, 200, 20), (150, 40, 200), (20, 200, 210)]
NAMES = ["red sneaker", "green kettle", "blue backpack", "yellow lamp", "purple scarf", "cyan bottle"]


def _image(colour: tuple[int, int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (96, 96), tuple(int(c) for c in rng.integers(0, 60, 3)))
    x, y = (int(v) for v in rng.integers(5, 30, 2))
    ImageDraw.Draw(img).ellipse((x, y, x + 60, y + 60), fill=colour)
    return img


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Dataset:
    root = tmp_path_factory.mktemp("tiny")
    (root / "images").mkdir()
    products, moments = [], []
    for i, (colour, name) in enumerate(zip(COLOURS, NAMES, strict=True)):
        split = "test" if i >= 4 else "train"
        _image(colour, i).save(root / f"images/p{i}.jpg")
        products.append(ProductRecord(product_id=f"p{i}", title=name, images=[f"images/p{i}.jpg"], split=split))
        for j, domain in enumerate(("live", "video")):
            frames = []
            for k in range(2):
                rel = f"images/m{i}{j}{k}.jpg"
                _image(colour, 100 * i + 10 * j + k).save(root / rel)
                frames.append(Keyframe(ts_ms=k * 1000, path=rel))
            moments.append(MomentRecord(moment_id=f"m{i}{j}", domain=domain, stream_id=f"s{i}{j}", product_id=f"p{i}",
                                        asr=[AsrChunk(0, 900, f"look at this {name} guys")], keyframes=frames,
                                        split=split))
    ds = Dataset(root=root, products=products, moments=moments)
    ds.save()
    fetch_all()
    return ds


def test_training_runs_reproducibly_and_serves(tiny_dataset, tmp_path) -> None:
    tc = TrainConfig(epochs=8, batch_size=4, seed=3)
    first = train(tiny_dataset.root, tmp_path / "a", tc)
    second = train(tiny_dataset.root, tmp_path / "b", tc)
    assert first["loss_per_epoch"][-1] < first["loss_per_epoch"][0]
    assert first["loss_per_epoch"] == second["loss_per_epoch"]
    assert (tmp_path / "a/heads.safetensors").read_bytes() == (tmp_path / "b/heads.safetensors").read_bytes()
    metrics = json.loads((tmp_path / "a/metrics.json").read_text())
    assert metrics["test"]["all"]["queries"] == 4 and metrics["dataset"]["moment_text"] == {"asr": 12}

    from engines.encode import EncodeItem, load_encoder

    enc = load_encoder("torch", model_dir=tmp_path / "a", threads=2)
    out = enc.encode([EncodeItem("live", [_image(COLOURS[0], 7)], "red sneaker")])
    assert out.fused.shape == (1, 128) and out.model_version.startswith("ampere-v1-")


def test_summaries_are_computed_for_moments_the_dataset_lacks(tiny_dataset, tmp_path) -> None:
    asked: list[str] = []

    def summarize(moments):
        asked.extend(m.moment_id for m in moments)
        return {m.moment_id: ("" if m.moment_id.endswith("1") else f"product {m.product_id}") for m in moments}

    metrics = train(tiny_dataset.root, tmp_path / "s", TrainConfig(epochs=2, batch_size=4), summarize=summarize)
    assert sorted(asked) == sorted(m.moment_id for m in tiny_dataset.moments)
    assert metrics["dataset"]["moment_text"] == {"summary-computed": 12}
    assert metrics["test_raw_asr"]["moment_text"] == "raw ASR" and metrics["test"]["moment_text"] == "summary"
