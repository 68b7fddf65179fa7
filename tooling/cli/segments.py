"""`ampere segments`: a stream's product segments (its timeline), where a product was shown, chapters."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import get_settings

console = Console()
MAX_SEGMENTS = 10_000


def segments(
    stream: Annotated[str | None, typer.Option("--stream", help="The stream whose timeline to list.")] = None,
    product: Annotated[str | None, typer.Option("--product", help="Where this product was claimed (every stream).")] = None,
    chapters_fmt: Annotated[str | None, typer.Option("--chapters", help="Print --stream's segments as chapters: json, vtt or srt.")] = None,
    seller: Annotated[str | None, typer.Option("--seller", help="Only this seller's streams.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_SEGMENTS, help="At most this many segments.")] = 200,
) -> None:
    """List product segments: one stream's timeline (--stream), or the streams and replay times where a
    product was claimed (--product); --seller keeps to one seller's streams; --chapters exports a
    replay's segments for a player."""
    from tooling.chapters import FORMATS, chapters, render

    if (stream is None) == (product is None):
        console.print("[red]give --stream S (a timeline) or --product P (where it was shown)[/red]")
        raise typer.Exit(2)
    if chapters_fmt is not None and (chapters_fmt not in FORMATS or stream is None):
        console.print(f"[red]--chapters takes one of {', '.join(FORMATS)} with --stream[/red]")
        raise typer.Exit(2)
    from streams.worker.wiring import connect_store

    store = connect_store(get_settings())
    try:
        if not store.client.collections.exists(store.name("segment")):
            rows: list[dict] = []
        else:
            where = {"stream_id": stream} if stream is not None else {"product_id": product, "claimed": True}
            if seller is not None:
                where["seller_id"] = seller
            rows = store.find("segment", where, limit, sort_by="start_ms")
    finally:
        store.close()
    if chapters_fmt is not None:
        typer.echo(render(chapters(rows), chapters_fmt), nl=False)
        return
    if not rows:
        console.print(f"no segments for {'stream ' + repr(stream) if stream else 'product ' + repr(product)}")
        raise typer.Exit(1)
    t = Table(title=f"segments of {stream}" if stream else f"where {product} was shown")
    for col in ("stream", "start", "end", "windows", "product", "score", "claimed", "rev", "updated"):
        t.add_column(col)
    now = time.time()
    for r in rows:
        claimed = "yes" if r.get("claimed") else f"no: {r.get('reason') or ''}"
        t.add_row(str(r["stream_id"]), f"{int(r['start_ms']) / 1000:.1f}s", f"{int(r['end_ms']) / 1000:.1f}s",
                  str(r.get("windows")), f"{r.get('product_id')} {r.get('title') or ''}".strip(), f"{float(r.get('score') or 0):.3f}",
                  claimed[:80], str(r.get("revision")), f"{max(0.0, now - float(r.get('updated_at') or now)):.0f}s ago")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add the `segments` command."""
    app.command("segments")(segments)
