from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from encoders.dataset import Dataset
from streams.settings import get_settings
from tooling.cli import data

app = typer.Typer()
data.register(app)


@pytest.fixture()
def home_env(tiny_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AMPERE_HOME", str(tiny_home))
    get_settings.cache_clear()
    yield tiny_home
    get_settings.cache_clear()


def test_simulate_writes_a_dataset_and_replaces_it(home_env: Path, tmp_path: Path):
    out = tmp_path / "demo"
    runner = CliRunner()
    for _ in range(2):
        res = runner.invoke(app, ["simulate", "--out", str(out), "--streams", "1", "--seed", "2"])
        assert res.exit_code == 0, res.output
    ds = Dataset.load(out)
    assert ds.products and ds.moments
    assert not (tmp_path / "demo.partial").exists() and not (tmp_path / "demo.old").exists()


def test_simulate_refuses_a_folder_that_is_not_a_dataset(home_env: Path, tmp_path: Path):
    (tmp_path / "precious.txt").write_text("keep me")
    res = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path)])
    assert res.exit_code == 1 and (tmp_path / "precious.txt").exists()
