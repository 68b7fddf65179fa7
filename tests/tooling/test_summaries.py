import json

from encoders.dataset import AsrChunk, Dataset, MomentRecord, ProductRecord
from engines.summarize import build_summarizer
from tooling.summaries import evaluate_summarizer, read_summaries, summarize_dataset


def make_dataset(root) -> Dataset:
    products = [ProductRecord("p1", "Ceramic Coffee Mug", brand="Arlo", attributes={"material": "ceramic"}),
                ProductRecord("p2", "Desk Lamp")]
    moments = [
        MomentRecord("m1", "live", "s1", "p1", asr=[AsrChunk(0, 900, "um so the Arlo ceramic coffee mug"),
                                                    AsrChunk(900, 2000, "350ml and $12 today")]),
        MomentRecord("m2", "live", "s1", "p2", asr=[AsrChunk(2000, 3000, "uh")]),
    ]
    ds = Dataset(root=root, products=products, moments=moments)
    ds.save()
    return Dataset.load(root)


def test_summaries_file_has_one_row_per_moment_and_is_reused(tmp_path):
    ds = make_dataset(tmp_path)
    path, computed = summarize_dataset(ds, build_summarizer("extractive"), "extractive")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert computed == 2 and [r["moment_id"] for r in rows] == ["m1", "m2"]
    assert rows[1]["summary"]["source"] == "empty"
    assert read_summaries(path)["m1"].has_product
    _, again = summarize_dataset(ds, build_summarizer("extractive"), "extractive")
    assert again == 0


def test_evaluation_reports_clean_and_hostile_sets(tmp_path):
    ds = make_dataset(tmp_path)
    result = evaluate_summarizer(ds, build_summarizer("extractive"))
    assert result["clean"]["windows"] == 2 and result["clean"]["schema_valid_rate"] == 1.0
    assert result["clean"]["name_recall"] > 0 and result["hostile"]["leak_rate"] == 0.0
