"""Start the dashboard as a child process and wait until it answers (the demo and the tests use this)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx


def spawn_dashboard(env: dict[str, str], log_path: Path, port: int, host: str = "127.0.0.1") -> subprocess.Popen:
    """``ampere dashboard --host HOST --port PORT`` as a child process logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "tooling", "dashboard", "--host", host, "--port", str(port)],
            env=env, stdout=fh, stderr=subprocess.STDOUT,
        )


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None, ok=(200,)) -> float:
    """Seconds until ``url`` answers with a status in ``ok``; TimeoutError / RuntimeError (child died)."""
    t0 = time.time()
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code in ok:
                return time.time() - t0
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode} before {url} answered")
        if time.time() - t0 > timeout_s:
            raise TimeoutError(f"{url} did not answer within {timeout_s:.0f}s")
        time.sleep(0.25)


def stop(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
