"""The faithfulness measurement runs on English test windows and the Chinese set, per language."""

from pathlib import Path

from tests.streams.mini_dataset import make_mini_dataset
from tooling.bench.faithfulness import ZH_WINDOWS, markdown, run


def test_extractive_rows_per_language(tmp_path: Path) -> None:
    import dataclasses

    from encoders.dataset import Dataset

    mini = make_mini_dataset(tmp_path)
    ds = Dataset(mini.root, mini.products, [dataclasses.replace(m, split="test") for m in mini.moments])
    rows = run(ds, ["extractive"], english=3)
    assert [(r["stage"], r["language"]) for r in rows] == [("as is", "en"), ("as is", "zh")]
    assert rows[1]["windows"] == len(ZH_WINDOWS) and 0 < rows[0]["windows"] <= 3
    for r in rows:
        assert 0.0 <= r["unsupported"] <= 1.0 and 0.0 <= r["foreign"] <= 1.0
    assert markdown(rows).startswith("| engine | stage | language |")
