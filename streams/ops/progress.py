"""Whether the window stage is making progress: set by the stage, read by ``/readyz``.

The stage calls :func:`blocked` while a broker call keeps failing (an outage it waits out) and
:func:`ok` once it goes through; :func:`stopped` records why it gave up. Readiness turns false when
the stage has been blocked longer than a grace period, or stopped, so an orchestrator sees a worker
that cannot move forward although its process and event loop are alive.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_state: dict[str, object] = {"since": None, "why": None, "stopped": None}


def blocked(why: str, now: float | None = None) -> None:
    """The stage is retrying ``why``; the first call of a run of failures sets the start time."""
    with _lock:
        if _state["since"] is None:
            _state["since"] = time.monotonic() if now is None else now
        _state["why"] = why[:500]


def ok() -> None:
    """The stage moved forward: any blocked period ends."""
    with _lock:
        _state["since"] = None
        _state["why"] = None


def stopped(why: str) -> None:
    """The stage stopped for good (``why``): readiness stays false until the process restarts."""
    with _lock:
        _state["stopped"] = why[:500]


def problem(grace_s: float, now: float | None = None) -> str | None:
    """Why the stage cannot make progress (blocked for over ``grace_s``, or stopped); None when fine."""
    with _lock:
        since, why, gone = _state["since"], _state["why"], _state["stopped"]
    if gone:
        return f"window stage stopped: {gone}"
    if since is not None:
        waited = (time.monotonic() if now is None else now) - float(since)  # type: ignore[arg-type]
        if waited > grace_s:
            return f"window stage blocked for {waited:.0f}s: {why}"
    return None


def reset() -> None:
    """Forget everything (tests, a new stage in the same process)."""
    with _lock:
        _state.update(since=None, why=None, stopped=None)
