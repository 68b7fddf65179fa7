"""The worker's operations port: ``/metrics`` (Prometheus), ``/livez`` and ``/readyz``.

A small threaded HTTP server beside the Faust worker rather than Faust's web server: it answers
while the models still load (before Faust starts), and while the event loop is stuck, which is when
liveness and lag matter most. Readiness checks the real dependencies on every request, each with a
short timeout: Kafka answers metadata, Weaviate says it is ready, the engines are loaded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.kafka import KafkaSource, group_lag
from streams.kafka.clients import reachable
from streams.kafka.topics import TopicNames, agents_group, window_group
from streams.ops import metrics, progress

log = logging.getLogger("ampere.health")

Check = Callable[[], str | None]  # None = fine, else why not


@dataclass
class WorkerStatus:
    """What the worker tells the health server; set from the worker, read from the server's threads."""

    started_at: float = field(default_factory=time.time)
    engines_loaded: bool = False
    stall_after_s: float = 30.0
    """``AMPERE_STALL_AFTER_S``; the worker passes its setting (one figure with the alert rules)."""

    def live_problem(self) -> str | None:
        """Why the worker is not live: its event loop stopped ticking (None while it never ticked yet)."""
        beat = metrics.last_heartbeat()
        if beat and time.time() - beat > self.stall_after_s:
            return f"event loop has not ticked for {time.time() - beat:.0f}s"
        return None

    def loop_problem(self) -> str | None:
        """Why the stream processing is not running: not started yet, stalled, or the window stage
        cannot make progress (blocked longer than ``stall_after_s``, or stopped)."""
        if not metrics.last_heartbeat():
            return "stream worker not started yet"
        return self.live_problem() or progress.problem(self.stall_after_s)


class KafkaProbe:
    """Broker reachability and a consumer group's lag per partition, read from the broker with the
    project's one probe and one lag reader (a fresh short-lived client per call: a scrape never
    blocks on a client that a dead broker left half-open)."""

    def __init__(self, kafka: KafkaSource, group: str, topics: Sequence[str], timeout_s: float = 3.0) -> None:
        self.kafka, self.group, self.topics, self.timeout_s = kafka, group, list(topics), timeout_s

    def problem(self) -> str | None:
        """None when the broker answers a metadata request with these settings."""
        return reachable(self.kafka, self.timeout_s)

    def lag(self) -> dict[tuple[str, int], int]:
        """Uncommitted messages per (topic, partition) of the group (no commit yet = all of them)."""
        return group_lag(self.kafka, self.group, self.topics, self.timeout_s)

    def close(self) -> None:
        """Nothing held between calls."""


def weaviate_problem(url: str, api_key: str | None, timeout_s: float = 2.0) -> str | None:
    """None when Weaviate's readiness endpoint answers 200."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        r = httpx.get(f"{url.rstrip('/')}/v1/.well-known/ready", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"weaviate {url}: {type(exc).__name__}: {exc}"
    return None if r.status_code == 200 else f"weaviate {url}: HTTP {r.status_code}"


class HealthServer:
    """Serves the three endpoints on ``host:port`` from a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        status: WorkerStatus,
        ready_checks: dict[str, Check],
        lag: Callable[[], dict[tuple[str, int], int]] | None = None,
    ) -> None:
        self.status, self.ready_checks, self.lag = status, ready_checks, lag
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    server.refresh_lag()
                    self._send(200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
                elif path == "/livez":
                    problem = server.status.live_problem()
                    self._json(503 if problem else 200, {"live": problem is None, "problem": problem})
                elif path == "/readyz":
                    checks = server.readiness()
                    ok = all(v == "ok" for v in checks.values())
                    self._json(200 if ok else 503, {"ready": ok, "checks": checks})
                else:
                    self._json(404, {"error": "not found", "paths": ["/metrics", "/livez", "/readyz"]})

            def _json(self, code: int, body: dict) -> None:
                self._send(code, json.dumps(body).encode(), "application/json")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting: nothing to say
                    log.debug("health client went away before the answer")

            def log_message(self, fmt: str, *args) -> None:
                log.debug("health %s", fmt % args)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ampere-health", daemon=True)

    def readiness(self) -> dict[str, str]:
        """Every check by name: ``ok`` or why not."""
        out = {"engines": "ok" if self.status.engines_loaded else "engines are loading"}
        for name, check in self.ready_checks.items():
            try:
                out[name] = check() or "ok"
            except Exception as exc:  # noqa: BLE001 - a failing check is a not-ready answer, not a 500
                out[name] = f"{type(exc).__name__}: {exc}"
        return out

    def refresh_lag(self) -> None:
        """Set the lag gauges from the broker; on failure the gauges are cleared (no stale numbers)."""
        if self.lag is None:
            return
        try:
            lags = self.lag()
        except Exception as exc:  # noqa: BLE001 - an unreachable broker must not break the scrape
            log.debug("consumer lag unavailable: %s", exc)
            metrics.CONSUMER_LAG.clear()
            return
        metrics.CONSUMER_LAG.clear()
        for (topic, partition), n in lags.items():
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(n)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def lag_groups(settings) -> list[tuple[str, list[str]]]:
    """The consumer groups a worker of ``AMPERE_WORKER_ROLE`` reads in, each with its topics: the window
    stage's group and the agents' group, or only the refine group for a refine-role process."""
    prefix, topics = settings.topic_prefix, TopicNames(settings.topic_prefix)
    if settings.worker_role == "refine":
        return [(agents_group(prefix, "refine"), [topics.windows])]
    return [
        # the window stage reads the stream inputs in its own group; the Faust agents read the rest
        (window_group(prefix), [topics.asr, topics.keyframes, topics.events]),
        (agents_group(prefix), [topics.products, topics.windows, topics.summaries, topics.embeddings]),
    ]


def start_for_worker(settings, status: WorkerStatus) -> HealthServer | None:
    """The worker's server on ``AMPERE_METRICS_HOST:AMPERE_METRICS_PORT`` (port 0 = off).

    A port already taken is logged as an error and the worker runs on without the endpoints. Lag and
    readiness are those of the groups the worker's role reads in; a refine process uses no store.
    """
    if settings.metrics_port <= 0:
        return None
    probes = [KafkaProbe(settings, group, topics) for group, topics in lag_groups(settings)]

    def lag() -> dict[tuple[str, int], int]:
        return {k: v for p in probes for k, v in p.lag().items()}

    checks: dict[str, Check] = {"kafka": probes[-1].problem}
    if settings.worker_role != "refine":
        checks["weaviate"] = lambda: weaviate_problem(settings.weaviate_url, settings.weaviate_api_key)
    checks["worker"] = status.loop_problem
    try:
        server = HealthServer(settings.metrics_host, settings.metrics_port, status, checks, lag)
    except OSError as exc:
        log.error("metrics/health port %s:%s unavailable (%s); running without it", settings.metrics_host, settings.metrics_port, exc)
        return None
    log.info("metrics and health on http://%s:%s (/metrics /livez /readyz)", settings.metrics_host, server.port)
    return server.start()
