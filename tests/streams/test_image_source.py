"""Image URIs: refused by default, allow-listed by prefix, no escape by path tricks, redirects, slow drips or size."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from streams.image_source import NOT_FETCHED, UriPolicy, allowed, load_image_bytes
from streams.schemas import BadRecord


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/ok/redirect-out"):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/secret")
            self.end_headers()
        elif self.path.startswith("/ok/redirect-in"):
            self.send_response(302)
            self.send_header("Location", "/ok/img")
            self.end_headers()
        elif self.path.startswith("/ok/drip"):
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(20):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(1.0)
            except OSError:
                pass
        elif self.path.startswith("/ok/big"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 5000)
        elif self.path.startswith("/ok/img") or self.path.startswith("/secret"):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"IMAGE")
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_uris_are_refused_by_default(tmp_path) -> None:
    f = tmp_path / "a.jpg"
    f.write_bytes(b"IMAGE")
    for uri in [str(f), f"file://{f}", "file:///etc/passwd", "/proc/self/environ", "http://127.0.0.1:1/x"]:
        with pytest.raises(BadRecord, match="not allowed"):
            load_image_bytes(None, uri, UriPolicy())


def test_file_prefix_allows_only_inside_the_folder(tmp_path) -> None:
    ok = tmp_path / "frames"
    ok.mkdir()
    (ok / "a.jpg").write_bytes(b"IMAGE")
    (tmp_path / "secret.txt").write_bytes(b"SECRET")
    (ok / "link.jpg").symlink_to(tmp_path / "secret.txt")
    policy = UriPolicy((f"file://{ok}/",), max_bytes=100)
    assert load_image_bytes(None, f"file://{ok}/a.jpg", policy) == b"IMAGE"
    assert load_image_bytes(None, f"{ok}/a.jpg", policy) == b"IMAGE"
    for uri in [f"{ok}/../secret.txt", f"file://{ok}/%2e%2e/secret.txt", f"{ok}/link.jpg", f"{ok}x/a.jpg", "/etc/passwd"]:
        with pytest.raises(BadRecord, match="not allowed"):
            load_image_bytes(None, uri, policy)
    with pytest.raises(BadRecord) as missing:
        load_image_bytes(None, f"{ok}/missing.jpg", policy)
    assert missing.value.reason == NOT_FETCHED, "a missing file reads like any other failure: no probing"


def test_http_prefix_host_port_and_path(server) -> None:
    policy = UriPolicy((f"{server}/ok/",), max_bytes=100, deadline_s=2.0)
    assert load_image_bytes(None, f"{server}/ok/img", policy) == b"IMAGE"
    assert allowed(f"{server}/ok/img?x=1", policy)
    for uri in [f"{server}/secret", f"{server}/ok/../secret", f"http://user@127.0.0.1:{server.rsplit(':', 1)[1]}/ok/img",
                "http://127.0.0.1:1/ok/img", f"{server.replace('http', 'https')}/ok/img", "gopher://x/ok/"]:
        with pytest.raises(BadRecord, match="not allowed"):
            load_image_bytes(None, uri, policy)


def test_redirects_are_checked_hop_by_hop(server) -> None:
    policy = UriPolicy((f"{server}/ok/",), max_bytes=100, deadline_s=2.0)
    assert load_image_bytes(None, f"{server}/ok/redirect-in", policy) == b"IMAGE"
    with pytest.raises(BadRecord, match="not allowed"):
        load_image_bytes(None, f"{server}/ok/redirect-out", policy)


def test_generic_reasons_and_limits(server) -> None:
    policy = UriPolicy((f"{server}/ok/", "http://127.0.0.1:1/"), max_bytes=100, deadline_s=2.0)
    reasons = set()
    for uri in [f"{server}/ok/missing", "http://127.0.0.1:1/refused"]:
        with pytest.raises(BadRecord) as err:
            load_image_bytes(None, uri, policy)
        reasons.add(err.value.reason)
    assert reasons == {NOT_FETCHED}, "refused and not-found read the same"
    with pytest.raises(BadRecord, match="larger than the limit"):
        load_image_bytes(None, f"{server}/ok/big", policy)


def test_a_slow_drip_server_is_cut_at_the_deadline(server) -> None:
    policy = UriPolicy((f"{server}/ok/",), max_bytes=100, deadline_s=2.0)
    t0 = time.monotonic()
    with pytest.raises(BadRecord):
        load_image_bytes(None, f"{server}/ok/drip", policy)
    assert time.monotonic() - t0 < 4.0


def test_inline_base64_limits() -> None:
    policy = UriPolicy(max_bytes=10)
    assert load_image_bytes(base64.b64encode(b"0123456789").decode(), None, policy) == b"0123456789"
    with pytest.raises(BadRecord, match="larger than the limit"):
        load_image_bytes(base64.b64encode(b"x" * 11).decode(), None, policy)
    with pytest.raises(BadRecord, match="not valid base64"):
        load_image_bytes("!!!!", None, policy)
    with pytest.raises(BadRecord, match="neither"):
        load_image_bytes(None, None, policy)
