import socket
from pathlib import Path

import pytest
from rich.console import Console

from streams.settings import Settings
from tooling.infra import stack
from tooling.infra.service import ServiceError
from tooling.infra.state import ServiceState, load_state, save_state


def _settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(home=tmp_path, **overrides)


def test_port_of() -> None:
    assert stack.port_of("http://127.0.0.1:18080") == 18080
    assert stack.port_of("https://weaviate.example") == 443


def test_services_follow_the_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, weaviate_url="http://127.0.0.1:28080", weaviate_grpc_port=28051,
                         kafka_broker_port=29092, kafka_controller_port=29093)
    kafka, weaviate = stack.build_services(settings)
    assert kafka.ports() == {"broker": 29092, "controller": 29093}
    assert weaviate.ports() == {"http": 28080, "grpc": 28051}
    assert weaviate.version == settings.weaviate_version


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="unknown"):
        stack.build_services(_settings(tmp_path), ["zookeeper"])


def test_up_refuses_a_port_taken_by_someone_else(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        settings = _settings(tmp_path, kafka_broker_port=sock.getsockname()[1])
        with pytest.raises(ServiceError, match="already in use"):
            stack.up(settings, stack.build_services(settings, ["kafka"]), Console(quiet=True))


def test_stale_state_is_reported_not_running_and_cleared_by_down(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    stale = ServiceState(name="kafka", pid=2**22 + 4321, ports={"broker": 1}, data_dir="d",
                         log_path="l", marker="kafka", started_at=0.0)
    save_state(stack.run_dir(settings), stale)
    rows = {row.service: row for row in stack.status(settings)}
    assert not rows["kafka"].running and not rows["kafka"].ready and rows["kafka"].pid is None
    stack.down(settings, ["kafka"], Console(quiet=True))
    assert load_state(stack.run_dir(settings), "kafka") is None
