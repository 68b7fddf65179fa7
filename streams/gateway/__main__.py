"""``python -m streams.gateway``: the HTTP / WebSocket ingest gateway alone, as the container image
runs it (the same start as ``ampere ingest serve``, without the tooling CLI).

``python -m streams.gateway live|ready`` exits 0 when the local gateway's ``/healthz`` or ``/readyz``
answers 200 (the container health checks; the slim image has neither curl nor wget).
"""

from __future__ import annotations

import logging.config
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PROBES = {"live": "/healthz", "ready": "/readyz"}


def probe(what: str) -> int:
    import urllib.error
    import urllib.request

    from streams.settings import Settings

    url = f"http://127.0.0.1:{Settings().ingest_port}{PROBES[what]}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return 0 if r.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


def main() -> int:
    import uvicorn

    from streams.errors import KafkaUnavailable
    from streams.gateway.publisher import KafkaPublisher
    from streams.gateway.server import body_limit, create_gateway
    from streams.kafka import check_reachable
    from streams.kafka.admin import ensure_topics
    from streams.kafka.topics import TopicNames
    from streams.ops.logs import logging_config
    from streams.settings import get_settings

    s = get_settings()
    logging.config.dictConfig(logging_config(s.log_level, s.log_format))
    if not s.ingest_api_key and s.ingest_host not in LOOPBACK:
        print("error: refusing to listen beyond loopback without AMPERE_INGEST_API_KEY", file=sys.stderr)
        return 2
    try:
        check_reachable(s)
    except KafkaUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ensure_topics(s, TopicNames(s.topic_prefix).all(), s.topic_partitions)
    app = create_gateway(s, KafkaPublisher(s, max_request_bytes=body_limit(s) + 4096))
    print(f"ingest gateway on {s.ingest_host}:{s.ingest_port} -> {s.kafka_bootstrap}", file=sys.stderr)
    uvicorn.run(app, host=s.ingest_host, port=s.ingest_port, log_level="warning",
                ws_max_size=body_limit(s) + 1024)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] not in PROBES:
        print(f"usage: python -m streams.gateway [{'|'.join(PROBES)}]", file=sys.stderr)
        sys.exit(2)
    sys.exit(probe(sys.argv[1]) if len(sys.argv) > 1 else main())
