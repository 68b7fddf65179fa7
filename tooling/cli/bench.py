"""The ``ampere bench`` group: every benchmark writes JSON + a markdown table under bench/results/."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks (not timed tests): JSON + a markdown table per run.", no_args_is_help=True)
