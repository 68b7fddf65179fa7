"""The gateway's ASGI app (FastAPI): HTTP endpoints and one WebSocket per stream.

    POST /v1/streams/{stream_id}/events      JSON start / end / product_switch marker
    POST /v1/streams/{stream_id}/asr         JSON ASR chunk
    POST /v1/streams/{stream_id}/keyframes   multipart (ts_ms + image file) or JSON with image_b64
    WS   /v1/streams/{stream_id}/ws          JSON messages {"kind": "event"|"asr"|"keyframe", ...}
    GET  /healthz

Every accepted message is answered with where the broker stored it (202 + topic/partition/offset),
only after the broker acknowledged it. Refusals are 4xx with ``{"error": reason}``.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from streams.gateway import records
from streams.gateway.limits import RateLimiter
from streams.gateway.publisher import Publisher, PublishError
from streams.gateway.records import ClientError, Outbound
from streams.settings import Settings
from streams.topics import TopicNames

WS_POLICY_VIOLATION = 1008


def body_limit(settings: Settings) -> int:
    """Largest request body: one image in base64 plus room for the JSON around it."""
    return settings.max_image_bytes * 4 // 3 + 64 * 1024


class Gateway:
    """What the endpoints share: settings, topics, rate limiter, publisher, clock."""

    def __init__(self, settings: Settings, publisher: Publisher, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.publisher, self.clock = settings, publisher, clock
        self.topics = TopicNames(settings.topic_prefix)
        self.limiter = RateLimiter(settings.ingest_rate_per_s, settings.ingest_burst)

    def authorize(self, key: str | None) -> None:
        """ClientError 401 unless the API key matches (no key configured = open)."""
        expected = self.settings.ingest_api_key
        if expected and not (key and hmac.compare_digest(key.encode(), expected.encode())):
            raise ClientError(401, "missing or invalid API key (header X-API-Key or Authorization: Bearer)")

    def admit(self, stream_id: str) -> None:
        """ClientError 429 when the stream is over its rate."""
        wait = self.limiter.acquire(stream_id, self.clock())
        if wait > 0:
            raise ClientError(429, f"stream {stream_id!r} is over {self.settings.ingest_rate_per_s:g} messages/s",
                              retry_after_s=wait)

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


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ClientError(413, f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ClientError(413, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: Request, limit: int) -> Any:
    raw = await _read_capped(request, limit)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClientError(400, f"body is not valid JSON: {exc}") from exc


async def _keyframe_request(request: Request, stream_id: str, gw: Gateway) -> Outbound:
    limit = body_limit(gw.settings)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return records.keyframe(await _json_body(request, limit), stream_id, gw.topics, gw.settings)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ClientError(413, f"request body of {declared} bytes exceeds the limit of {limit}")
    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise ClientError(422, "image: multipart file field required")
    data = await upload.read(gw.settings.max_image_bytes + 1)
    ts = form.get("ts_ms")
    if not isinstance(ts, str) or not ts.strip().lstrip("-").isdigit():
        raise ClientError(422, "ts_ms: integer form field required")
    payload = {"ts_ms": int(ts)}
    return records.keyframe(payload, stream_id, gw.topics, gw.settings, image=data)


def create_gateway(settings: Settings, publisher: Publisher, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The ASGI app; the publisher is started and stopped with it."""
    gw = Gateway(settings, publisher, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(title="Ampere Stream ingest gateway", version="1", lifespan=lifespan)
    app.state.gateway = gw

    async def handle(request: Request, stream_id: str, build) -> JSONResponse:
        try:
            gw.authorize(_api_key(request.headers))
            gw.admit(stream_id)
            out = await build()
            return JSONResponse(await gw.send(out), status_code=202)
        except ClientError as exc:
            return _error(exc)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True}

    @app.post("/v1/streams/{stream_id}/events", status_code=202)
    async def post_event(stream_id: str, request: Request) -> JSONResponse:
        async def build() -> Outbound:
            return records.event(await _json_body(request, 64 * 1024), stream_id, gw.topics)

        return await handle(request, stream_id, build)

    @app.post("/v1/streams/{stream_id}/asr", status_code=202)
    async def post_asr(stream_id: str, request: Request) -> JSONResponse:
        async def build() -> Outbound:
            limit = settings.max_text_chars * 4 + 4096
            return records.asr_chunk(await _json_body(request, limit), stream_id, gw.topics, settings)

        return await handle(request, stream_id, build)

    @app.post("/v1/streams/{stream_id}/keyframes", status_code=202)
    async def post_keyframe(stream_id: str, request: Request) -> JSONResponse:
        async def build() -> Outbound:
            return await _keyframe_request(request, stream_id, gw)

        return await handle(request, stream_id, build)

    @app.websocket("/v1/streams/{stream_id}/ws")
    async def ws(websocket: WebSocket, stream_id: str) -> None:
        try:
            gw.authorize(_api_key(websocket.headers, websocket.query_params))
        except ClientError as exc:
            await websocket.close(code=WS_POLICY_VIOLATION, reason=exc.reason)
            return
        await websocket.accept()
        limit = body_limit(settings)
        try:
            while True:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    return
                raw = frame.get("text") or (frame.get("bytes") or b"").decode("utf-8", "replace")
                ref = None
                try:
                    gw.admit(stream_id)
                    if len(raw) > limit:
                        raise ClientError(413, f"message of {len(raw)} bytes exceeds the limit of {limit}")
                    try:
                        msg = json.loads(raw)
                    except json.JSONDecodeError as exc:
                        raise ClientError(400, f"message is not valid JSON: {exc}") from exc
                    if not isinstance(msg, dict):
                        raise ClientError(422, "message must be a JSON object with a 'kind'")
                    ref = msg.pop("ref", None)
                    out = records.message(str(msg.pop("kind", "")), msg, stream_id, gw.topics, settings)
                    reply = {"ok": True, "status": 202, **await gw.send(out)}
                except ClientError as exc:
                    reply = {"ok": False, "status": exc.status, "error": exc.reason}
                    if exc.retry_after_s:
                        reply["retry_after_s"] = round(exc.retry_after_s, 3)
                await websocket.send_json({**reply, "ref": ref})
        except WebSocketDisconnect:
            return

    return app
