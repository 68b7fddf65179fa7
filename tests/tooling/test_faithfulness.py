"""The faithfulness measurement runs on English test windows and the Chinese set, per language."""

from pathlib import Path

from engines.summarize.quality import Truth
from engines.summarize.schema import Attributes, Summary, SummaryRequest
from tests.streams.mini_dataset import make_mini_dataset
from tooling.bench.faithfulness import ZH_WINDOWS, field_rows, llm_stages, markdown, run


def test_extractive_rows_per_language(tmp_path: Path) -> None:
    import dataclasses

    from encoders.dataset import Dataset

    mini = make_mini_dataset(tmp_path)
    ds = Dataset(mini.root, mini.products, [dataclasses.replace(m, split="test") for m in mini.moments])
    rows, fields = run(ds, ["extractive"], english=3)
    assert [(f["stage"], f["language"]) for f in fields] == [("as is", "en"), ("as is", "zh")]
    assert [(r["stage"], r["language"]) for r in rows] == [("as is", "en"), ("as is", "zh")]
    assert rows[1]["windows"] == len(ZH_WINDOWS) and 0 < rows[0]["windows"] <= 3
    for r in rows:
        assert 0.0 <= r["unsupported"] <= 1.0 and 0.0 <= r["foreign"] <= 1.0
    assert markdown(rows).startswith("| engine | stage | language |")


def test_field_kinds_before_and_after_on_the_same_replies() -> None:
    text = "this bucket comes in black, four sizes, thirty dollars"
    reqs = [SummaryRequest("w", text, "en")]
    truth = [Truth("bucket", "", {"color": "black", "size": "large"})]
    raw = [Summary(has_product=True, product_name="bucket", language="en", source="llamacpp",
                   attributes=Attributes(color="four", size="thirty dollars"), price_or_promo="thirty dollars")]
    rows = {r["stage"]: r for r in field_rows("llm", llm_stages(raw, reqs), reqs, truth)}
    before, after = rows["gated"]["fields"], rows["gated + kinds"]["fields"]
    assert before["color"] == {"filled": 1, "verifiable": 1, "correct": 0, "truths": 1, "precision": 0.0, "recall": 0.0}
    assert after["color"]["filled"] == 0 and after["color"]["precision"] is None
    assert before["attributes"]["precision"] == 0.0 and after["attributes"]["verifiable"] == 0
    assert rows["gated + kinds"]["rejected"] == 2 and after["price"]["filled"] == 1
