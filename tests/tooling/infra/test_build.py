import sys
from pathlib import Path

import pytest
from rich.console import Console

from tooling.infra.build import BuildError, format_elapsed, run_logged


def test_format_elapsed() -> None:
    assert format_elapsed(42.9) == "42s"
    assert format_elapsed(75.2) == "1m15s"


def test_run_logged_writes_the_log(tmp_path: Path) -> None:
    log = tmp_path / "ok.log"
    elapsed = run_logged([sys.executable, "-c", "print('built')"], log, "Building", console=Console(quiet=True))
    assert elapsed >= 0
    assert log.read_text().strip() == "built"


def test_run_logged_failure_names_the_log_and_its_tail(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    cmd = [sys.executable, "-c", "import sys; print('compile error here'); sys.exit(3)"]
    with pytest.raises(BuildError) as error:
        run_logged(cmd, log, "Building thing", console=Console(quiet=True))
    assert "exit 3" in str(error.value)
    assert str(log) in str(error.value)
    assert "compile error here" in str(error.value)
