"""Run the Faust worker in this process."""

from __future__ import annotations

import logging
import logging.config
import os
from typing import Any

from encoders.scoring import SCORING_ID
from engines.encode.base import branch_dims
from engines.summarize import build_summarizer
from streams.kafka import check_reachable
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import TopicNames
from streams.ops import metrics
from streams.ops.health import WorkerStatus, start_for_worker
from streams.ops.logs import capture_warnings, logging_config
from streams.settings import Settings
from streams.worker import claims
from streams.worker.app import Engines, create_app
from streams.worker.instrumented import InstrumentedEncoder, InstrumentedStore
from streams.worker.roles import agents_for, apply_cpu_share, loads_llm, plan_cpu_share
from streams.worker.wiring import (
    build_encoder_from,
    build_store_from,
    build_summarizer_from,
    check_index_matches,
)


def build_engines(settings: Settings) -> Engines:
    """Load the engines ``settings.worker_role`` uses (slow: models load here): a provisional worker
    never loads the LLM, a refine worker loads nothing else (no encoder, no store)."""
    log = logging.getLogger("ampere.worker")
    two_phase = settings.two_phase and settings.summarizer != "extractive"
    llm = settings.summarizer if loads_llm(settings.worker_role, two_phase) else "extractive"
    log.info("loading engines (role %s): summarizer=%s encoder=%s", settings.worker_role, llm, settings.encoder_engine)
    if settings.worker_role == "refine":
        return Engines(  # the refine agent calls the summarizer only
            summarizer=build_summarizer_from(settings),
            fallback=build_summarizer("extractive"),
            encoder=None,  # type: ignore[arg-type]
            store=None,  # type: ignore[arg-type]
        )
    encoder, store = build_encoder_from(settings), build_store_from(settings)
    check_index_matches(store, branch_dims(encoder))  # a store of another model would refuse every upsert
    rule = claims.rule_for(settings.tag_min_score, settings.tag_claim_rule)
    reason = rule.mismatch(str(getattr(encoder, "model_version", "")), settings.encoder_engine, SCORING_ID)
    if reason:
        log.warning("tags will not be claimed: %s", reason)
    return Engines(
        summarizer=build_summarizer_from(settings, llm),
        fallback=build_summarizer("extractive"),
        encoder=InstrumentedEncoder(encoder),  # type: ignore[arg-type]
        store=InstrumentedStore(store),  # type: ignore[arg-type]
    )


def bound_refine_share(settings: Settings) -> Settings:
    """A refine-role worker binds itself to ``AMPERE_REFINE_CPUS`` at ``AMPERE_REFINE_NICE`` before any
    thread starts, and returns the settings with the llama.cpp threads capped at that CPU count."""
    if settings.worker_role != "refine":
        return settings
    share = plan_cpu_share(settings.refine_cpus, settings.refine_nice, settings.llm_threads,
                           settings.llm_decode_threads, os.sched_getaffinity(0))
    apply_cpu_share(share)
    return settings.model_copy(update={"llm_threads": share.threads, "llm_decode_threads": share.decode_threads})


def terminal_only_spinner(worker: Any) -> None:
    """Faust's startup spinner hides and shows the cursor with escape codes even when stdout is a file
    or a pipe (raw codes in a redirected log): keep it for a terminal only."""
    spinner = getattr(worker, "spinner", None)
    if spinner is not None and not spinner.file.isatty():
        worker.spinner = None


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Create topics, build the app of ``settings.worker_role`` and block running it until stopped
    (SIGINT/SIGTERM)."""
    import faust

    log_config = logging_config(loglevel, settings.log_format)
    logging.config.dictConfig(log_config)  # this process's log is the worker's: warnings included
    capture_warnings()
    agents_for(settings.worker_role, settings.two_phase and settings.summarizer != "extractive")  # RoleMismatch, before loading
    settings = bound_refine_share(settings)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    check_reachable(settings)  # wrong address, credentials or TLS: one clear error, not a retry loop
    status = WorkerStatus(stall_after_s=settings.stall_after_s)
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
    terminal_only_spinner(worker)
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
    from streams.worker.roles import RoleMismatch
    from streams.worker.wiring import IndexMismatch

    try:
        settings = get_settings()
        run_worker(settings, settings.log_level)
    except (KafkaUnavailable, IndexMismatch, RoleMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
