"""`ampere dashboard`: the live web dashboard of the index."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add the dashboard command."""

    @app.command()
    def dashboard(
        host: Annotated[str | None, typer.Option(help="Interface (default AMPERE_DASHBOARD_HOST).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default AMPERE_DASHBOARD_PORT).")] = None,
    ) -> None:
        """Serve the live dashboard: streams, their latest windows and tags, freshness, DLQ rate, search."""
        from tooling.dashboard.server import serve

        s = get_settings()
        host, port = host or s.dashboard_host, port if port is not None else s.dashboard_port
        typer.echo(f"dashboard on http://{host}:{port}/ (topics {s.topic_prefix}.*); Ctrl-C stops it")
        serve(s, host, port)
