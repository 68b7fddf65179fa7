"""The gateway behind a real uvicorn server, run as `ampere ingest serve` runs it: the WebSocket frame cap
is enforced by the server before an oversize frame is buffered, and a wrong key is a 1008 close."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streams.gateway.server import body_limit, create_gateway
from streams.settings import Settings
from tests.streams.gateway.fakes import MemoryPublisher

KEY = "s3cret"
SETTINGS = Settings(topic_prefix="g", ingest_api_key=KEY, max_image_bytes=50_000)


@pytest.fixture(scope="module")
def url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_gateway(SETTINGS, MemoryPublisher())
    # the options of `ampere ingest serve`
    config = uvicorn.Config(app, log_level="warning", ws_max_size=body_limit(SETTINGS) + 1024)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/v1/streams/u-1/ws"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_an_oversize_frame_is_refused_by_the_server_with_1009(url) -> None:
    with connect(url, additional_headers={"X-API-Key": KEY}, max_size=None) as ws:
        ws.send('{"kind": "asr", "text": "' + "x" * (body_limit(SETTINGS) + 2048) + '"}')
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=10)
    assert exc.value.rcvd is not None and exc.value.rcvd.code == 1009
    assert "exceeds limit" in exc.value.rcvd.reason


def test_a_wrong_key_is_a_1008_close_not_an_http_403(url) -> None:
    with connect(f"{url}?api_key=wrong") as ws, pytest.raises(ConnectionClosed) as exc:
        ws.recv(timeout=10)
    assert exc.value.rcvd is not None and exc.value.rcvd.code == 1008 and "API key" in exc.value.rcvd.reason


def test_a_good_message_is_still_acknowledged(url) -> None:
    with connect(url, additional_headers={"X-API-Key": KEY}) as ws:
        ws.send('{"kind": "event", "ts_ms": 0, "type": "start"}')
        assert '"ok":true' in ws.recv(timeout=10).replace(" ", "")
