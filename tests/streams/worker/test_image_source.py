"""Image URIs: refused by default, allow-listed by prefix, no escape by path tricks, redirects, slow drips or size."""

from __future__ import annotations

import base64
import http.server
import os
import threading
import time
from collections.abc import Iterator

import pytest

from streams.schemas import BadRecord
from streams.worker.image_source import (
    NOT_ALLOWED,
    NOT_FETCHED,
    UriPolicy,
    allowed,
    load_image_bytes,
    prefetch,
)


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
        elif self.path.startswith("/ok/trickle"):  # a byte every 0.1 s: faster than any per-read timeout
            self.send_response(200)
            self.end_headers()
            self._trickle(b"x" * 80)
        elif self.path.startswith("/ok/slow-headers"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._trickle(b"a" * 80)
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

    def _trickle(self, data: bytes) -> None:
        try:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass


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


def _timed_refusal(uri: str, policy: UriPolicy) -> float:
    t0 = time.monotonic()
    with pytest.raises(BadRecord) as err:
        load_image_bytes(None, uri, policy)
    assert err.value.reason == NOT_FETCHED
    return time.monotonic() - t0


def test_the_deadline_is_wall_clock_for_a_trickled_body(server) -> None:
    """Each byte comes well within any per-read timeout; only a wall-clock deadline stops it."""
    policy = UriPolicy((f"{server}/ok/",), max_bytes=1000, deadline_s=1.0)
    assert _timed_refusal(f"{server}/ok/trickle", policy) < 1.8


def test_the_deadline_is_wall_clock_for_trickled_headers(server) -> None:
    policy = UriPolicy((f"{server}/ok/",), max_bytes=1000, deadline_s=1.0)
    assert _timed_refusal(f"{server}/ok/slow-headers", policy) < 1.8


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_only_regular_files_are_read(tmp_path, kind: str) -> None:
    """A FIFO with no writer would block a plain read forever; folders and devices are refused too."""
    ok = tmp_path / "frames"
    ok.mkdir()
    target = ok / "pipe.jpg"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    prefixes = ("file:///dev/",) if kind == "device" else (f"file://{ok}/",)
    uri = "/dev/zero" if kind == "device" else str(target)
    policy = UriPolicy(prefixes, max_bytes=100, deadline_s=1.0)
    outcome: list[BaseException | bytes] = []

    def run() -> None:
        try:
            outcome.append(load_image_bytes(None, uri, policy))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    t0 = time.monotonic()
    worker.start()
    worker.join(timeout=3.0)
    if worker.is_alive() and kind == "fifo":  # unblock a reader stuck on the FIFO
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=3.0)
        pytest.fail("reading the FIFO blocked")
    assert time.monotonic() - t0 < 0.5
    assert isinstance(outcome[0], BadRecord) and outcome[0].reason == NOT_FETCHED


def test_http_prefixes_match_by_path_segment(server) -> None:
    policy = UriPolicy((f"{server}/ok",), max_bytes=100, deadline_s=2.0)
    assert allowed(f"{server}/ok", policy) and allowed(f"{server}/ok/img", policy)
    assert load_image_bytes(None, f"{server}/ok/img", policy) == b"IMAGE"
    for uri in [f"{server}/okX/img", f"{server}/ok.x", f"{server}/ok-secret"]:
        assert not allowed(uri, policy)
        with pytest.raises(BadRecord, match="not allowed"):
            load_image_bytes(None, uri, policy)
    assert allowed(f"{server}/okX/img", UriPolicy((f"{server}/",)))


def test_prefetch_fetches_concurrently_within_one_deadline(server) -> None:
    policy = UriPolicy((f"{server}/ok/",), max_bytes=1000, deadline_s=1.0)
    slow = [f"{server}/ok/trickle?{i}" for i in range(4)]
    uris = [*slow, f"{server}/ok/img", f"{server}/ok/img", f"{server}/secret"]
    t0 = time.monotonic()
    got = prefetch(uris, policy, max_concurrent=8)
    assert time.monotonic() - t0 < 2 * policy.deadline_s
    assert set(got) == set(uris) and got[f"{server}/ok/img"] == b"IMAGE"
    assert all(isinstance(got[u], BadRecord) and got[u].reason == NOT_FETCHED for u in slow)
    assert isinstance(got[f"{server}/secret"], BadRecord) and got[f"{server}/secret"].reason == NOT_ALLOWED


def test_load_image_bytes_takes_prefetched_results(server) -> None:
    policy = UriPolicy((f"{server}/ok/",), max_bytes=1000, deadline_s=1.0)
    done = {f"{server}/ok/cached": b"CACHED", f"{server}/ok/failed": BadRecord(NOT_FETCHED)}
    assert load_image_bytes(None, f"{server}/ok/cached", policy, done) == b"CACHED"
    with pytest.raises(BadRecord) as err:
        load_image_bytes(None, f"{server}/ok/failed", policy, done)
    assert err.value.reason == NOT_FETCHED
    assert load_image_bytes(None, f"{server}/ok/img", policy, done) == b"IMAGE", "not prefetched: fetched now"
    with pytest.raises(BadRecord, match="not allowed"):
        load_image_bytes(None, f"{server}/secret", policy, {f"{server}/secret": b"SECRET"})
