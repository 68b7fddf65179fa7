"""`ampere eval` end to end on a tiny dataset with a small deterministic fake encoder."""

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoders.baseline import pooled_branches
from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord, ProductRecord
from engines.encode.base import Embeddings, EncodeItem
from engines.summarize.schema import Summary
from tooling.evaluate import (
    FROZEN_RAW,
    FROZEN_VISUAL,
    FROZEN_VISUAL_RAW,
    NO_SPEECH,
    NO_SPEECH_FUSED,
    EvalConfig,
    ablations,
    evaluate,
    pick_keyframes,
    splice_results,
    write_reports,
)
from tooling.summaries import summaries_path

COLORS = {"red": (220, 20, 20), "blue": (20, 20, 220), "green": (20, 200, 20)}


class FakeEncoder:
    """Visual = mean colour, text = hashed bag of words; fused = their sum, L2-normalized."""

    model_version = "fake-1"
    dim = 32

    def _text(self, text: str | None) -> np.ndarray:
        v = np.zeros(self.dim)
        for w in (text or "").lower().split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % (self.dim - 3) + 3] += 1
        return v

    def encode(self, items: Sequence[EncodeItem]) -> Embeddings:
        vis, txt = np.zeros((len(items), self.dim)), np.zeros((len(items), self.dim))
        for i, it in enumerate(items):
            assert it.images or it.text, "empty items must not reach the encoder"
            if it.images:
                vis[i, :3] = np.mean([np.asarray(im, float).mean(axis=(0, 1)) for im in it.images], axis=0) / 255
            txt[i] = self._text(it.text)

        def unit(x):
            n = np.linalg.norm(x, axis=1, keepdims=True)
            return np.divide(x, n, out=np.zeros_like(x), where=n > 0).astype(np.float32)

        return Embeddings(unit(unit(vis) + unit(txt)), unit(vis), unit(txt), vis.any(1), txt.any(1), self.model_version)


class FakeBackbone:
    """Frozen 'features': mean colour of an image file, hashed bag of words of a text."""

    def encode(self, image_paths, texts):
        def images(paths):
            return np.stack([np.asarray(Image.open(p).convert("RGB"), float).mean(axis=(0, 1)) for p in paths])

        return pooled_branches(image_paths, texts, images, lambda ts: np.stack([FakeEncoder()._text(t) for t in ts]))


@pytest.fixture()
def dataset(tmp_path: Path) -> Dataset:
    products, moments = [], []
    for color, rgb in COLORS.items():
        for kind in ("mug", "vase"):
            pid = f"{color}-{kind}"
            Image.new("RGB", (32, 32), rgb).save(tmp_path / f"{pid}.jpg")
            products.append(ProductRecord(pid, f"{color} {kind}".title(), split="test", group=kind,
                                          images=[f"{pid}.jpg"]))
            for domain in ("live", "video"):
                mid = f"{domain}-{pid}"
                moments.append(MomentRecord(mid, domain, mid, pid, [AsrChunk(0, 1000, f"hi all this {kind} is great")],
                                            [Keyframe(500, f"{pid}.jpg")], split="test"))
    ds = Dataset(tmp_path, products, moments)
    ds.save()
    (tmp_path / "summaries").mkdir()
    with summaries_path(tmp_path, "cached").open("w") as fh:
        for m in moments:
            color = m.product_id.split("-")[0]
            kind = m.product_id.split("-")[1]
            s = Summary(has_product=m.product_id != "green-vase", sentence=f"{color} {kind}", source="extractive")
            fh.write(json.dumps({"moment_id": m.moment_id, "summary": s.model_dump()}) + "\n")
    return Dataset.load(tmp_path)


def test_rows_and_directions(dataset: Dataset):
    result = evaluate(dataset, FakeEncoder(), EvalConfig(summarizers=("cached",)))
    names = [r["name"] for r in result.rows]
    assert names == [a.name for a in ablations(["cached"], baselines=False)]
    rows = {r["name"]: r for r in result.rows}
    for row in result.rows:
        for d in ("live→product", "video→product", "product→live"):
            assert 0.0 <= row[d]["R@1"] <= row[d]["R@5"] <= 1.0
            if d.endswith("→product"):
                assert row[d]["group@1"] >= row[d]["R@1"]
    # colour alone cannot tell a mug from a vase; raw speech names the kind but not the colour
    assert rows["visual only"]["live→product"]["R@1"] < 1.0
    assert rows["text only (raw ASR)"]["live→product"]["R@1"] < 1.0
    # the summary names colour and kind; one summary is empty (a miss in the text-only row)
    text_only = rows["text only (summary: cached)"]["live→product"]
    assert text_only["empty_queries"] == 1 and text_only["R@1"] == pytest.approx(5 / 6)
    fused = rows["visual + summary: cached (AMPere)"]["live→product"]["R@1"]
    assert fused == pytest.approx(5 / 6)  # the empty one falls back to its (ambiguous) keyframes
    assert fused > rows["visual only"]["live→product"]["R@1"]
    # keyframes (colour) + raw speech (kind) resolve every product of this toy set
    assert rows["visual + raw ASR"]["live→product"]["R@1"] == 1.0
    assert result.image_to_image["qualifying_products"] == 0
    assert result.meta["summary_stats"]["cached"] == {"moments": 12, "empty": 2, "fallback": 12}


def test_baseline_and_missing_modality_rows(dataset: Dataset):
    result = evaluate(dataset, FakeEncoder(), EvalConfig(summarizers=("cached",)), backbone=FakeBackbone())
    rows = {r["name"]: r for r in result.rows}
    assert [r["name"] for r in result.rows] == [a.name for a in ablations(["cached"])]
    live = {name: r["live→product"]["R@1"] for name, r in rows.items()}
    # the fake encoder's visual branch is the mean colour, as is the fake frozen feature
    assert live[FROZEN_VISUAL] == pytest.approx(live["visual only"])
    assert live[FROZEN_RAW] == pytest.approx(live["text only (raw ASR)"])
    # a silent window against photo + text products: the rule compares keyframes with photos ...
    assert rows[NO_SPEECH]["products"] == [True, True]
    assert rows[NO_SPEECH]["live→product"]["ranks"] == rows["visual only"]["live→product"]["ranks"]
    assert rows[NO_SPEECH_FUSED]["scoring"] == "fused"
    md = result.markdown()
    assert f"| {FROZEN_VISUAL} |" in md and f"**{NO_SPEECH}** vs visual only" in md


def test_reports_splice_into_existing_prose(dataset: Dataset, tmp_path: Path):
    result = evaluate(dataset, FakeEncoder(), EvalConfig(summarizers=("cached",)))
    md = tmp_path / "RESULTS.md"
    md.write_text("# Results\n\nOur notes.\n")
    write_reports(result, md)
    first = md.read_text()
    assert first.startswith("# Results\n\nOur notes.") and "| visual only |" in first
    write_reports(result, md)
    assert md.read_text().count("### live→product") == 1
    assert json.loads((tmp_path / "RESULTS.json").read_text())["meta"]["encoder"]["model_version"] == "fake-1"
    assert "**visual + summary: cached (AMPere)** vs visual + raw ASR" in first


def test_image_to_image_uses_real_multi_view_products(tmp_path: Path):
    products = []
    for color, rgb in COLORS.items():
        for view in range(2):
            Image.new("RGB", (16, 16), tuple(max(0, c - 10 * view) for c in rgb)).save(tmp_path / f"{color}{view}.jpg")
        products.append(ProductRecord(color, color, images=[f"{color}0.jpg", f"{color}1.jpg"], split="test"))
    products.append(ProductRecord("fake", "fake", images=["red0.jpg", "red1.jpg"], derived="recolor", split="test"))
    moments = [MomentRecord("m", "live", "s", "red", [AsrChunk(0, 1, "red")], [], split="test")]
    result = evaluate(Dataset(tmp_path, products, moments), FakeEncoder(), EvalConfig(summarizers=()))
    i2i = result.image_to_image
    assert i2i["qualifying_products"] == 3 and i2i["gallery_photos"] == 3
    assert i2i["metrics"]["R@1"] == 1.0


def test_pick_keyframes_spreads_evenly():
    m = MomentRecord("m", "live", "s", "p", keyframes=[Keyframe(i, f"{i}.jpg") for i in range(7)])
    assert pick_keyframes(m, 3) == ["0.jpg", "3.jpg", "6.jpg"]
    assert pick_keyframes(m, 10) == [f"{i}.jpg" for i in range(7)]


def test_splice_without_markers_appends():
    out = splice_results("", "table")
    assert out.startswith("# Results") and "table" in out


def test_subset_is_stable_and_shared_by_all_rows(dataset: Dataset):
    from tooling.evaluate import subset

    picked = subset(dataset.moments, 5)
    assert len(picked) == 5 and picked == subset(list(reversed(dataset.moments)), 5)[::-1]
    result = evaluate(dataset, FakeEncoder(), EvalConfig(summarizers=("cached",), max_moments=5))
    counts = {r["live→product"]["n"] + r["video→product"]["n"] for r in result.rows}
    assert counts == {5}


def test_named_sections_are_kept_apart():
    doc = splice_results("# R\n", "main table")
    doc = splice_results(doc, "subset table", "subset")
    doc = splice_results(doc, "main table v2")
    assert "main table v2" in doc and "subset table" in doc and "main table\n" not in doc
    assert doc.count("<!-- ampere eval: start") == 2


def test_cached_only_keeps_summarized_moments(dataset: Dataset):
    path = summaries_path(dataset.root, "cached")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:4]) + "\n")
    result = evaluate(dataset, FakeEncoder(), EvalConfig(summarizers=("cached",), cached_only=True))
    assert result.meta["live_moments"] + result.meta["video_moments"] == 4
    assert result.meta["summary_stats"]["cached"]["moments"] == 4


def _speechless(tmp_path: Path) -> Dataset:
    """Two colours × two kinds; the moments have keyframes but no speech at all."""
    products, moments = [], []
    for color in ("red", "blue"):
        for kind in ("mug", "vase"):
            pid = f"{color}-{kind}"
            Image.new("RGB", (16, 16), COLORS[color]).save(tmp_path / f"{pid}.jpg")
            products.append(ProductRecord(pid, f"{color} {kind}", split="test", images=[f"{pid}.jpg"]))
            moments.append(MomentRecord(f"live-{pid}", "live", pid, pid, [], [Keyframe(0, f"{pid}.jpg")], split="test"))
    ds = Dataset(tmp_path, products, moments)
    ds.save()
    return Dataset.load(tmp_path)


def test_dataset_without_speech_is_evaluated(tmp_path: Path):
    ds = _speechless(tmp_path)
    result = evaluate(ds, FakeEncoder(), EvalConfig(summarizers=("extractive",)), backbone=FakeBackbone())
    rows = {r["name"]: r for r in result.rows}
    assert [r["name"] for r in result.rows] == [a.name for a in ablations(["extractive"])]
    # no speech: the text-only rows have nothing to search with (every query a miss) ...
    assert rows[FROZEN_RAW]["live→product"]["empty_queries"] == 4
    assert rows["text only (raw ASR)"]["live→product"]["empty_queries"] == 4
    # ... and the rows with images rank by the keyframes alone (the colour: the right product in the top 2)
    assert rows[FROZEN_VISUAL]["live→product"]["ranks"] == rows["visual only"]["live→product"]["ranks"]
    assert max(rows["visual only"]["live→product"]["ranks"]) <= 2
    assert rows[FROZEN_VISUAL_RAW]["live→product"]["ranks"] == rows[FROZEN_VISUAL]["live→product"]["ranks"]
    assert "| visual only |" in result.markdown()


def test_photo_only_catalog_is_evaluated_image_to_image(tmp_path: Path):
    products = []
    for color, rgb in COLORS.items():
        for view in range(2):
            Image.new("RGB", (16, 16), tuple(max(0, c - 10 * view) for c in rgb)).save(tmp_path / f"{color}{view}.jpg")
        products.append(ProductRecord(color, "", images=[f"{color}0.jpg", f"{color}1.jpg"], split="test"))
    Dataset(tmp_path, products, []).save()
    result = evaluate(Dataset.load(tmp_path), FakeEncoder(), EvalConfig(summarizers=()), backbone=FakeBackbone())
    assert result.rows == [] and result.image_to_image["metrics"]["R@1"] == 1.0
    assert result.image_to_image["frozen_backbone"]["R@1"] == 1.0
    assert "image→image" in result.markdown()


def test_empty_split_error_says_what_is_missing(tmp_path: Path):
    ds = _speechless(tmp_path)
    with pytest.raises(ValueError, match=r"split 'val' has no moments .*splits in this dataset: test$"):
        evaluate(ds, FakeEncoder(), EvalConfig(split="val", summarizers=()))
    with pytest.raises(ValueError, match=r"split 'val' has no products \(gallery 'split'\)"):
        evaluate(ds, FakeEncoder(), EvalConfig(split="val", gallery="split", summarizers=()))
    single = Dataset(tmp_path, ds.products, [])  # one photo each: no image→image either
    with pytest.raises(ValueError, match=r"no moments .*no product with 2 or more photos"):
        evaluate(single, FakeEncoder(), EvalConfig(summarizers=()))
