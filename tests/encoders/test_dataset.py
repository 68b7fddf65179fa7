import json
from pathlib import Path

import pytest

from encoders.dataset import AsrChunk, Dataset, Keyframe, MomentRecord, ProductRecord


def _dataset(root: Path) -> Dataset:
    products = [
        ProductRecord("p1", "Laptop 13 inch", "Fast.", "Electronics", "Apple", {"screen_size": "13 inch"},
                      ["images/p1.jpg"], split="test", group="laptop", price=1299.0, source="npm:x@1"),
        ProductRecord("p2", "Red Laptop", brand="Apple", attributes={"color": "red"}, group="laptop", derived="recolor"),
    ]
    moments = [
        MomentRecord("s-1", "live", "s", "p1", [AsrChunk(0, 900, "hi all"), AsrChunk(900, 2000, "this laptop")],
                     [Keyframe(500, "images/k0.jpg")], split="test"),
        MomentRecord("s-0", "live", "s", "p2", [AsrChunk(3000, 4000, "red one")], []),
        MomentRecord("v-0", "video", "v", "p2", [AsrChunk(0, 800, "red laptop", "en")], []),
    ]
    return Dataset(root, products, moments)


def test_round_trip(tmp_path: Path):
    ds = _dataset(tmp_path)
    ds.save()
    loaded = Dataset.load(tmp_path)
    assert loaded.products == ds.products and loaded.moments == ds.moments


def test_unknown_fields_are_ignored(tmp_path: Path):
    _dataset(tmp_path).save()
    lines = (tmp_path / "products.jsonl").read_text().splitlines()
    d = json.loads(lines[0]) | {"future_field": 1}
    (tmp_path / "products.jsonl").write_text(json.dumps(d) + "\n")
    assert Dataset.load(tmp_path).products[0].product_id == "p1"


def test_split_streams_text(tmp_path: Path):
    ds = _dataset(tmp_path)
    assert [p.product_id for p in ds.split("test").products] == ["p1"]
    assert [m.moment_id for m in ds.streams()["s"]] == ["s-1", "s-0"]
    assert ds.moments[0].asr_text == "hi all this laptop"
    assert ds.products[0].text == "Apple Laptop 13 inch"
    assert ds.products[1].text == "Apple Red Laptop"


def test_missing_products_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="products.jsonl"):
        Dataset.load(tmp_path)


def test_bad_json_names_the_line(tmp_path: Path):
    (tmp_path / "products.jsonl").write_text('{"product_id": "a", "title": "A"}\n{oops\n')
    with pytest.raises(ValueError, match=":2:"):
        Dataset.load(tmp_path)
