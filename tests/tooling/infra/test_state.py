from pathlib import Path

from tooling.infra.state import ServiceState, clear_state, load_state, save_state


def test_state_round_trip_and_clear(tmp_path: Path) -> None:
    state = ServiceState(
        name="kafka", pid=123, ports={"broker": 1, "controller": 2}, data_dir="d", log_path="l",
        marker="m", started_at=1.5,
    )
    save_state(tmp_path, state)
    assert load_state(tmp_path, "kafka") == state
    clear_state(tmp_path, "kafka")
    assert load_state(tmp_path, "kafka") is None


def test_unreadable_state_is_none(tmp_path: Path) -> None:
    (tmp_path / "weaviate.json").write_text("{not json")
    assert load_state(tmp_path, "weaviate") is None
