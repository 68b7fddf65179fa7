"""`ampere infra up|status|down` against the real services, in a private AMPERE_HOME on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.settings import Settings, get_settings
from tooling.cli import app
from tooling.infra import free_ports
from tooling.infra.process import pid_alive
from tooling.infra.stack import build_services
from tooling.infra.state import load_state

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh AMPERE_HOME that borrows the installed services from the real cache (no rebuild)."""
    shared = Settings()
    for service in build_services(shared):
        service.ensure_installed()
    home = tmp_path / "home"
    home.mkdir()
    (home / f"kafka-{shared.kafka_version}").symlink_to(shared.home / f"kafka-{shared.kafka_version}")
    (home / "bin").symlink_to(shared.home / "bin")
    broker, controller, http, grpc = free_ports(4)
    for name, value in {
        "AMPERE_HOME": home, "AMPERE_KAFKA_BROKER_PORT": broker, "AMPERE_KAFKA_CONTROLLER_PORT": controller,
        "AMPERE_WEAVIATE_URL": f"http://127.0.0.1:{http}", "AMPERE_WEAVIATE_GRPC_PORT": grpc,
    }.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    try:
        yield home
    finally:
        CliRunner().invoke(app, ["infra", "down"])
        get_settings.cache_clear()


def test_up_is_idempotent_and_down_stops_everything(private_home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["infra", "up"])
    assert first.exit_code == 0, first.output
    assert first.output.count("ready in") == 2
    pids = {name: load_state(private_home / "run", name).pid for name in ("kafka", "weaviate")}

    again = runner.invoke(app, ["infra", "up"])
    assert again.exit_code == 0, again.output
    assert again.output.count("already running") == 2
    assert {name: load_state(private_home / "run", name).pid for name in pids} == pids

    status = runner.invoke(app, ["infra", "status"], env={"COLUMNS": "250"})
    assert status.exit_code == 0
    for name, pid in pids.items():
        line = next(row for row in status.output.splitlines() if f" {name} " in row)
        assert str(pid) in line and "yes" in line.split("│")[-2]

    down = runner.invoke(app, ["infra", "down"])
    assert down.exit_code == 0, down.output
    assert down.output.count("stopped") == 2
    assert load_state(private_home / "run", "kafka") is None
    assert not any(pid_alive(pid) for pid in pids.values())
