"""Run the Faust worker in this process."""

from __future__ import annotations

import logging
import logging.config
import os

from engines.encode.base import branch_dims
from engines.summarize import build_summarizer
from streams import metrics
from streams.admin import ensure_topics
from streams.app import Engines, create_app
from streams.health import WorkerStatus, start_for_worker
from streams.instrumented import InstrumentedEncoder, InstrumentedStore
from streams.kafka import check_reachable
from streams.logs import capture_warnings, logging_config
from streams.settings import Settings
from streams.topics import TopicNames
from streams.wiring import (
    build_encoder_from,
    build_store_from,
    build_summarizer_from,
    check_index_matches,
)


def build_engines(settings: Settings) -> Engines:
    """Load the configured summarizer, encoder and store (slow: models load here)."""
    log = logging.getLogger("ampere.worker")
    log.info("loading engines: summarizer=%s encoder=%s", settings.summarizer, settings.encoder_engine)
    encoder, store = build_encoder_from(settings), build_store_from(settings)
    check_index_matches(store, branch_dims(encoder))  # a store of another model would refuse every upsert
    return Engines(
        summarizer=build_summarizer_from(settings),
        fallback=build_summarizer("extractive"),
        encoder=InstrumentedEncoder(encoder),  # type: ignore[arg-type]
        store=InstrumentedStore(store),  # type: ignore[arg-type]
    )


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Create topics, build the app and block running it until stopped (SIGINT/SIGTERM)."""
    import faust

    log_config = logging_config(loglevel, settings.log_format)
    logging.config.dictConfig(log_config)  # this process's log is the worker's: warnings included
    capture_warnings()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    check_reachable(settings)  # wrong address, credentials or TLS: one clear error, not a retry loop
    status = WorkerStatus()
    health = start_for_worker(settings, status)  # /livez answers while the models load
    ensure_topics(settings, TopicNames(settings.topic_prefix).all(), settings.topic_partitions)
    (settings.home / "faust" / settings.topic_prefix).mkdir(parents=True, exist_ok=True)
    engines = build_engines(settings)  # fail fast, before joining the group
    status.engines_loaded = True
    metrics.ENGINES_LOADED.set(1)
    app = create_app(settings, lambda: engines)
    worker = faust.Worker(
        app, loglevel=loglevel.upper(), quiet=True, redirect_stdouts=False,
        logging_config=log_config,
    )
    try:
        worker.execute_from_commandline()
    finally:
        if health is not None:
            health.stop()


def main() -> None:
    """``python -m streams.worker``: the worker alone, as the container image runs it (no tooling)."""
    import sys

    from streams.errors import KafkaUnavailable
    from streams.settings import get_settings
    from streams.wiring import IndexMismatch

    try:
        settings = get_settings()
        run_worker(settings, settings.log_level)
    except (KafkaUnavailable, IndexMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
