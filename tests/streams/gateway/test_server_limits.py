"""What the gateway refuses and how: size and connection caps, malformed numbers and JSON, images the
worker would refuse. Every refusal is a 4xx (or a documented WebSocket close code), never a 500."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from streams.gateway import records
from streams.gateway.server import body_limit, create_gateway
from streams.settings import Settings
from tests.streams.gateway.fakes import MemoryPublisher, jpeg, png, png_claiming

KEY = "s3cret"
AUTH = {"X-API-Key": KEY}
WS = "/v1/streams/w-1/ws"


def settings(**over) -> Settings:
    base = {"topic_prefix": "g", "ingest_api_key": KEY, "ingest_rate_per_s": 1000, "ingest_burst": 1000,
            "max_image_bytes": 50_000, "max_text_chars": 100}
    return Settings(**{**base, **over})


@pytest.fixture
def gw():
    pub = MemoryPublisher()
    with TestClient(create_gateway(settings(), pub)) as client:
        yield client, pub


def _multipart(ts: str, image: bytes) -> dict:
    return {"data": {"ts_ms": ts}, "files": {"image": ("f.png", image, "image/png")}}


NESTED = "[" * 2_000 + "]" * 2_000  # deeper than Python's recursion limit
HUGE_INT = "1" * 5_000


@pytest.mark.parametrize(
    ("path", "request_kw", "status", "words"),
    [
        ("asr", {"content": NESTED}, 400, "not valid JSON"),
        ("asr", {"content": '{"seq": 0, "start_ms": 0, "end_ms": 1, "text": "x", "a": ' + NESTED + "}"}, 400, "not valid JSON"),
        ("events", {"content": '{"ts_ms": ' + HUGE_INT + ', "type": "start"}'}, 400, "not valid JSON"),
        ("events", {"content": '{"ts_ms": 1, "type": "start", "x": NaN}'}, 400, "not valid JSON"),
        ("events", {"content": '{"ts_ms": "\u00b2", "type": "start"}'}, 422, "ts_ms"),
        ("keyframes", _multipart("\u00b2", png()), 422, "ts_ms"),
        ("keyframes", _multipart("-\u0661", png()), 422, "ts_ms"),
        ("keyframes", _multipart(HUGE_INT, png()), 422, "ts_ms"),
        ("keyframes", _multipart("1", png_claiming(15_000, 15_000)), 413, "exceeds the limit of 40000000 pixels"),
        ("keyframes", _multipart("1", png_claiming(7_000, 7_000)), 413, "7000x7000 pixels exceeds the limit of 40000000"),
        ("keyframes", _multipart("1", jpeg()[:1800]), 415, "undecodable"),
        ("keyframes", {"json": {"ts_ms": 1, "image_b64": base64.b64encode(png_claiming(7_000, 7_000)).decode()}}, 413, "pixels"),
        ("keyframes", {"json": {"ts_ms": 1, "image_b64": base64.b64encode(jpeg()[:1800]).decode()}}, 415, "undecodable"),
    ],
)
def test_malformed_numbers_json_and_images_are_4xx_never_500(gw, path, request_kw, status, words) -> None:
    client, pub = gw
    headers = AUTH if "content" not in request_kw else {**AUTH, "content-type": "application/json"}
    r = client.post(f"/v1/streams/s-1/{path}", headers=headers, **request_kw)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert pub.sent == []


def test_a_whole_jpeg_still_passes(gw) -> None:
    client, pub = gw
    r = client.post("/v1/streams/s-1/keyframes", headers=AUTH, **_multipart("7", jpeg()))
    assert r.status_code == 202, r.text
    assert len(pub.sent) == 1


def test_the_pixel_limit_is_the_workers_setting() -> None:
    pub = MemoryPublisher()
    with TestClient(create_gateway(settings(max_image_pixels=10_000), pub)) as client:
        r = client.post("/v1/streams/s/keyframes", headers=AUTH, **_multipart("1", png(side=101)))
        assert r.status_code == 413 and "101x101 pixels exceeds the limit of 10000" in r.json()["error"], r.text
        assert client.post("/v1/streams/s/keyframes", headers=AUTH, **_multipart("1", png(side=100))).status_code == 202


def test_images_are_decoded_off_the_event_loop(gw, monkeypatch) -> None:
    client, pub = gw
    decoded_in: list[int] = []
    real = records.decode_image

    def spy(data: bytes, max_pixels: int):
        decoded_in.append(threading.get_ident())
        return real(data, max_pixels)

    monkeypatch.setattr(records, "decode_image", spy)
    assert client.post("/v1/streams/s/keyframes", headers=AUTH, **_multipart("1", png())).status_code == 202
    with client.websocket_connect(WS, headers=AUTH) as ws:
        ws.send_json({"kind": "keyframe", "ts_ms": 2, "image_b64": base64.b64encode(png()).decode()})
        assert ws.receive_json()["ok"] is True
    assert len(decoded_in) == 2 and len(pub.threads) == 2
    assert not set(decoded_in) & set(pub.threads)  # publish runs on the loop, decoding does not


def test_escaped_asr_text_within_the_char_limit_is_accepted() -> None:
    """A character may take 12 bytes as JSON (a surrogate pair escaped); the body limit allows it, as the worker does."""
    pub = MemoryPublisher()
    with TestClient(create_gateway(settings(max_text_chars=4000), pub)) as client:
        for text in ("\u00e9" * 4000, "\U0001f600" * 4000):
            body = json.dumps({"seq": 0, "start_ms": 0, "end_ms": 1, "text": text})  # ASCII-escaped
            r = client.post("/v1/streams/s/asr", content=body, headers={**AUTH, "content-type": "application/json"})
            assert r.status_code == 202, r.text[:300]
        body = json.dumps({"seq": 1, "start_ms": 0, "end_ms": 1, "text": "\u00e9" * 4001})
        r = client.post("/v1/streams/s/asr", content=body, headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 413 and "4001 chars exceeds the limit of 4000" in r.json()["error"]
    assert len(pub.sent) == 2


def test_websocket_errors_are_answered_in_band_and_the_connection_stays(gw) -> None:
    client, pub = gw
    with client.websocket_connect(WS, headers=AUTH) as ws:
        ws.send_text('{"kind": "asr", "x": ' + "[" * 5_000 + "]" * 5_000 + ', "ref": 1}')
        assert ws.receive_json()["status"] == 400
        ws.send_text('{"kind": "event", "ts_ms": ' + HUGE_INT + ', "type": "start"}')
        assert ws.receive_json()["status"] == 400
        ws.send_bytes(b'{"kind": "event", "ts_ms": 1, "type": "start", "x": "\xff"}')
        assert ws.receive_json()["status"] == 400
        b64 = base64.b64encode(png_claiming(15_000, 15_000)).decode()
        ws.send_json({"kind": "keyframe", "ts_ms": 1, "image_b64": b64, "ref": 2})
        bad = ws.receive_json()
        assert (bad["status"], bad["ref"]) == (413, 2) and "pixel limit" in bad["error"]
        ws.send_json({"kind": "event", "ts_ms": 1, "type": "start", "ref": 3})
        assert ws.receive_json()["ok"] is True
    assert len(pub.sent) == 1


def test_websocket_message_over_the_limit_is_closed_with_1009(gw) -> None:
    client, pub = gw
    limit = body_limit(settings())
    for send in ("send_text", "send_bytes"):
        with client.websocket_connect(WS, headers=AUTH) as ws:
            raw = json.dumps({"kind": "asr", "seq": 0, "start_ms": 0, "end_ms": 1, "text": "x" * limit})
            getattr(ws, send)(raw if send == "send_text" else raw.encode())
            with pytest.raises(WebSocketDisconnect) as exc:
                ws.receive_json()
        assert exc.value.code == 1009
        assert f"exceeds the limit of {limit} bytes" in exc.value.reason
    assert pub.sent == []


def test_websockets_over_the_connection_cap_are_closed_with_1013() -> None:
    pub = MemoryPublisher()
    with TestClient(create_gateway(settings(ingest_max_websockets=2), pub)) as client:
        with client.websocket_connect(WS, headers=AUTH) as a, client.websocket_connect(WS, headers=AUTH) as b:
            with client.websocket_connect(WS, headers=AUTH) as c, pytest.raises(WebSocketDisconnect) as exc:
                c.receive_json()
            assert exc.value.code == 1013 and "try again later" in exc.value.reason
            a.send_json({"kind": "event", "ts_ms": 0, "type": "start"})
            assert a.receive_json()["ok"] is True
            b.close()
        with client.websocket_connect(WS, headers=AUTH) as d:  # a slot is free again
            d.send_json({"kind": "event", "ts_ms": 1, "type": "product_switch"})
            assert d.receive_json()["ok"] is True


def test_websocket_with_a_wrong_key_is_accepted_then_closed_with_1008(gw) -> None:
    """Browsers see no HTTP status of a refused handshake; a close code and reason they do see."""
    client, _ = gw
    for url, headers in ((WS, {}), (WS, {"X-API-Key": "wrong"}), (f"{WS}?api_key=wrong", {})):
        with client.websocket_connect(url, headers=headers) as ws, pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_text()
        assert exc.value.code == 1008 and "API key" in exc.value.reason


def _drive(app, headers: list[tuple[bytes, bytes]], body: bytes, chunk: int) -> tuple[int, dict, int]:
    """Send ``body`` to the ASGI app in chunks; return the status, the JSON answer and the chunks it read."""
    sent: dict = {}
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        start = reads * chunk
        reads += 1
        return {"type": "http.request", "body": body[start:start + chunk], "more_body": start + chunk < len(body)}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] = sent.get("body", b"") + message.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/streams/s/keyframes", "raw_path": b"/v1/streams/s/keyframes", "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": ""}
    asyncio.run(app(scope, receive, send))
    return sent["status"], json.loads(sent["body"]), reads


def test_multipart_without_content_length_is_refused_while_streaming() -> None:
    s = settings()
    app = create_gateway(s, MemoryPublisher())
    head = (b"--B\r\nContent-Disposition: form-data; name=\"ts_ms\"\r\n\r\n1\r\n"
            b"--B\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.png\"\r\nContent-Type: image/png\r\n\r\n")
    body = head + png() + b"\0" * (16 * 1024 * 1024)
    headers = [(b"content-type", b"multipart/form-data; boundary=B"), (b"x-api-key", KEY.encode())]
    chunk = 16 * 1024
    status, answer, reads = _drive(app, headers, body, chunk)
    assert status == 413 and f"exceeds the limit of {body_limit(s)} bytes" in answer["error"]
    assert reads <= body_limit(s) // chunk + 2  # stopped at the limit, not after 16 MiB
