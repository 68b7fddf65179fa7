"""Every `ampere` command must at least load and show its help (annotations resolve, options parse)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tooling.cli import app

runner = CliRunner()

COMMANDS = [[], ["worker"], ["publish"], ["tail"], ["search"], ["demo"], ["bench", "freshness"],
            ["bench", "refine-role"], ["bench", "gpu-check"]]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "ampere")
def test_help_renders(args: list[str]) -> None:
    res = runner.invoke(app, [*args, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


def test_tail_rejects_unknown_topic() -> None:
    res = runner.invoke(app, ["tail", "nonsense"])
    assert res.exit_code != 0


def test_search_refuses_an_unknown_kind_before_loading_anything() -> None:
    """`ampere search --kind foo` printed a 63-line traceback from the store."""
    res = runner.invoke(app, ["search", "--kind", "foo", "--text", "mug"])
    assert res.exit_code == 2 and "product, live, video" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["search", "--limit", "0", "--text", "mug"])
    assert res.exit_code == 2


def test_schema_export_never_creates_docs_in_the_working_folder(tmp_path, monkeypatch) -> None:
    """Outside the checkout it silently created ./docs/schemas/v1."""
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["schema", "export", "--check"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "docs").exists()


def test_bench_gpu_check_without_cuda_says_so_writes_nothing_and_exits_3(tmp_path, monkeypatch) -> None:
    """`make gpu-check` had no `ampere bench` verb; the verb must keep its distinct no-CUDA exit."""
    from tooling.bench import gpu_check

    monkeypatch.setattr(gpu_check, "detect_cuda", lambda: (None, "no CUDA device (test)"))
    res = runner.invoke(app, ["bench", "gpu-check", "--out", str(tmp_path), "--only", "encoder_throughput"])
    assert res.exit_code == gpu_check.NO_CUDA_EXIT, res.output
    assert list(tmp_path.iterdir()) == []
