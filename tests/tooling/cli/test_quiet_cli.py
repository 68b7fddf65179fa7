"""A quiet, conventional CLI: --version, JSON logs on request, third-party warnings in the log only."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

from typer.testing import CliRunner

from tooling.cli import app


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"ampere-stream {version('ampere-stream')}"


def test_dashboard_command_loads() -> None:
    res = CliRunner().invoke(app, ["dashboard", "--help"])
    assert res.exit_code == 0 and "--port" in res.output


def _run(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, "AMPERE_HOME": str(tmp_path), **env}
    return subprocess.run([sys.executable, "-c", code], check=False, env=full, capture_output=True, text=True, timeout=120)


def test_warnings_raised_by_libraries_go_to_the_log_not_the_screen(tmp_path) -> None:
    code = (
        "import tooling.cli, warnings\n"
        "warnings.warn_explicit('a third-party warning', UserWarning, 'somelib/mod.py', 7, module='somelib.mod')\n"
        "print('own output')\n"
    )
    res = _run(code, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "own output" and "third-party" not in res.stderr
    assert "a third-party warning" in (tmp_path / "logs" / "ampere.log").read_text()


def test_json_logs_are_one_object_per_line(tmp_path) -> None:
    code = (
        "import logging, tooling.cli\n"
        "logging.getLogger('ampere.worker').warning('window %s closed', 'w1', extra={'stream_id': 's1'})\n"
    )
    res = _run(code, tmp_path, AMPERE_LOG_FORMAT="json")
    lines = [json.loads(line) for line in res.stderr.splitlines()]
    assert len(lines) == 1
    rec = lines[0]
    assert rec["level"] == "warning" and rec["logger"] == "ampere.worker" and rec["message"] == "window w1 closed"
    assert rec["stream_id"] == "s1" and rec["ts"].endswith("Z")
    text = _run(code, tmp_path)
    assert "WARNING" in text.stderr and "window w1 closed" in text.stderr and not text.stderr.startswith("{")
