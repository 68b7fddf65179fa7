"""The demo starts the dashboard as its own process, prints its URL, and stops it again."""

from __future__ import annotations

import httpx
from rich.console import Console

from streams.settings import Settings
from tooling.dashboard.launch import stop
from tooling.demo import start_dashboard
from tooling.infra import free_port


def test_demo_dashboard_answers_at_the_printed_url(tmp_path) -> None:
    port = free_port()
    console = Console(record=True, width=200)
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:9", topic_prefix="launchtest")
    proc = start_dashboard(settings, port, tmp_path, console)
    try:
        assert proc is not None, (tmp_path / "dashboard-demo.log").read_text()
        url = f"http://127.0.0.1:{port}/"
        assert f"live dashboard: {url}" in console.export_text()
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "Ampere Stream" in page.text
        assert httpx.get(url + "api/state", timeout=10).json()["topic_prefix"] == "launchtest"
        assert start_dashboard(settings, port, tmp_path, console) is None  # port taken: said, not started
        assert "is taken" in console.export_text()
    finally:
        if proc is not None:
            stop(proc, timeout_s=15)
    assert proc.returncode is not None
