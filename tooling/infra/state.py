"""Where a started service is recorded so that other processes (`ampere infra status|down`) find it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ServiceState:
    """What is known about one running service."""

    name: str
    pid: int
    ports: dict[str, int]
    data_dir: str
    log_path: str
    marker: str
    started_at: float
    extra: dict[str, str] = field(default_factory=dict)


def state_path(run_dir: Path, name: str) -> Path:
    """The state file of service ``name``."""
    return run_dir / f"{name}.json"


def save_state(run_dir: Path, state: ServiceState) -> Path:
    """Write the state file atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = state_path(run_dir, state.name)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)
    return path


def load_state(run_dir: Path, name: str) -> ServiceState | None:
    """The recorded state of ``name`` or None (missing or unreadable file)."""
    try:
        return ServiceState(**json.loads(state_path(run_dir, name).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def clear_state(run_dir: Path, name: str) -> None:
    """Forget service ``name``."""
    state_path(run_dir, name).unlink(missing_ok=True)


def load_or_create_text(path: Path, make: Callable[[], str]) -> str:
    """The text kept in ``path``, else ``make()`` written there first (owner-only, atomically), so that
    every later start of the same data reads the same value."""
    try:
        text = path.read_text().strip()
        if text:
            return text
    except OSError:
        pass
    text = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
    return text


def recorded_states(run_dir: Path, group: str) -> list[ServiceState]:
    """The states of ``group`` (``kafka``) and of its cluster nodes (``kafka-1``, ...), in node order."""
    names = [group] + sorted(
        (path.stem for path in run_dir.glob(f"{group}-*.json") if path.stem[len(group) + 1:].isdigit()),
        key=lambda name: int(name.rsplit("-", 1)[1]),
    )
    return [state for name in names if (state := load_state(run_dir, name)) is not None]
