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


@bench_app.command("scaling")
def scaling(
    streams: int = typer.Option(12, help="Streams replayed on every worker count (the same ones each time)."),
    speed: float = typer.Option(4.0, help="Replay speed of every stream (the same offered load each time)."),
    workers: str = typer.Option("1,2,3", help="Worker counts to run, comma-separated."),
    churn_rounds: int = typer.Option(3, help="Rounds of the streams in the join/leave run (0 = skip it)."),
    out: Path = typer.Option(Path("bench/results"), help="Folder for scaling.json and scaling.md."),
) -> None:
    """1, 2 and 3 workers on a 3-broker / 3-node cluster at the same load: windows/s, first-queryable
    p50/p99, windows/s per busy core, and the rebalance pause when a worker joins and when one leaves.
    Uses the cluster the settings point at when it has 3 brokers (`eval "$(ampere infra env)"`), else
    starts a private one on free loopback ports for the run."""
    from rich.console import Console

    from encoders.dataset import Dataset
    from streams.settings import get_settings
    from tooling.bench.scaling import run_scaling
    from tooling.cli.pipeline import ensure_sample, quiet_clients

    quiet_clients()
    counts = [int(n) for n in workers.split(",") if n.strip()]
    run_scaling(get_settings(), Dataset.load(ensure_sample(None)), streams, speed, counts, churn_rounds, Console(), out)


@bench_app.command("hotpath")
def hotpath(
    out: Path = typer.Option(Path("bench/results/hotpath"), help="Folder for hotpath.json and hotpath.md."),
) -> None:
    """The window stage's keyframe path and state encode, old vs new over the same sample in one run (ratios)."""
    from rich.console import Console

    from encoders.dataset import Dataset
    from tooling.bench.hotpath import run_hotpath
    from tooling.cli.pipeline import ensure_sample

    root = ensure_sample(None)
    run_hotpath(sorted((root / "images" / "moments").glob("*/*.jpg")), out, Console(), Dataset.load(root))


@bench_app.command("expiry")
def expiry(
    per_day: int = typer.Option(5_000, help="Moments per simulated day."),
    days: int = typer.Option(3, help="Days of moments; the oldest is expired."),
    out: Path = typer.Option(Path("bench/results"), help="Folder for expiry.json and expiry.md."),
) -> None:
    """Expiring a day of moments: a filtered delete in one collection vs a collection per day dropped
    (starts the local services when they are down)."""
    import uuid

    from rich.console import Console

    from engines.store.weaviate_store import WeaviateStore, connect
    from streams.settings import get_settings
    from tooling.bench.expiry import run_expiry
    from tooling.infra import stack

    settings = get_settings()
    console = Console()
    stack.up(settings, stack.build_services(settings), console)
    store = WeaviateStore(connect(settings.weaviate_url, settings.weaviate_grpc_port, settings.weaviate_api_key),
                          prefix=f"Bench{uuid.uuid4().hex[:6]}")
    try:
        run_expiry(store, per_day, days, out, console)
    finally:
        store.close()


@bench_app.command("sellers")
def sellers(
    count: int = typer.Option(1_000, "--sellers", help="Sellers."),
    per_seller: int = typer.Option(1_000, help="Products per seller."),
    queries: int = typer.Option(1_000, help="Seller-scoped searches per layout."),
    out: Path = typer.Option(Path("bench/results"), help="Folder for sellers.json and sellers.md."),
) -> None:
    """Seller catalogs: one collection filtered on seller_id vs a Weaviate tenant per seller (import time,
    query p50/p99, server memory; starts the local services when they are down)."""
    import uuid

    from rich.console import Console

    from engines.store.weaviate_store import connect
    from streams.settings import get_settings
    from tooling.bench.sellers import run_sellers
    from tooling.infra import stack

    settings = get_settings()
    console = Console()
    stack.up(settings, stack.build_services(settings), console)
    client = connect(settings.weaviate_url, settings.weaviate_grpc_port, settings.weaviate_api_key, timeout_s=120)
    try:
        run_sellers(client, count, per_seller, queries, out, console, f"Bench{uuid.uuid4().hex[:6]}")
    finally:
        client.close()


@bench_app.command("refine-role")
def refine_role(
    streams: int = typer.Option(50, help="Streams replayed in each configuration (the same ones each time)."),
    speed: float = typer.Option(4.0, help="Replay speed of every stream."),
    out: Path = typer.Option(Path("bench/results"), help="Folder for refine-role.json and refine-role.md."),
) -> None:
    """One `--role all` worker vs a provisional worker beside a CPU-bounded refine worker: close → first
    queryable and refined coverage by age (starts the local services when they are down)."""
    from rich.console import Console

    from encoders.dataset import Dataset
    from streams.settings import get_settings
    from tooling.bench.refine_role import run_refine_roles
    from tooling.cli.pipeline import ensure_sample, quiet_clients
    from tooling.infra import stack

    quiet_clients()
    console = Console()
    s = get_settings()
    stack.up(s, stack.build_services(s), console)
    run_refine_roles(s, Dataset.load(ensure_sample(None)), streams, speed, console, out)


@bench_app.command("gpu-check")
def gpu_check(
    out: Path = typer.Option(Path("bench/results"), help="Folder for gpu-check.json and gpu-check.md."),
    only: list[str] = typer.Option([], help="Run only this check (repeat the option); default: every check."),
) -> None:
    """TensorRT parity and throughput vs torch fp16, the vLLM summarizer on the bench windows; without a
    CUDA device it says so, writes nothing and exits 3 (as `make gpu-check`)."""
    from tooling.bench.gpu_check import main

    raise typer.Exit(main(["--out", str(out), *[a for name in only for a in ("--only", name)]]))
