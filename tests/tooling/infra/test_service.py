import sys
from pathlib import Path

import pytest
from rich.console import Console

from tooling.infra.service import Service, ServiceError


class PythonService(Service):
    """A tiny server stand-in: a Python process that is 'ready' once it wrote its ready file."""

    name = "python"

    def __init__(self, home: Path, code: str) -> None:
        super().__init__(home, home / "data")
        self.code = code

    def is_installed(self) -> bool:
        return True

    def ensure_installed(self, console: Console | None = None) -> None:
        pass

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.code, "ampere-python-service"]

    def ports(self) -> dict[str, int]:
        return {}

    def probe(self) -> bool:
        return (self.data_dir / "ready").exists()

    @property
    def marker(self) -> str:
        return "ampere-python-service"


READY_THEN_SLEEP = "import pathlib, time; pathlib.Path('ready').write_text('1'); time.sleep(60)"


def test_start_ready_stop_start_again(tmp_path: Path) -> None:
    service = PythonService(tmp_path, READY_THEN_SLEEP)
    first = service.start()
    assert service.wait_ready(10) >= 0
    assert service.is_running() and service.start() == first  # start is idempotent
    service.stop()
    assert not service.is_running()
    assert service.start() != first
    service.wait_ready(10)
    service.stop()
    assert not service.is_running()


def test_a_process_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    service = PythonService(tmp_path, "import sys; print('boom: port in use'); sys.exit(2)")
    service.start()
    with pytest.raises(ServiceError, match="exited before it was ready") as error:
        service.wait_ready(10)
    assert "boom: port in use" in str(error.value)
    service.stop()


def test_wait_ready_times_out(tmp_path: Path) -> None:
    service = PythonService(tmp_path, "import time; time.sleep(60)")
    service.start()
    try:
        with pytest.raises(ServiceError, match="not ready after"):
            service.wait_ready(0.5)
    finally:
        service.stop()
    assert not service.is_running()
