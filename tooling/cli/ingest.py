"""`ampere ingest serve` (HTTP / WebSocket gateway) and `ampere ingest video FILE`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.kafka import check_reachable
from streams.settings import get_settings

console = Console(stderr=True)
ingest_app = typer.Typer(help="Ways in for broadcasters that do not speak Kafka.", no_args_is_help=True)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@ingest_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default AMPERE_INGEST_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default AMPERE_INGEST_PORT).")] = None,
) -> None:
    """Run the HTTP / WebSocket ingest gateway until stopped."""
    import uvicorn

    from streams.gateway.publisher import KafkaPublisher
    from streams.gateway.server import body_limit, create_gateway
    from streams.kafka.admin import ensure_topics
    from streams.kafka.topics import TopicNames

    s = get_settings()
    host, port = host or s.ingest_host, port or s.ingest_port
    if not s.ingest_api_key and host not in LOOPBACK:
        console.print("[red]refusing to listen beyond loopback without AMPERE_INGEST_API_KEY[/red]")
        raise typer.Exit(2)
    check_reachable(s)
    ensure_topics(s, TopicNames(s.topic_prefix).all(), s.topic_partitions)
    app = create_gateway(s, KafkaPublisher(s, max_request_bytes=body_limit(s) + 4096))
    console.print(f"ingest gateway on http://{host}:{port} → {s.kafka_bootstrap} (auth {'on' if s.ingest_api_key else 'off'})")
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=body_limit(s) + 1024)


@ingest_app.command("video")
def video(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Video file (anything FFmpeg decodes).")],
    transcript: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Sidecar .srt or .vtt.")] = None,
    stream_id: Annotated[str | None, typer.Option(help="Stream id (default: the file name without extension).")] = None,
    mode: Annotated[str, typer.Option(help="Keyframes by 'scene' change or at a fixed 'rate'.")] = "scene",
    every_ms: Annotated[int, typer.Option(help="rate mode: one keyframe per this many ms.")] = 2000,
    threshold: Annotated[float, typer.Option(help="scene mode: color-histogram distance of a cut (0..1).")] = 0.2,
    max_frames: Annotated[int, typer.Option(help="At most this many keyframes.")] = 200,
    markers: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Product markers: .srt or .vtt, each cue starts a product (its text the hint)."),
    ] = None,
    chapters: Annotated[bool, typer.Option(help="Each chapter of the file starts a product (its title the hint).")] = True,
    scene_switches: Annotated[
        bool, typer.Option("--scene-switches", help="Each hard cut (see --switch-threshold) starts a product.")
    ] = False,
    switch_threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="--scene-switches: color-histogram distance of a product cut (default: --threshold)."),
    ] = None,
    min_segment_ms: Annotated[int, typer.Option(min=0, help="--scene-switches: the shortest product segment, in ms.")] = 3000,
) -> None:
    """Publish a video file as a `video` domain stream: keyframes, the transcript as ASR chunks, and a
    product switch at every chapter, marker (--markers) or hard cut (--scene-switches)."""
    from streams.gateway.transcript import TranscriptError, read_transcript
    from streams.gateway.video import NotAVideo, PickConfig, SwitchConfig, analyze, video_messages
    from streams.kafka.admin import ensure_topics
    from streams.kafka.topics import TopicNames
    from streams.sdk.publish import send_all

    if mode not in ("scene", "rate"):
        raise typer.BadParameter("choose scene or rate", param_hint="--mode")
    s = get_settings()
    try:
        cues = read_transcript(transcript) if transcript else []
    except TranscriptError as exc:
        raise typer.BadParameter(str(exc), param_hint="--transcript") from exc
    try:
        marks = read_transcript(markers) if markers else []
    except TranscriptError as exc:
        raise typer.BadParameter(str(exc), param_hint="--markers") from exc
    cfg = PickConfig(mode=mode, every_ms=every_ms, threshold=threshold, max_frames=max_frames)  # type: ignore[arg-type]
    sw_cfg = SwitchConfig(chapters=chapters, scene=scene_switches, min_segment_ms=min_segment_ms,
                          scene_threshold=threshold if switch_threshold is None else switch_threshold)
    try:
        frames, switches = analyze(file, cfg, sw_cfg, marks)
    except NotAVideo as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except Exception as exc:  # any decoder failure is the file's problem
        console.print(f"[red]cannot decode {file.name}:[/red] {exc}")
        raise typer.Exit(1) from exc
    sid = stream_id or file.stem
    topics = TopicNames(s.topic_prefix)
    check_reachable(s)  # a wrong address, CA or password: one line and exit 2, not a traceback
    ensure_topics(s, topics.all(), s.topic_partitions)
    n = asyncio.run(send_all(s, video_messages(sid, frames, cues, topics, switches)))
    console.print(f"published {sid}: {len(frames)} keyframes, {len(cues)} transcript chunks, "
                  f"{len(switches)} product switches ({n} messages)")
    if not switches:
        console.print("one product segment: mark product switches with chapters, --markers or --scene-switches")
    print(sid)


def register(app: typer.Typer) -> None:
    """Add the `ingest` group."""
    app.add_typer(ingest_app, name="ingest")
