"""Run the Faust worker in this process."""

from __future__ import annotations

import logging
import os

from engines.summarize import build_summarizer
from streams.admin import ensure_topics
from streams.app import Engines, create_app
from streams.kafka_conn import check_reachable
from streams.settings import Settings
from streams.topics import TopicNames
from streams.wiring import build_encoder_from, build_store_from, build_summarizer_from


def build_engines(settings: Settings) -> Engines:
    """Load the configured summarizer, encoder and store (slow: models load here)."""
    log = logging.getLogger("ampere.worker")
    log.info("loading engines: summarizer=%s encoder=%s", settings.summarizer, settings.encoder_engine)
    return Engines(
        summarizer=build_summarizer_from(settings),
        fallback=build_summarizer("extractive"),
        encoder=build_encoder_from(settings),
        store=build_store_from(settings),
    )


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Create topics, build the app and block running it until stopped (SIGINT/SIGTERM)."""
    import faust

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    check_reachable(settings)  # wrong address, credentials or TLS: one clear error, not a retry loop
    ensure_topics(settings, TopicNames(settings.topic_prefix).all(), settings.topic_partitions)
    (settings.home / "faust" / settings.topic_prefix).mkdir(parents=True, exist_ok=True)
    engines = build_engines(settings)  # fail fast, before joining the group
    app = create_app(settings, lambda: engines)
    worker = faust.Worker(app, loglevel=loglevel.upper(), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
