"""The ``ampere bench`` group: every benchmark writes JSON + a markdown table under bench/results/."""

from __future__ import annotations

from pathlib import Path

import typer

bench_app = typer.Typer(help="Benchmarks (not timed tests): JSON + a markdown table per run.", no_args_is_help=True)


@bench_app.command("profile")
def profile(
    streams: int = typer.Option(200, help="Concurrent streams (enough to saturate the worker)."),
    speed: float = typer.Option(4.0, help="Replay speed of every stream."),
    rate: int = typer.Option(50, help="py-spy samples per second."),
    out: Path = typer.Option(Path("bench/results/profile"), help="Folder for the stacks, flame graph and table."),
) -> None:
    """The worker under py-spy at saturation: flame graph + cost per window (JSON, decode, encode, store ...)."""
    from rich.console import Console

    from encoders.dataset import Dataset
    from streams.settings import get_settings
    from tooling.bench.profile import run_profile
    from tooling.cli.pipeline import ensure_sample, quiet_clients
    from tooling.infra import stack

    quiet_clients()
    console = Console()
    s = get_settings()
    stack.up(s, stack.build_services(s), console)
    run_profile(s, Dataset.load(ensure_sample(None)), streams, speed, console, out, rate)
