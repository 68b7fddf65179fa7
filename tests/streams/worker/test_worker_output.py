"""The worker's output redirected to a file or a pipe holds no terminal escape codes."""

from __future__ import annotations

import io

import faust

from streams.worker.main import terminal_only_spinner


def test_a_redirected_worker_writes_no_cursor_escape_codes() -> None:
    """Faust's spinner wrote \\x1b[?25l / \\x1b[?25h into redirected output on every start and stop."""
    out = io.StringIO()  # not a terminal
    app = faust.App("t-spinner", broker="kafka://127.0.0.1:1")
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False, stdout=out)
    terminal_only_spinner(worker)
    if worker.spinner is not None:  # what a log line during start-up and the stop do to it
        worker.spinner.update()
        worker.spinner.finish()
    assert "\x1b" not in out.getvalue() and "\b" not in out.getvalue()
