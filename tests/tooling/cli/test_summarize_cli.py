import json

from typer.testing import CliRunner

from tests.tooling.test_summaries import make_dataset
from tooling.cli import app
from tooling.summaries import summaries_path


def test_summarize_writes_the_engine_file(tmp_path):
    make_dataset(tmp_path / "ds")
    result = CliRunner().invoke(app, ["summarize", "--dataset", str(tmp_path / "ds"), "--engine", "extractive"])
    assert result.exit_code == 0, result.output
    rows = summaries_path(tmp_path / "ds", "extractive").read_text().splitlines()
    assert [json.loads(r)["moment_id"] for r in rows] == ["m1", "m2"]


def test_eval_summarizer_writes_json_and_markdown(tmp_path):
    make_dataset(tmp_path / "ds")
    out = tmp_path / "results"
    result = CliRunner().invoke(app, ["eval-summarizer", "--dataset", str(tmp_path / "ds"), "--engine", "extractive",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "summarizer_quality.json").read_text())
    assert data["extractive"]["clean"]["schema_valid_rate"] == 1.0
    assert "| extractive | hostile |" in (out / "summarizer_quality.md").read_text()


def test_unknown_engine_is_a_clear_error(tmp_path):
    make_dataset(tmp_path / "ds")
    result = CliRunner().invoke(app, ["summarize", "--dataset", str(tmp_path / "ds"), "--engine", "gpt"])
    assert result.exit_code == 2 and "unknown summarizer 'gpt'" in result.output
    assert "choose one of llamacpp, openai, vllm, extractive" in result.output
