"""Where a started service is recorded so that other processes (`ampere infra status|down`) find it."""

from __future__ import annotations

import json
import os
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
