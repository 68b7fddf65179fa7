"""The operations HTTP server: status codes and bodies of /livez, /readyz, /metrics (real sockets)."""

from __future__ import annotations

import time

import httpx
import pytest

from streams.ops import metrics
from streams.ops.health import HealthServer, WorkerStatus, weaviate_problem


@pytest.fixture
def server():
    problems: dict[str, str | None] = {"kafka": None}
    status = WorkerStatus(stall_after_s=5)
    srv = HealthServer("127.0.0.1", 0, status, {"kafka": lambda: problems["kafka"]}, lag=lambda: {("t.asr", 0): 7})
    srv.start()
    try:
        yield srv, status, problems
    finally:
        srv.stop()


def test_ready_only_when_every_check_passes(server) -> None:
    srv, status, problems = server
    url = f"http://127.0.0.1:{srv.port}"
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 503 and r.json()["checks"]["engines"] == "engines are loading"
    status.engines_loaded = True
    assert httpx.get(f"{url}/readyz").status_code == 200
    problems["kafka"] = "kafka 127.0.0.1:1: NoBrokersAvailable"
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 503 and r.json()["checks"]["kafka"].startswith("kafka 127.0.0.1:1")


def test_live_until_the_loop_stalls(server) -> None:
    srv, _, _ = server
    url = f"http://127.0.0.1:{srv.port}"
    metrics.beat()
    assert httpx.get(f"{url}/livez").status_code == 200
    metrics.beat(time.time() - 60)
    r = httpx.get(f"{url}/livez")
    assert r.status_code == 503 and "not ticked" in r.json()["problem"]
    metrics.beat()


def test_metrics_are_prometheus_text_with_lag_per_partition(server) -> None:
    srv, _, _ = server
    r = httpx.get(f"http://127.0.0.1:{srv.port}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'ampere_consumer_lag_messages{partition="0",topic="t.asr"} 7.0' in r.text
    assert httpx.get(f"http://127.0.0.1:{srv.port}/nope").status_code == 404


def test_weaviate_check_reports_an_unreachable_server() -> None:
    problem = weaviate_problem("http://127.0.0.1:9", None, timeout_s=0.5)
    assert problem is not None and problem.startswith("weaviate http://127.0.0.1:9")


def test_probe_exits_zero_only_when_the_endpoint_says_so(server, monkeypatch) -> None:
    from streams.ops.probe import main

    srv, status, _ = server
    monkeypatch.setenv("AMPERE_METRICS_PORT", str(srv.port))
    assert main(["probe", "ready"]) == 1  # engines still loading
    status.engines_loaded = True
    assert main(["probe", "ready"]) == 0 and main(["probe", "live"]) == 0
    assert main(["probe", "bogus"]) == 2
    srv.stop()
    assert main(["probe", "live"]) == 1  # nobody listens any more


def test_not_ready_while_the_window_stage_is_blocked_or_stopped() -> None:
    """The event loop ticks, yet the stage retries a broker call for good: /readyz must say so."""
    from streams.ops import progress

    status = WorkerStatus(stall_after_s=5, engines_loaded=True)
    srv = HealthServer("127.0.0.1", 0, status, {"worker": status.loop_problem}).start()
    url = f"http://127.0.0.1:{srv.port}"
    metrics.beat()
    progress.reset()
    try:
        progress.blocked("write window state: KafkaConnectionError", now=time.monotonic() - status.stall_after_s - 5)
        r = httpx.get(f"{url}/readyz")
        assert r.status_code == 503 and "window stage blocked" in r.json()["checks"]["worker"]
        assert httpx.get(f"{url}/livez").status_code == 200  # alive: restarting would not help an outage
        progress.ok()
        assert httpx.get(f"{url}/readyz").status_code == 200
        progress.stopped("StageStuck: the broker refuses a state record")
        assert "window stage stopped" in httpx.get(f"{url}/readyz").json()["checks"]["worker"]
    finally:
        progress.reset()
        srv.stop()


def test_a_client_that_gives_up_leaves_no_traceback(capfd) -> None:
    """/readyz waits for slow checks (Kafka down: up to its timeout); a client that gave up before the
    answer made the server print a BrokenPipeError traceback into the worker log."""
    import socket
    import struct

    def slow() -> None:
        time.sleep(0.5)

    status = WorkerStatus(engines_loaded=True)
    srv = HealthServer("127.0.0.1", 0, status, {"slow": slow}).start()
    try:
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", srv.port))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
            c.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            c.close()
        time.sleep(1.5)
    finally:
        srv.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err, err


def test_a_refine_process_reports_its_own_group_not_the_provisional_workers() -> None:
    """A refine-role worker read lag (and readiness) of the window and agents groups it never joins."""
    from streams.ops.health import lag_groups
    from streams.settings import Settings

    refine = lag_groups(Settings(topic_prefix="t", worker_role="refine"))
    assert refine == [("t-refine", ["t.windows"])]
    groups = [g for g, _ in lag_groups(Settings(topic_prefix="t", worker_role="provisional"))]
    assert groups == ["t-window", "t-worker"]
