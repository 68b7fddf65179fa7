"""The dashboard web app (Starlette): one page, its state as JSON, live updates as server-sent events,
and a search endpoint (text and/or an uploaded image → nearest catalog products and live moments)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from streams.kafka.topics import TopicNames
from streams.keyframes import decode_image
from streams.settings import Settings
from streams.worker.image_source import decode_b64
from tooling.dashboard.feed import Feed
from tooling.dashboard.state import DashboardState

log = logging.getLogger("ampere.dashboard")
STATIC = Path(__file__).parent / "static"
MAX_QUERY_IMAGE_BYTES = 8 * 1024 * 1024


class Searcher:
    """Encodes a query like a catalog product and asks the store; the encoder loads on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._encoder = None
        self._store = None
        self._lock = asyncio.Lock()

    async def _engines(self):
        async with self._lock:
            if self._encoder is None:
                from streams.worker.wiring import build_encoder_from, build_store_from

                self._encoder = await asyncio.to_thread(build_encoder_from, self.settings)
                self._store = await asyncio.to_thread(build_store_from, self.settings)
        return self._encoder, self._store

    async def search(self, text: str | None, image: Image.Image | None, limit: int = 5,
                     seller: str | None = None) -> dict[str, list[dict]]:
        """Products and live moments nearest to the query (only ``seller``'s when given)."""
        from engines.encode.base import EncodeItem
        from streams.worker.stages import query_vectors, search_index, seller_filter, spoken_terms

        encoder, store = await self._engines()
        item = EncodeItem(domain="product", images=[image] if image is not None else [], text=text or None)
        emb = await asyncio.to_thread(encoder.encode, [item])
        vectors, spoken = query_vectors(emb), spoken_terms(text or "")
        where = seller_filter(seller)
        products = await asyncio.to_thread(search_index, store, "product", vectors, spoken, limit, where)
        moments = await asyncio.to_thread(search_index, store, "live", vectors, spoken, limit, where)
        return {
            "products": [{"product_id": h.properties.get("product_id"), "seller_id": h.properties.get("seller_id") or None,
                          "title": h.properties.get("title"),
                          "score": round(h.score, 4)} for h in products],
            "moments": [{"stream_id": h.properties.get("stream_id"), "seller_id": h.properties.get("seller_id") or None, "start_ms": int(h.properties.get("start_ms") or 0),
                         "end_ms": int(h.properties.get("end_ms") or 0), "sentence": h.properties.get("sentence"),
                         "score": round(h.score, 4)} for h in moments],
        }

    async def segments(self, where: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Stored product segments whose properties equal ``where``, latest first."""
        _, store = await self._engines()
        if not await asyncio.to_thread(store.client.collections.exists, store.name("segment")):
            return []
        rows = await asyncio.to_thread(store.find, "segment", where, limit, "start_ms")
        keep = ("segment_id", "stream_id", "seller_id", "start_ms", "end_ms", "product_id", "title", "score",
                "claimed", "windows", "revision", "updated_at")
        return sorted(({k: r.get(k) for k in keep} for r in rows), key=lambda r: -(r.get("updated_at") or 0))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def parse_query(body: dict[str, Any]) -> tuple[str | None, Image.Image | None]:
    """Text and image of a search request; ValueError with a readable reason when unusable."""
    text = (body.get("text") or "").strip() or None
    image = None
    raw = body.get("image_b64")
    if raw:
        if "," in raw and raw.startswith("data:"):
            raw = raw.split(",", 1)[1]
        # the worker's own decoders: size bound before decoding, format allow-list, pixel (bomb) limit
        image = decode_image(decode_b64(raw, MAX_QUERY_IMAGE_BYTES))
    if text is None and image is None:
        raise ValueError("give a text or an image")
    return text, image


def create_dashboard(settings: Settings, state: DashboardState | None = None, history: int = 200) -> Starlette:
    """The ASGI app; it follows the topics of ``settings.topic_prefix`` while it runs."""
    seller = settings.dashboard_seller or None
    state = state or DashboardState(seller=seller)
    feed = Feed(settings, TopicNames(settings.topic_prefix), state, history)
    searcher = Searcher(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await feed.start()
        try:
            yield
        finally:
            await feed.stop()
            searcher.close()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def api_state(request: Request) -> Response:
        snap = state.snapshot()
        snap["topic_prefix"] = settings.topic_prefix
        return JSONResponse(snap)

    async def thumb(request: Request) -> Response:
        jpeg = state.thumb_bytes(request.path_params["tid"])
        if jpeg is None:
            return Response(status_code=404)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    async def events(request: Request) -> Response:
        q = feed.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                while True:
                    try:
                        update = await asyncio.wait_for(q.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {json.dumps(update)}\n\n"
            finally:
                feed.unsubscribe(q)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def search(request: Request) -> Response:
        try:
            body = await request.json()
            text, image = parse_query(body if isinstance(body, dict) else {})
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        try:
            asked = body.get("seller") if isinstance(body.get("seller"), str) and body.get("seller") else None
            if seller is not None and asked not in (None, seller):
                return JSONResponse({"error": "this dashboard shows one seller only"}, status_code=403)
            res = await searcher.search(text, image, seller=seller or asked)
        except Exception as exc:  # noqa: BLE001 - the page shows why, the server keeps going
            log.warning("search failed: %s", exc)
            return JSONResponse({"error": f"search failed: {type(exc).__name__}: {exc}"}, status_code=503)
        for p in res["products"]:
            p["thumb"] = state.product_thumb(p["product_id"])
        for m in res["moments"]:
            m["thumb"] = state.window_thumb(m["stream_id"], m["start_ms"], m["end_ms"])
            m["text"] = state.window_text(m["stream_id"], m["start_ms"], m["end_ms"])
        return JSONResponse(res)

    async def segments(request: Request) -> Response:
        """Where a product was claimed (``?product=P``), or one stream's timeline (``?stream=S``), newest first;
        ``seller=`` keeps to one seller (a seller's dashboard always does)."""
        q = request.query_params
        product, stream, asked = q.get("product"), q.get("stream"), q.get("seller") or None
        if (product is None) == (stream is None) or any(v is not None and not 0 < len(v) <= 200 for v in (product, stream, asked)):
            return JSONResponse({"error": "give product=P or stream=S (at most 200 characters)"}, status_code=400)
        if seller is not None and asked not in (None, seller):
            return JSONResponse({"error": "this dashboard shows one seller only"}, status_code=403)
        where: dict[str, Any] = {"product_id": product, "claimed": True} if product is not None else {"stream_id": stream}
        if seller or asked:
            where["seller_id"] = seller or asked
        try:
            rows = await searcher.segments(where, 200)
        except Exception as exc:  # noqa: BLE001 - the page shows why, the server keeps going
            log.warning("segments failed: %s", exc)
            return JSONResponse({"error": f"segments failed: {type(exc).__name__}: {exc}"}, status_code=503)
        return JSONResponse({"segments": rows})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"live": True, "following": all(e.is_set() for e in feed.ready)})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/state", api_state),
            Route("/thumbs/{tid:str}.jpg", thumb),
            Route("/favicon.ico", favicon),
            Route("/api/events", events),
            Route("/api/search", search, methods=["POST"]),
            Route("/api/segments", segments),
            Route("/healthz", healthz),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the dashboard until stopped (uvicorn, access log off)."""
    import uvicorn

    # open event streams never end by themselves: give them 3 s on shutdown
    uvicorn.run(create_dashboard(settings), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=3)
