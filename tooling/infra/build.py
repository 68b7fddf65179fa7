"""Run a long install/build step with a live spinner (elapsed time, log path, last log line)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from tooling.infra.process import tail

HEARTBEAT_S = 60.0


class BuildError(RuntimeError):
    """A fetch/build command failed; the message carries the log path and its tail."""


def format_elapsed(seconds: float) -> str:
    """``75.2`` -> ``'1m15s'``; under a minute -> ``'42s'``."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def run_logged(
    cmd: Sequence[str],
    log_path: Path,
    description: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    console: Console | None = None,
) -> float:
    """Run ``cmd`` to completion with output in ``log_path``; return its wall time in seconds."""
    console = console or Console(stderr=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None, cwd=cwd,
        )
        if not console.is_terminal:  # no live spinner (CI logs): a start line and a heartbeat instead
            console.print(f"{description} (log: {log_path})")
        next_heartbeat = started + HEARTBEAT_S
        with console.status(description) as status:
            while proc.poll() is None:
                now = time.monotonic()
                last = tail(log_path, 1)[-80:]
                status.update(
                    f"{description} [dim]({format_elapsed(now - started)}, log: {log_path})"
                    + (f"\n  [dim]{last}" if last else "")
                    + "[/]"
                )
                if not console.is_terminal and now >= next_heartbeat:
                    console.print(f"  ... still working ({format_elapsed(now - started)})")
                    next_heartbeat = now + HEARTBEAT_S
                time.sleep(0.5)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise BuildError(
            f"{description} failed (exit {proc.returncode}) after {format_elapsed(elapsed)}; "
            f"log: {log_path}\n{tail(log_path, 30)}"
        )
    console.print(f"[green]✓[/] {description} ({format_elapsed(elapsed)})")
    return elapsed
