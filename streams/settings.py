"""All settings of Ampere Stream, in one typed place.

Every field can be set from an environment variable named ``AMPERE_<FIELD>`` (upper case),
e.g. ``AMPERE_KAFKA_BOOTSTRAP=localhost:9092`` or ``AMPERE_SUMMARIZER=extractive``.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".cache" / "ampere"


class Settings(BaseSettings):
    """Typed settings; defaults give the embedded local setup (CPU engines, loopback services)."""

    model_config = SettingsConfigDict(env_prefix="AMPERE_", env_file=None, extra="ignore")

    # --- local state -----------------------------------------------------------------------
    home: Path = Field(default_factory=_default_home, description="Cache folder: services, models, venv.")

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers.")
    kafka_broker_port: int = Field(19092, ge=1, le=65_535, description="Port of the local broker listener.")
    kafka_controller_port: int = Field(19093, ge=1, le=65_535, description="Port of the local KRaft controller.")
    kafka_version: str = Field("3.9.1", description="Apache Kafka version resolved with Maven.")
    kafka_brokers: int = Field(
        1, ge=1, le=9, description="Nodes `ampere infra up` starts (KRaft, broker+controller each; node i at the ports + 10(i-1))."
    )
    topic_prefix: str = Field("ampere", description="Common prefix of every topic name.")
    topic_partitions: int = Field(4, ge=1, le=10_000, description="Partitions of topics created by Ampere.")
    topic_replication_factor: int = Field(1, ge=1, le=16, description="Replication factor of topics created by Ampere.")
    topic_min_insync_replicas: int = Field(1, ge=1, le=16, description="min.insync.replicas of topics created by Ampere.")
    retention_images_ms: int = Field(
        3_600_000, ge=60_000, le=31_536_000_000, description="retention.ms of the topics that carry images (keyframes, windows, summaries; "
        "by far the largest): how long a stopped worker may stay down and still find what it resumes (docs/DEPLOY.md sizes it)."
    )
    retention_ms: int = Field(
        86_400_000, ge=60_000, le=31_536_000_000, description="retention.ms of the ASR, events, embeddings and tags topics: how long "
        "speech and events wait for a stopped worker, and output for a subscriber."
    )
    retention_dlq_ms: int = Field(
        1_209_600_000, ge=60_000, le=31_536_000_000, description="retention.ms of the dead-letter topic: time to read and replay what was refused."
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="Largest Kafka message (uncompressed value): broker message.max.bytes, topic "
        "max.message.bytes, producer max_request_size and consumer fetch size all follow it.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client connects (SASL_SSL in production)."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle that signs the brokers' certificates (SSL/SASL_SSL).")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Private key of the client certificate.")
    kafka_session_timeout_ms: int = Field(
        60_000, ge=1000, le=1_800_000, description="Consumer group session timeout: how long a silent member keeps its partitions."
    )

    # --- Weaviate ----------------------------------------------------------------------------
    weaviate_url: str = Field("http://127.0.0.1:18080", description="Weaviate REST endpoint.")
    weaviate_grpc_port: int = Field(18051, ge=1, le=65_535, description="Weaviate gRPC port.")
    weaviate_version: str = Field("v1.39.3", description="weaviate-server version built with go install.")
    weaviate_api_key: str | None = Field(None, description="API key; None = anonymous access.")
    weaviate_api_key_next: str | None = Field(
        None, description="Two-key rotation: a second key the local Weaviate (ampere infra up) accepts beside "
        "AMPERE_WEAVIATE_API_KEY while clients switch to it; clients always send AMPERE_WEAVIATE_API_KEY."
    )
    weaviate_nodes: int = Field(
        1, ge=1, le=9, description="Nodes `ampere infra up` starts (one Weaviate cluster; node i at the ports + 10(i-1))."
    )
    weaviate_internal_ports: str = Field(
        "17000-17999", pattern=r"^\d+-\d+$", description="Range of the local Weaviate nodes' gossip, data and raft ports."
    )
    weaviate_replication_factor: int = Field(
        1, ge=1, le=9, description="Replicas of each collection Ampere creates (at most the node count)."
    )
    weaviate_consistency: Literal["ONE", "QUORUM", "ALL"] = Field(
        "QUORUM", description="Replicas that must answer each write and read of Ampere's objects."
    )
    collection_prefix: str = Field("", description="Prefix of Weaviate collection names (tests isolate with it).")

    # --- models and engines ----------------------------------------------------------------------
    encoder_engine: str = Field(
        "onnx", description="Runtime of the AMPere encoder (engines.encode.ENCODERS: torch, onnx, onnx-int8, tensorrt)."
    )
    encoder_threads: int = Field(
        0, ge=0, le=256,
        description="Intra-op threads of a CPU encoder runtime (0 = every core); with N workers on one machine, cores / N.",
    )
    summarizer: str = Field(
        "llamacpp",
        description="Engine that summarizes ASR windows (engines.summarize.SUMMARIZERS: llamacpp, openai, vllm, extractive).",
    )
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible LLM server.")
    openai_model: str = Field("ampere-summarizer", description="Model name sent to the OpenAI server.")
    openai_api_key: str = Field("EMPTY", description="API key for the OpenAI-compatible server.")
    vllm_model: str = Field("Qwen/Qwen2.5-1.5B-Instruct", description="Model path/name for in-process vLLM.")
    llm_threads: int = Field(2, ge=1, le=256, description="CPU threads of the in-process llama.cpp engine (prompt prefill).")
    llm_decode_threads: int = Field(
        1,
        ge=1, le=256, description="llama.cpp threads per generated token: 1 leaves a core to the rest of a 2-core worker (and is "
        "fastest when other jobs share the CPU); 2 on a quiet 2-core machine given to the LLM doubles its speed "
        "(bench/results/summarizer_variants_quiet.md).",
    )
    llm_timeout_s: float = Field(30.0, gt=0, le=3600, description="Timeout of one LLM call before falling back.")
    summary_token_budget: int = Field(384, ge=16, le=32_768, description="Max ASR tokens sent to the LLM per window.")
    llm_model_path: Path | None = Field(None, description="GGUF of the llama.cpp engine; None = the registry default.")
    llm_max_concurrency: int = Field(8, ge=1, le=1024, description="Requests in flight per openai-engine batch.")
    llm_retries: int = Field(2, ge=0, le=20, description="Retries (exponential backoff) of a failed openai-engine request.")
    summary_prompt_version: str = Field(
        "v1-lean", description="Prompt version (engines/summarize/prompts/<version>.json; <version>-lean: no sentence asked)."
    )
    summary_cache_size: int = Field(4096, ge=0, le=10_000_000, description="Summaries kept in the in-memory LRU cache.")
    summary_cache_dir: Path | None = Field(None, description="Optional on-disk summary cache folder.")
    llm_parallel: int = Field(
        8, ge=0, le=64, description="Windows the llama.cpp engine decodes together (0 = one at a time, llama-cpp-python's loop)."
    )
    llm_prompt_lookup: int = Field(
        0, ge=0, le=32, description="Prompt-lookup speculative draft tokens of the llama.cpp engine (0 = off; needs llm_parallel=0)."
    )
    llm_jump_forward: bool = Field(
        True, description="Feed the JSON keys the output schema fixes instead of generating them (batched llama.cpp loop)."
    )

    # --- windowing and batching ------------------------------------------------------------------
    window_ms: int = Field(30_000, ge=100, le=3_600_000, description="Window length (event time).")
    hop_ms: int = Field(30_000, ge=100, le=3_600_000, description="Window hop; == window_ms gives tumbling windows.")
    grace_ms: int = Field(2_000, ge=0, le=600_000, description="Late-event grace after window end.")
    idle_close_ms: int = Field(10_000, ge=1, le=3_600_000, description="Close a stream's open window after this idle time.")
    end_settle_ms: int = Field(1_500, ge=0, le=600_000, description="After a stream-end marker, close the rest once quiet this long.")
    max_keyframes: int = Field(4, ge=1, le=64, description="Keyframes kept per window (sharp, diverse).")
    max_image_bytes: int = Field(2_000_000, ge=1024, le=67_108_864, description="Largest image accepted (encoded bytes).")
    max_image_pixels: int = Field(
        40_000_000, ge=10_000, le=1_000_000_000, description="Largest image accepted (width x height): decompression-bomb guard."
    )
    max_batch_pixels: int = Field(
        64_000_000, gt=0, le=10_000_000_000, description="Decoded pixels all images of one product message may have together (from headers)."
    )
    max_text_chars: int = Field(4_000, ge=1, le=1_000_000, description="Largest ASR chunk text accepted, in characters.")
    image_uri_allow: str = Field(
        "",
        description="Comma-separated URI prefixes a keyframe/product `uri` may point at, e.g. "
        "'https://cdn.example.com/frames/,file:///srv/frames/'; empty = image URIs are refused.",
    )
    image_fetch_timeout_s: float = Field(5.0, gt=0, le=120, description="Total deadline of one image URI fetch.")
    dlq_max_value_bytes: int = Field(
        256 * 1024, ge=0, le=67_108_864, description="Bytes of the original value kept in a dead letter (size + SHA-256 always kept)."
    )
    store_permanent_tries: int = Field(
        3, ge=1, le=20, description="Tries of an upsert the store rejects (while up) before it goes to the DLQ."
    )
    moment_max_age_s: int = Field(
        7 * 86_400, ge=60, le=3_650 * 86_400, description="`ampere store expire` deletes live and video moments that closed longer ago "
        "than this (products never expire); the chart runs it hourly."
    )
    backup_backend: Literal["filesystem", "s3", "gcs", "azure"] = Field(
        "filesystem", description="Weaviate backup module `ampere store backup` and `restore` use (the server must enable it)."
    )
    summary_max_lag_ms: int = Field(
        0,
        ge=0, le=3_600_000, description="Windows that waited longer than this for the LLM get the extractive summary (0 = never); "
        "when set, windows are summarized one at a time so the bound holds before every LLM call.",
    )
    two_phase: bool = Field(
        True,
        description="Index each window at once with the extractive summary (revision 1) and refine it with "
        "the LLM summary (revision 2); off = one phase with the configured summarizer.",
    )
    extractive_text: Literal["transcript", "sentence"] = Field(
        "transcript",
        description="Text branch of a window summarized extractively (revision 1, or the fallback): the window's "
        "transcript (measured better: live R@1 0.761 vs 0.523 with the extractive sentence) or that sentence.",
    )
    refined_text: Literal["transcript", "summary", "appended"] = Field(
        "transcript",
        description="Text branch of a window refined by the LLM (revision 2): the transcript (revision 1's vectors, "
        "the LLM adds only the structured facts), the summary sentence, or the sentence appended to the transcript "
        "(streams/worker/revision_text.py; measured in docs/RESULTS.md, \"Revision 2's text branch\").",
    )
    refine_max_lag_ms: int = Field(
        120_000, ge=0, le=86_400_000, description="Refinements of windows that waited longer than this are shed (counted); 0 = never."
    )
    worker_role: Literal["all", "provisional", "refine"] = Field(
        "all",
        description="What one worker process runs: all agents; provisional = everything but the LLM refinement "
        "(revision 1 only); refine = only the LLM refinement (revision 2), in its own consumer group (docs/OPERATIONS.md).",
    )
    refine_cpus: str = Field(
        "",
        pattern=r"^[0-9,\- ]*$",
        description="CPUs a refine-role worker may run on, e.g. '1' or '2-3' (sched_setaffinity; empty = all); "
        "the llama.cpp threads are capped at their count.",
    )
    refine_nice: int = Field(
        0, ge=0, le=19, description="Niceness a refine-role worker adds to itself (0 = none; 19 = yields every CPU it shares)."
    )
    batch_size: int = Field(8, ge=1, le=1024, description="Windows per summarize / encode / upsert batch.")
    batch_wait_ms: int = Field(250, ge=0, le=60_000, description="Longest wait to fill a batch.")
    embed_pipeline: bool = Field(
        True, description="The embed agent stores and publishes a batch while it encodes the next (false: one batch at a time)."
    )
    window_sources_live: str = Field(
        "asr,keyframes", description="Sources (asr, keyframes, events) whose watermark closes a live window."
    )
    window_sources_video: str = Field(
        "asr,keyframes", description="Sources (asr, keyframes, events) whose watermark closes a short-video window."
    )
    window_retain_closed: int = Field(4, ge=0, le=64, description="Windows closed on quiet kept per stream to reopen if content arrives.")
    window_tick_ms: int = Field(500, ge=10, le=60_000, description="Period of the window stage's idle check (and longest fetch wait).")
    window_clock_skew_ms: int = Field(
        250, ge=0, le=60_000,
        description="Largest clock difference assumed between producers and the worker: a watermark close waits for an "
        "end-offset probe of the stream's events partition sent this long after the content that closes it was created "
        "(so a product switch acknowledged before that content is read first).",
    )
    window_commit_ms: int = Field(
        1000, ge=0, le=60_000,
        description="Longest time the window stage keeps changed stream states in memory before it writes them to the "
        "changelog and commits the input offsets (0 = after every batch); closed windows are sent at once either way, "
        "and a crash replays at most this much input.",
    )
    image_fetch_concurrency: int = Field(
        8, ge=1, le=64, description="Image URIs of one fetched batch fetched at once, ahead of the window stage."
    )
    window_max_chunks: int = Field(1_000, ge=1, le=1_000_000, description="ASR chunks one window holds at most; more go to the DLQ.")
    window_max_text_bytes: int = Field(
        64 * 1024, ge=1024, le=67_108_864, description="Transcript bytes (stored JSON) one window holds at most; more go to the DLQ."
    )
    window_max_open: int = Field(
        8, ge=1, le=64, description="Open windows per stream; opening one more closes the oldest early (reason budget)."
    )

    # --- tagging -----------------------------------------------------------------------------
    tag_top_k: int = Field(3, ge=1, le=100, description="Catalog products returned per live window.")
    tag_min_score: float = Field(
        0.0, ge=0.0, le=1.0, description="Override of the calibrated claim rule (streams/worker/claims.json): when > 0, a tag is "
        "claimed whenever its top score (mean cosine over shared branches) reaches this floor, whatever its margin."
    )
    tag_claim_rule: str = Field(
        "", description="A claims.json written by `ampere calibrate` for this deployment's catalog (empty: the shipped "
        "rule, streams/worker/claims.json). A rule fitted for another model, engine or scoring rule claims nothing."
    )

    # --- operations --------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "warning", description="Log level of `python -m streams.worker` (the container entry point)."
    )
    metrics_port: int = Field(9464, ge=0, le=65535, description="Worker port of /metrics, /livez, /readyz (0 = off).")
    metrics_host: str = Field("127.0.0.1", description="Interface of the metrics port (0.0.0.0 in a container).")
    stall_after_s: float = Field(
        30.0, ge=1.0, le=3600.0,
        description="A worker whose event loop has not ticked, or whose window stage has been blocked, this long is not "
        "live/ready (/livez, /readyz); the AmpereWorkerNotReady alert uses the same figure.",
    )
    log_format: Literal["text", "json"] = Field("text", description="Log lines as text or as one JSON object each.")
    dashboard_port: int = Field(8765, ge=0, le=65535, description="Port of the live dashboard (ampere dashboard).")
    dashboard_host: str = Field("127.0.0.1", description="Interface of the live dashboard.")
    dashboard_seller: str = Field(
        "", max_length=200, description="Show one seller's streams, products, segments and search results only "
        "(a seller-facing dashboard; its dead letters are not shown); empty: every seller (the operator's view)."
    )

    # --- ingest gateway (HTTP / WebSocket) ----------------------------------------------------------
    ingest_host: str = Field("127.0.0.1", description="Address the ingest gateway listens on.")
    ingest_port: int = Field(18400, ge=1, le=65535, description="Port of the ingest gateway.")
    ingest_api_key: str | None = Field(None, description="API key broadcasters must send; None = open (loopback only).")
    ingest_api_key_next: str | None = Field(
        None, description="Two-key rotation: a second key the gateway accepts beside AMPERE_INGEST_API_KEY while "
        "broadcasters switch to it (needs AMPERE_INGEST_API_KEY)."
    )
    ingest_rate_per_s: float = Field(50.0, gt=0, le=100_000, description="Messages per second accepted per stream (token bucket).")
    ingest_burst: int = Field(200, ge=1, le=1_000_000, description="Messages a stream may send at once above its rate.")
    ingest_max_websockets: int = Field(
        128, ge=1, le=100_000, description="WebSocket connections the gateway holds at once; one more is closed with 1013 (try again later)."
    )
    ingest_decode_concurrency: int = Field(
        2, ge=1, le=64, description="Keyframe images (and JSON over 64 KiB) the gateway decodes at once, in threads."
    )

    @field_validator("encoder_engine")
    @classmethod
    def _known_encoder(cls, name: str) -> str:
        from engines.encode import ENCODERS

        return ENCODERS.check(name)

    @field_validator("summarizer")
    @classmethod
    def _known_summarizer(cls, name: str) -> str:
        from engines.summarize import SUMMARIZERS

        return SUMMARIZERS.check(name)

    @model_validator(mode="after")
    def _limits_fit(self) -> Settings:
        inline = (self.max_image_bytes + 2) // 3 * 4 + 64 * 1024
        if inline > self.max_message_bytes:
            raise ValueError(
                f"AMPERE_MAX_MESSAGE_BYTES={self.max_message_bytes} cannot carry an inline image of "
                f"AMPERE_MAX_IMAGE_BYTES={self.max_image_bytes} (needs >= {inline} with base64 and headroom)"
            )
        text = (self.window_max_open + self.window_retain_closed) * self.window_max_text_bytes
        if text > self.max_message_bytes // 2:
            raise ValueError(
                f"(AMPERE_WINDOW_MAX_OPEN + AMPERE_WINDOW_RETAIN_CLOSED) x AMPERE_WINDOW_MAX_TEXT_BYTES = {text} bytes of "
                f"transcript per stream state must stay within half of AMPERE_MAX_MESSAGE_BYTES={self.max_message_bytes}"
            )
        shortest = min(self.retention_images_ms, self.retention_ms)
        if shortest < 2 * (self.window_ms + self.grace_ms):
            raise ValueError(
                f"retention of {shortest} ms is shorter than two windows with their grace "
                f"(2 x (AMPERE_WINDOW_MS + AMPERE_GRACE_MS) = {2 * (self.window_ms + self.grace_ms)} ms): a worker "
                "restart would find the input of the windows it resumes deleted"
            )
        for key, following in (("INGEST", self.ingest_api_key), ("WEAVIATE", self.weaviate_api_key)):
            nxt = self.ingest_api_key_next if key == "INGEST" else self.weaviate_api_key_next
            if nxt and not following:
                raise ValueError(f"AMPERE_{key}_API_KEY_NEXT is a second key for a rotation: set AMPERE_{key}_API_KEY too")
        return self

    @property
    def image_uri_prefixes(self) -> list[str]:
        """The allow-list of image URI prefixes (empty = URIs refused)."""
        return [p.strip() for p in self.image_uri_allow.split(",") if p.strip()]

    def summarizer_options(self, engine: str | None = None) -> dict:
        """Keyword options for ``engines.summarize.build_summarizer`` of ``engine`` (default: the setting):
        the ``llm`` section and the engine's own section (none for the extractive engine)."""
        engine = engine or self.summarizer
        if engine not in SECTIONS:
            return {}
        return {**self.section("llm").model_dump(), **self.section(engine).model_dump()}

    def section(self, name: str) -> Any:
        """The typed view of one concern, built from the flat fields (``settings.window`` etc. are the same)."""
        if name == "kafka":
            from streams.kafka.config import kafka_config

            return kafka_config(self)
        model = _SECTION_MODELS[name]
        return model.model_construct(**{short: getattr(self, flat) for short, flat in SECTIONS[name].fields.items()})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    return Settings()


# ----------------------------------------------------------------------------- sections, one per concern
@dataclass(frozen=True)
class SectionSpec:
    """One concern of the settings: its doc line and its fields (section name → flat field name)."""

    doc: str
    fields: dict[str, str]


def _same(*flat: str) -> dict[str, str]:
    return {name: name for name in flat}


#: The sections, in the order of the settings reference. A flat field belongs to the first section that
#: lists it (its place in docs/SETTINGS.md); a later one may reuse it (``llm_timeout_s`` for openai).
SECTIONS: dict[str, SectionSpec] = {
    "kafka": SectionSpec("How every Kafka client connects (streams.kafka.config.KafkaConfig).", {
        "bootstrap": "kafka_bootstrap", "security_protocol": "kafka_security_protocol",
        "sasl_mechanism": "kafka_sasl_mechanism", "sasl_username": "kafka_sasl_username",
        "sasl_password": "kafka_sasl_password", "ssl_cafile": "kafka_ssl_cafile", "ssl_certfile": "kafka_ssl_certfile",
        "ssl_keyfile": "kafka_ssl_keyfile", "max_message_bytes": "max_message_bytes",
        "session_timeout_ms": "kafka_session_timeout_ms"}),
    "topics": SectionSpec("Names and shape of the topics Ampere creates.", {
        "prefix": "topic_prefix", "partitions": "topic_partitions", "replication_factor": "topic_replication_factor",
        "min_insync_replicas": "topic_min_insync_replicas", "retention_images_ms": "retention_images_ms",
        "retention_ms": "retention_ms", "retention_dlq_ms": "retention_dlq_ms"}),
    "store": SectionSpec("The Weaviate store.", {
        "url": "weaviate_url", "grpc_port": "weaviate_grpc_port", "api_key": "weaviate_api_key",
        "api_key_next": "weaviate_api_key_next", "replication_factor": "weaviate_replication_factor", "consistency": "weaviate_consistency",
        "collection_prefix": "collection_prefix", "permanent_tries": "store_permanent_tries",
        "moment_max_age_s": "moment_max_age_s", "backup_backend": "backup_backend"}),
    "window": SectionSpec("Windowing of each stream (event time) in the window stage.", {
        "length_ms": "window_ms", "hop_ms": "hop_ms", "grace_ms": "grace_ms", "idle_close_ms": "idle_close_ms",
        "end_settle_ms": "end_settle_ms", "max_keyframes": "max_keyframes", "sources_live": "window_sources_live",
        "sources_video": "window_sources_video", "retain_closed": "window_retain_closed", "tick_ms": "window_tick_ms", "commit_ms": "window_commit_ms",
        "clock_skew_ms": "window_clock_skew_ms", "max_chunks": "window_max_chunks", "max_text_bytes": "window_max_text_bytes", "max_open": "window_max_open"}),
    "limits": SectionSpec("Input hardening: what a record or an image may weigh, where image URIs may point.", _same(
        "max_image_bytes", "max_image_pixels", "max_batch_pixels", "max_text_chars", "image_uri_allow",
        "image_fetch_timeout_s", "image_fetch_concurrency", "dlq_max_value_bytes")),
    "encode": SectionSpec("The encoder runtime and the batches the agents form.", {
        "engine": "encoder_engine", "threads": "encoder_threads", "batch_size": "batch_size",
        "batch_wait_ms": "batch_wait_ms", "pipeline": "embed_pipeline"}),
    "summarize": SectionSpec("Which summarizer, and how the two phases (extractive now, LLM later) share the work.", {
        "engine": "summarizer", "two_phase": "two_phase", "extractive_text": "extractive_text",
        "refined_text": "refined_text", "max_lag_ms": "summary_max_lag_ms", "refine_max_lag_ms": "refine_max_lag_ms"}),
    "llm": SectionSpec("Options every LLM summarizer engine takes.", {
        "prompt_version": "summary_prompt_version", "token_budget": "summary_token_budget",
        "cache_size": "summary_cache_size", "cache_dir": "summary_cache_dir"}),
    "llamacpp": SectionSpec("The in-process llama.cpp summarizer (the CPU default).", {
        "model_path": "llm_model_path", "home": "home", "threads": "llm_threads", "decode_threads": "llm_decode_threads",
        "timeout_s": "llm_timeout_s", "parallel": "llm_parallel", "prompt_lookup": "llm_prompt_lookup",
        "jump_forward": "llm_jump_forward"}),
    "openai": SectionSpec("The OpenAI-compatible HTTP summarizer (vllm serve, a llama.cpp server).", {
        "base_url": "openai_base_url", "model": "openai_model", "api_key": "openai_api_key",
        "timeout_s": "llm_timeout_s", "max_concurrency": "llm_max_concurrency", "retries": "llm_retries"}),
    "vllm": SectionSpec("The in-process vLLM summarizer (GPU).", {"model": "vllm_model"}),
    "tag": SectionSpec("Tagging live windows with catalog products.", {"top_k": "tag_top_k", "min_score": "tag_min_score",
                                                                     "claim_rule": "tag_claim_rule"}),
    "worker": SectionSpec("What one worker process runs, and where.", {
        "role": "worker_role", "refine_cpus": "refine_cpus", "refine_nice": "refine_nice"}),
    "gateway": SectionSpec("The HTTP / WebSocket ingest gateway.", {
        "host": "ingest_host", "port": "ingest_port", "api_key": "ingest_api_key",
        "api_key_next": "ingest_api_key_next", "rate_per_s": "ingest_rate_per_s",
        "burst": "ingest_burst", "max_websockets": "ingest_max_websockets",
        "decode_concurrency": "ingest_decode_concurrency"}),
    "ops": SectionSpec("Logs, metrics and the dashboard.", _same(
        "log_level", "log_format", "metrics_port", "metrics_host", "stall_after_s", "dashboard_port", "dashboard_host",
        "dashboard_seller")),
    "infra": SectionSpec("The local services `ampere infra up` starts, and the cache folder.", _same(
        "home", "kafka_broker_port", "kafka_controller_port", "kafka_version", "kafka_brokers", "weaviate_version",
        "weaviate_nodes", "weaviate_internal_ports")),
}


class Section(BaseModel):
    """A typed, read-only view of one section, built from the flat settings (already validated)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


def _section_model(name: str, spec: SectionSpec) -> type[Section]:
    """The section's model: each field is the flat field (type, default, doc, range) under its section name."""
    fields: dict[str, Any] = {}
    for short, flat in spec.fields.items():
        info = Settings.model_fields[flat]
        fields[short] = (info.annotation, copy.copy(info))
    title = "".join(part.title() for part in name.split("_")) + "Section"
    return create_model(title, __base__=Section, __doc__=spec.doc, **fields)


_SECTION_MODELS: dict[str, type[Section]] = {
    name: _section_model(name, spec) for name, spec in SECTIONS.items() if name != "kafka"
}
for _name, _spec in SECTIONS.items():  # settings.window, settings.store, ... (settings.kafka is the KafkaConfig)
    setattr(Settings, _name, property(lambda self, _n=_name: self.section(_n), doc=_spec.doc))


def section_of(flat: str) -> str:
    """The section a flat field is documented in (the first that lists it)."""
    return next(name for name, spec in SECTIONS.items() if flat in spec.fields.values())


def _bounds(info: Any) -> str:
    lo = hi = ""
    for m in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">")):
            if getattr(m, attr, None) is not None:
                lo = f"{sign} {getattr(m, attr):_}".replace("_", " ")
        for attr, sign in (("le", "≤"), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                hi = f"{sign} {getattr(m, attr):_}".replace("_", " ")
        if getattr(m, "pattern", None):
            lo = f"matches `{m.pattern}`"
    args = getattr(info.annotation, "__args__", ())
    if getattr(info.annotation, "__origin__", None) is Literal:
        return " / ".join(f"`{a}`" for a in args)
    return ", ".join(b for b in (lo, hi) if b)


def _default(flat: str, info: Any) -> str:
    if info.default_factory is not None:
        return "(computed)" if flat != "home" else "`~/.cache/ampere`"
    value = info.default
    if value is None or value == "":
        return "—"
    return f"`{value}`"


def reference_markdown() -> str:
    """docs/SETTINGS.md: every setting by section (environment variable, default, range, meaning)."""
    choices = {"encoder_engine": "engines.encode", "summarizer": "engines.summarize"}
    lines = [
        "# Settings reference",
        "",
        ("Generated from `streams/settings.py` (`python -m streams.settings > docs/SETTINGS.md`); "
         "`tests/streams/test_settings_sections.py` keeps it current."),
        ("Every setting is an environment variable `AMPERE_<NAME>`; in code it is `settings.<name>` or, by "
         "concern, `settings.<section>.<field>` (e.g. `settings.window.length_ms` is `AMPERE_WINDOW_MS`)."),
    ]
    for name, spec in SECTIONS.items():
        rows = [(short, flat) for short, flat in spec.fields.items() if section_of(flat) == name]
        lines += ["", f"## `{name}`", "", spec.doc, "", "| variable | field | default | range / choices | meaning |",
                  "| --- | --- | --- | --- | --- |"]
        for short, flat in rows:
            info = Settings.model_fields[flat]
            rng = _bounds(info)
            if flat in choices:
                module = importlib.import_module(choices[flat])
                registry = module.ENCODERS if flat == "encoder_engine" else module.SUMMARIZERS
                rng = " / ".join(f"`{n}`" for n in registry.names())
            desc = (info.description or "").replace("|", "\\|")
            lines.append(f"| `AMPERE_{flat.upper()}` | `{short}` | {_default(flat, info)} | {rng} | {desc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
