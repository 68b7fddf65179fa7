"""The OpenAI-compatible engine against a real (minimal, scripted) HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engines.summarize import build_summarizer
from engines.summarize.schema import SummaryRequest

EN = "so this is the Arlo ceramic coffee mug, 350ml, white or navy, $12 today"
GOOD = {
    "has_product": True, "product_name": "ceramic coffee mug", "brand": "Arlo", "category": "kitchen",
    "attributes": {"color": "white, navy", "material": "ceramic", "size": "", "specs": ["350ml"]},
    "price_or_promo": "$12", "sentence": "Arlo ceramic coffee mug, 350ml, $12.",
}


class ChatServer:
    """POST /v1/chat/completions; ``behave(n, payload)`` -> (status, body, delay_s) for request n."""

    def __init__(self, behave) -> None:
        self.behave = behave
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    n = len(server.requests)
                    server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **payload})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    status, body, delay = server.behave(n, payload)
                    time.sleep(delay)
                    data = json.dumps(body).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ok(content: dict | str) -> tuple[int, dict, float]:
    text = content if isinstance(content, str) else json.dumps(content)
    return 200, {"choices": [{"message": {"role": "assistant", "content": text}}],
                 "usage": {"completion_tokens": 42}}, 0.0


@pytest.fixture
def serve():
    servers = []

    def start(behave):
        servers.append(ChatServer(behave))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def engine(server, **over):
    options = {"base_url": server.base_url, "model": "m", "api_key": "k", "timeout_s": 2.0,
               "retries": 2, "backoff_s": 0.01, **over}
    return build_summarizer("openai", **options)


def test_success_sends_a_schema_constrained_chat_request(serve):
    server = serve(lambda n, p: ok(GOOD))
    s = engine(server).summarize([SummaryRequest("w", EN)])[0]
    assert s.source == "openai" and s.product_name == "ceramic coffee mug"
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k" and req["temperature"] == 0
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"]["required"]


def test_transient_errors_are_retried_with_backoff(serve):
    server = serve(lambda n, p: (503, {"error": "busy"}, 0.0) if n < 2 else ok(GOOD))
    e = engine(server)
    s = e.summarize([SummaryRequest("w", EN)])[0]
    assert s.source == "openai" and e.http_requests == 3


def test_persistent_errors_fall_back(serve):
    server = serve(lambda n, p: (500, {"error": "boom"}, 0.0))
    e = engine(server, retries=1)
    s = e.summarize([SummaryRequest("w", EN)])[0]
    assert s.source == "extractive" and "HTTP 500" in s.fallback_reason and e.http_requests == 2


def test_client_errors_are_not_retried(serve):
    server = serve(lambda n, p: (400, {"error": "bad request"}, 0.0))
    e = engine(server)
    assert e.summarize([SummaryRequest("w", EN)])[0].is_fallback and e.http_requests == 1


def test_slow_server_times_out_into_the_fallback(serve):
    server = serve(lambda n, p: (200, {}, 1.5))
    e = engine(server, timeout_s=0.3, retries=0)
    s = e.summarize([SummaryRequest("w", EN)])[0]
    assert s.fallback_reason == "timeout" and s.has_product


def test_invalid_json_is_repaired_once_over_http(serve):
    server = serve(lambda n, p: ok("{oops") if n == 0 else ok(GOOD))
    s = engine(server).summarize([SummaryRequest("w", EN)])[0]
    assert s.source == "openai" and len(server.requests) == 2
    assert server.requests[1]["messages"][-2]["content"] == "{oops"


def test_concurrency_is_bounded(serve):
    server = serve(lambda n, p: (200, ok(GOOD)[1], 0.1))
    batch = [SummaryRequest(str(i), f"{EN} number {i}") for i in range(12)]
    out = asyncio.run(engine(server, max_concurrency=3).asummarize(batch))
    assert len(out) == 12 and all(s.source == "openai" for s in out)
    assert server.max_in_flight <= 3 and len(server.requests) == 12


def test_sync_call_works_inside_a_running_loop(serve):
    server = serve(lambda n, p: ok(GOOD))
    e = engine(server)

    async def inside() -> str:
        return e.summarize([SummaryRequest("w", EN)])[0].source

    assert asyncio.run(inside()) == "openai"


def test_unreachable_server_falls_back(serve):
    e = build_summarizer("openai", base_url="http://127.0.0.1:9/v1", timeout_s=0.5, retries=1, backoff_s=0.01)
    s = e.summarize([SummaryRequest("w", EN)])[0]
    assert s.is_fallback and s.fallback_reason.startswith("error: ConnectError")
