"""The gateway's ASGI app (FastAPI): HTTP endpoints and one WebSocket per stream.

    POST /v1/streams/{stream_id}/events      JSON start / end / product_switch marker
    POST /v1/streams/{stream_id}/asr         JSON ASR chunk
    POST /v1/streams/{stream_id}/keyframes   multipart (ts_ms + image file) or JSON with image_b64
    WS   /v1/streams/{stream_id}/ws          JSON messages {"kind": "event"|"asr"|"keyframe", ...}
    GET  /healthz                            the process answers
    GET  /readyz                             the broker can be used (503 + Retry-After while it cannot)
    GET  /metrics                            Prometheus: records answered by kind and status, publish latency, WebSockets

Every accepted message is answered with where the broker stored it (202 + topic/partition/offset),
only after the broker acknowledged it. Refusals are 4xx with ``{"error": reason}``; a WebSocket is
closed with 1008 (API key), 1009 (message too big) or 1013 (too many connections, try again later).
Bodies are counted while they stream in; images and big JSON are decoded in threads, a few at once.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from streams.gateway import metrics, records
from streams.gateway.limits import EVENT_BODY_BYTES, RateLimiter, asr_body_limit, body_limit
from streams.gateway.publisher import Publisher, PublishError
from streams.gateway.records import ClientError, Outbound
from streams.kafka.topics import TopicNames
from streams.settings import Settings

__all__ = ["Gateway", "body_limit", "create_gateway"]

T = TypeVar("T")

WS_POLICY_VIOLATION = 1008  # missing or wrong API key
WS_MESSAGE_TOO_BIG = 1009  # a message over body_limit
WS_TRY_AGAIN_LATER = 1013  # AMPERE_INGEST_MAX_WEBSOCKETS connections already open
WS_REASON_BYTES = 123  # the most a close frame's reason may hold
INLINE_JSON_BYTES = 64 * 1024  # bigger JSON is decoded in a thread, like images


class Gateway:
    """What the endpoints share: settings, topics, rate limiter, publisher, clock, decode slots."""

    def __init__(self, settings: Settings, publisher: Publisher, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.publisher, self.clock = settings, publisher, clock
        self.topics = TopicNames(settings.topic_prefix)
        self.limiter = RateLimiter(settings.ingest_rate_per_s, settings.ingest_burst)
        self.decode_slots = asyncio.Semaphore(settings.ingest_decode_concurrency)
        self.websockets = 0

    def authorize(self, key: str | None) -> None:
        """ClientError 401 unless the API key matches the key or, during a rotation, the next key (no key
        configured = open). Every accepted key is compared, in constant time."""
        expected = self.settings.ingest_api_key
        if not expected:
            return
        accepted = [k for k in (expected, self.settings.ingest_api_key_next) if k]
        given = (key or "").encode()
        if not key or not any([hmac.compare_digest(given, k.encode()) for k in accepted]):  # noqa: C419 - every key compared
            raise ClientError(401, "missing or invalid API key (header X-API-Key or Authorization: Bearer)")

    def admit(self, stream_id: str) -> None:
        """ClientError 429 when the stream is over its rate."""
        wait = self.limiter.acquire(stream_id, self.clock())
        if wait > 0:
            raise ClientError(429, f"stream {stream_id!r} is over {self.settings.ingest_rate_per_s:g} messages/s",
                              retry_after_s=wait)

    async def offload(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in a thread, at most ``ingest_decode_concurrency`` at once (image decoding, big JSON)."""
        async with self.decode_slots:
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def parse_json(self, raw: bytes | str, what: str) -> Any:
        """:func:`records.parse_json`, in a thread when ``raw`` is big."""
        if len(raw) > INLINE_JSON_BYTES:
            return await self.offload(records.parse_json, raw, what)
        return records.parse_json(raw, what)

    async def build(self, kind: str, payload: Any, stream_id: str) -> Outbound:
        """:func:`records.message`; keyframes (decoded to be checked) in a thread."""
        if kind == "keyframe":
            return await self.offload(records.keyframe, payload, stream_id, self.topics, self.settings)
        return records.message(kind, payload, stream_id, self.topics, self.settings)

    async def send(self, out: Outbound) -> dict:
        """Publish and wait for the ack; ClientError 503 when the broker does not acknowledge."""
        try:
            ack = await self.publisher.publish(out.topic, out.key, out.value)
        except PublishError as exc:
            raise ClientError(503, str(exc), retry_after_s=1.0) from exc
        return {"topic": ack.topic, "partition": ack.partition, "offset": ack.offset}


def _api_key(headers: Any, query: Any = None) -> str | None:
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-api-key") or (query.get("api_key") if query is not None else None)


def _error(exc: ClientError) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))} if exc.retry_after_s else None
    return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)


async def _capped_stream(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives; ClientError 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ClientError(413, f"request body of {declared} bytes exceeds the limit of {limit}")
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ClientError(413, f"request body exceeds the limit of {limit} bytes")
        yield chunk


async def _read_capped(request: Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in _capped_stream(request, limit)])


async def _multipart(request: Request, limit: int) -> FormData:
    """The form, parsed while the capped body streams in (at most one file, a few small fields)."""
    parser = MultiPartParser(request.headers, _capped_stream(request, limit), max_files=1, max_fields=8,
                             max_part_size=8 * 1024)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise ClientError(400, f"body is not valid multipart: {exc.message}") from None


async def _keyframe_request(request: Request, stream_id: str, gw: Gateway) -> Outbound:
    limit = body_limit(gw.settings)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await gw.build("keyframe", await gw.parse_json(await _read_capped(request, limit), "body"), stream_id)
    form = await _multipart(request, limit)
    try:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise ClientError(422, "image: multipart file field required")
        data = await upload.read(gw.settings.max_image_bytes + 1)
        payload = {"ts_ms": records.form_int(form.get("ts_ms"), "ts_ms")}
    finally:
        await form.close()
    return await gw.offload(records.keyframe, payload, stream_id, gw.topics, gw.settings, image=data)


def _utf8_size(raw: str | bytes) -> int:
    if isinstance(raw, bytes) or raw.isascii():
        return len(raw)
    return len(raw.encode("utf-8", "surrogatepass"))


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.close(code=code, reason=reason.encode()[:WS_REASON_BYTES].decode(errors="ignore"))


async def _ws_reply(gw: Gateway, stream_id: str, raw: str | bytes) -> dict:
    """The answer to one WebSocket message: the broker's ack or the refusal, with the message's ``ref``."""
    ref, t0 = None, time.monotonic()
    try:
        gw.admit(stream_id)
        msg = await gw.parse_json(raw, "message")
        if not isinstance(msg, dict):
            raise ClientError(422, "message must be a JSON object with a 'kind'")
        ref = msg.pop("ref", None)
        out = await gw.build(str(msg.pop("kind", "")), msg, stream_id)
        reply = {"ok": True, "status": 202, **await gw.send(out)}
        metrics.answered("ws", 202, time.monotonic() - t0)
    except ClientError as exc:
        metrics.answered("ws", exc.status)
        reply = {"ok": False, "status": exc.status, "error": exc.reason}
        if exc.retry_after_s:
            reply["retry_after_s"] = round(exc.retry_after_s, 3)
    return {**reply, "ref": ref}


async def _serve_ws(websocket: WebSocket, stream_id: str, gw: Gateway) -> None:
    """Answer each message in order until the client leaves; close with 1009 on a message over the limit."""
    limit = body_limit(gw.settings)
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        raw = frame["text"] if frame.get("text") is not None else frame.get("bytes") or b""
        size = _utf8_size(raw)
        if size > limit:  # the server refuses bigger frames before reading them (uvicorn ws_max_size)
            await _close(websocket, WS_MESSAGE_TOO_BIG, f"message of {size} bytes exceeds the limit of {limit} bytes")
            return
        await websocket.send_json(await _ws_reply(gw, stream_id, raw))


def create_gateway(
    settings: Settings,
    publisher: Publisher,
    clock: Callable[[], float] = time.monotonic,
    broker_problem: Callable[[], str | None] | None = None,
) -> FastAPI:
    """The ASGI app; the publisher is started and stopped with it. ``broker_problem`` answers /readyz
    (default: the project's broker probe with these settings, 2 s at most)."""
    gw = Gateway(settings, publisher, clock)
    if broker_problem is None:
        from streams.kafka.clients import reachable

        def broker_problem() -> str | None:
            return reachable(settings, timeout_s=2.0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(title="Ampere Stream ingest gateway", version="1", lifespan=lifespan)
    app.state.gateway = gw

    async def handle(request: Request, stream_id: str, kind: str, build) -> JSONResponse:
        t0 = time.monotonic()
        try:
            gw.authorize(_api_key(request.headers))
            gw.admit(stream_id)
            out = await build()
            sent = await gw.send(out)
        except ClientError as exc:
            metrics.answered(kind, exc.status)
            return _error(exc)
        metrics.answered(kind, 202, time.monotonic() - t0)
        return JSONResponse(sent, status_code=202)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.page(), media_type=metrics.CONTENT_TYPE)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        problem = await asyncio.to_thread(broker_problem)
        if problem:
            return JSONResponse({"ready": False, "kafka": problem}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({"ready": True, "kafka": "ok"})

    @app.post("/v1/streams/{stream_id}/events", status_code=202)
    async def post_event(stream_id: str, request: Request) -> JSONResponse:
        async def build() -> Outbound:
            body = await gw.parse_json(await _read_capped(request, EVENT_BODY_BYTES), "body")
            return records.event(body, stream_id, gw.topics)

        return await handle(request, stream_id, "events", build)

    @app.post("/v1/streams/{stream_id}/asr", status_code=202)
    async def post_asr(stream_id: str, request: Request) -> JSONResponse:
        async def build() -> Outbound:
            body = await gw.parse_json(await _read_capped(request, asr_body_limit(settings)), "body")
            return records.asr_chunk(body, stream_id, gw.topics, settings)

        return await handle(request, stream_id, "asr", build)

    @app.post("/v1/streams/{stream_id}/keyframes", status_code=202)
    async def post_keyframe(stream_id: str, request: Request) -> JSONResponse:
        async def build() -> Outbound:
            return await _keyframe_request(request, stream_id, gw)

        return await handle(request, stream_id, "keyframes", build)

    @app.websocket("/v1/streams/{stream_id}/ws")
    async def ws(websocket: WebSocket, stream_id: str) -> None:
        # accepted first, so that every refusal is a close code and reason the client can read
        await websocket.accept()
        try:
            gw.authorize(_api_key(websocket.headers, websocket.query_params))
        except ClientError as exc:
            await _close(websocket, WS_POLICY_VIOLATION, exc.reason)
            return
        cap = settings.ingest_max_websockets
        if gw.websockets >= cap:
            await _close(websocket, WS_TRY_AGAIN_LATER, f"{cap} WebSocket connections are open; try again later")
            return
        gw.websockets += 1
        metrics.WEBSOCKETS.inc()
        try:
            await _serve_ws(websocket, stream_id, gw)
        except WebSocketDisconnect:
            return
        finally:
            gw.websockets -= 1
            metrics.WEBSOCKETS.dec()

    return app
