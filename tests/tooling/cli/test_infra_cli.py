from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.settings import get_settings
from tooling.cli import app


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AMPERE_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_status_lists_both_services(empty_home: Path) -> None:
    result = CliRunner().invoke(app, ["infra", "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "kafka" in result.output and "weaviate" in result.output
    assert "no" in result.output


def test_down_when_nothing_runs(empty_home: Path) -> None:
    result = CliRunner().invoke(app, ["infra", "down"])
    assert result.exit_code == 0, result.output
    assert "not running" in result.output


def test_unknown_service_fails_clearly(empty_home: Path) -> None:
    result = CliRunner().invoke(app, ["infra", "up", "zookeeper"])
    assert result.exit_code == 1
    assert "unknown" in result.output
