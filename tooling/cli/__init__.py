"""The ``ampere`` command line: one Typer app, each concern registers its commands from its own module."""

from __future__ import annotations

import warnings

import typer

warnings.filterwarnings("ignore", message=".*httpx module is deprecated.*")
warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party noise in a user's terminal

from tooling.cli import data, infra, model, pipeline, summarize
from tooling.cli.bench import bench_app

app = typer.Typer(
    name="ampere",
    help="Ampere Stream: real-time multimodal product indexing for live-stream shopping.",
    no_args_is_help=True,
    add_completion=False,
)

for _module in (infra, model, summarize, data, pipeline):
    _module.register(app)
app.add_typer(bench_app, name="bench")

from tooling.cli import ingest, schema  # the outside-client commands

ingest.register(app)
schema.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
