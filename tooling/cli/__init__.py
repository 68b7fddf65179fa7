"""The `ampere` command line: one Typer app, each concern registers its commands from its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.ops.logs import setup_cli_logging
from streams.settings import get_settings

# before the commands import third-party clients: their import-time warnings go to the log, not the screen
setup_cli_logging(get_settings().home, get_settings().log_format)

from tooling.cli import (
    dashboard,
    data,
    helptext,
    infra,
    model,
    pipeline,
    segments,
    store,
    summarize,
)
from tooling.cli.bench import bench_app

helptext.install()

app = typer.Typer(
    name="ampere",
    help="Ampere Stream: real-time multimodal product indexing for live-stream shopping.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ampere-stream {version('ampere-stream')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Ampere Stream: real-time multimodal product indexing for live-stream shopping."""


for _module in (infra, model, summarize, data, pipeline, dashboard, store, segments):
    _module.register(app)
app.add_typer(bench_app, name="bench")

from tooling.cli import ingest, schema  # the outside-client commands

ingest.register(app)
schema.register(app)


def main() -> None:
    """Console-script entry point: a broker that cannot be used (address, credentials, TLS) is one line
    on stderr and exit status 2, from every command."""
    from streams.errors import KafkaUnavailable

    try:
        app()
    except KafkaUnavailable as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise SystemExit(2) from None
