import hashlib
from pathlib import Path

from encoders.dataset import Dataset
from tooling.sim.simulate import SimulationConfig, simulate


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "dataset.json"}


CONFIG = SimulationConfig(seed=3, products_per_stream=(2, 3), live_keyframes=(2, 3))


def test_same_seed_same_bytes(tiny_home: Path, tmp_path: Path):
    simulate(tiny_home, tmp_path / "a", CONFIG)
    simulate(tiny_home, tmp_path / "b", CONFIG)
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    simulate(tiny_home, tmp_path / "c", SimulationConfig(seed=4, products_per_stream=(2, 3), live_keyframes=(2, 3)))
    assert (tmp_path / "a" / "moments.jsonl").read_bytes() != (tmp_path / "c" / "moments.jsonl").read_bytes()


def test_dataset_shape(tiny_home: Path, tmp_path: Path):
    ds = simulate(tiny_home, tmp_path / "d", CONFIG)
    loaded = Dataset.load(tmp_path / "d")
    assert loaded.products == ds.products and loaded.moments == ds.moments
    ids = {p.product_id for p in ds.products}
    # real variants become products; shoe sizes stay one product; derived near-duplicates exist
    assert {"laptop--13-inch", "laptop--15-inch", "running-shoe", "football"} <= ids
    assert any(p.derived == "recolor" for p in ds.products)
    for p in ds.products:
        assert all((tmp_path / "d" / rel).exists() for rel in p.images)
    # every product: 2 live segments + 1 video; ground truth exists; split follows the product
    by_id = {p.product_id: p for p in ds.products}
    assert len(ds.moments) == 3 * len(ds.products)
    assert all(m.split == by_id[m.product_id].split for m in ds.moments)
    assert {p.split for p in ds.products} <= {"train", "test"}
    for stream in ds.streams().values():
        last_end = -1
        for m in stream:
            assert 2 <= len(m.keyframes) <= 3 and m.asr
            assert m.asr[0].start_ms > last_end
            last_end = m.asr[-1].end_ms
            assert all(m.asr[0].start_ms <= k.ts_ms <= m.asr[-1].end_ms for k in m.keyframes)
            assert all((tmp_path / "d" / k.path).exists() for k in m.keyframes)
    assert all(c.text == c.text.lower() for m in ds.moments for c in m.asr)


def test_demo_set_keeps_first_streams(tiny_home: Path, tmp_path: Path):
    ds = simulate(tiny_home, tmp_path / "e", SimulationConfig(seed=3, streams=1, products_per_stream=(2, 2)))
    assert len({m.stream_id for m in ds.moments if m.domain == "live"}) == 1
    assert sum(m.domain == "video" for m in ds.moments) == 2
