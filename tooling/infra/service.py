"""The common life cycle of a locally managed service: install, start, wait until ready, stop."""

from __future__ import annotations

import os
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console

from tooling.infra.process import pid_alive, spawn, stop_pid, tail
from tooling.infra.state import ServiceState


class ServiceError(RuntimeError):
    """A service failed to install, start or become ready."""


class Service(ABC):
    """One local server process; subclasses say how to install, command and probe it."""

    name: str = "service"

    def __init__(self, home: Path, data_dir: Path) -> None:
        self.home = Path(home)
        self.data_dir = Path(data_dir)
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None

    # --- what a subclass provides -----------------------------------------------------------
    @abstractmethod
    def is_installed(self) -> bool:
        """True when everything needed to start is in the cache."""

    @abstractmethod
    def ensure_installed(self, console: Console | None = None) -> None:
        """Fetch/build what is missing into the cache (no-op when installed)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The server command line."""

    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Named ports this instance listens on."""

    @abstractmethod
    def probe(self) -> bool:
        """True when the server answers its readiness check."""

    @property
    @abstractmethod
    def marker(self) -> str:
        """A string found in the process command line (guards against pid reuse)."""

    def environment(self) -> dict[str, str]:
        """Environment of the server process."""
        return dict(os.environ)

    def prepare(self) -> None:
        """Write config / format storage before the first start (default: nothing)."""

    # --- common life cycle ------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / f"{self.name}.out"

    def start(self) -> int:
        """Start the server (installing nothing: call ``ensure_installed`` first); returns its pid."""
        if self.is_running():
            return self.pid  # type: ignore[return-value]
        if not self.is_installed():
            raise ServiceError(f"{self.name} is not installed; run `ampere infra install` first")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self._proc = spawn(self.command(), self.log_path, env=self.environment(), cwd=self.data_dir)
        self.pid = self._proc.pid
        return self.pid

    def is_running(self) -> bool:
        """True when this instance's process is alive (exact for a process started here)."""
        if self._proc is not None:
            return self._proc.poll() is None
        return pid_alive(self.pid, self.marker)

    def wait_ready(self, timeout_s: float = 90.0) -> float:
        """Block until ``probe()`` succeeds; returns seconds waited. Raises if the process dies or times out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if not self.is_running():
                raise ServiceError(
                    f"{self.name} exited before it was ready; log: {self.log_path}\n{tail(self.log_path, 30)}"
                )
            if self.probe():
                return time.monotonic() - started
            time.sleep(0.25)
        raise ServiceError(
            f"{self.name} not ready after {timeout_s:.0f}s; log: {self.log_path}\n{tail(self.log_path, 30)}"
        )

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, wait, then SIGKILL; no-op when not running."""
        if self._proc is not None:  # our own child: no pid-reuse guard needed
            if self._proc.poll() is None:
                stop_pid(self._proc.pid, timeout_s)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        elif self.pid is not None:
            stop_pid(self.pid, timeout_s, self.marker)
        self.pid = None
        self._proc = None

    def state(self) -> ServiceState:
        """What `ampere infra status|down` need to find this process later."""
        if self.pid is None:
            raise ServiceError(f"{self.name} is not started")
        return ServiceState(
            name=self.name, pid=self.pid, ports=self.ports(), data_dir=str(self.data_dir),
            log_path=str(self.log_path), marker=self.marker, started_at=time.time(),
        )


def start_together(services: Sequence[Service]) -> None:
    """Start services at the same time (each prepares its storage, e.g. a Kafka format, in parallel);
    if one fails, the ones started are stopped and the first error is raised."""
    if not services:
        return
    with ThreadPoolExecutor(len(services)) as pool:
        outcomes = [pool.submit(service.start) for service in services]
    errors = [error for outcome in outcomes if (error := outcome.exception()) is not None]
    if errors:
        stop_together(services)
        raise errors[0]


def stop_together(services: Sequence[Service], timeout_s: float = 30.0) -> None:
    """Stop services at the same time (SIGTERM, SIGKILL after ``timeout_s``): a cluster's last nodes
    then never wait out a shutdown that needs a quorum already gone."""
    if services:
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(lambda service: service.stop(timeout_s), services))
