"""Build the engines the settings name: summarizer, encoder, store."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from engines.encode.base import Encoder
from engines.errors import AmpereError
from engines.store.weaviate_store import WeaviateStore, connect
from engines.summarize.base import Summarizer
from streams.settings import Settings


def build_summarizer_from(settings: Settings, engine: str | None = None, log: Callable[[str], None] = print) -> Summarizer:
    """The summarizer chosen by ``AMPERE_SUMMARIZER`` (or ``engine``), with the options the settings give it;
    the one builder used by the worker, evaluation, benchmarks and the CLI (the llama.cpp model is
    assembled from its pinned packages on first use)."""
    from engines.summarize import SUMMARIZERS

    engine = engine or settings.summarizer
    # the registry's prepare step assembles the pinned llama.cpp model when no path is set (once)
    return SUMMARIZERS.build(engine, log=log, **settings.summarizer_options(engine))


class IndexMismatch(AmpereError):
    """The store's collections hold vectors of another model (another dimension)."""


def check_index_matches(store: WeaviateStore, dims: int | Mapping[str, int]) -> None:
    """Raise :class:`IndexMismatch` when the collections already hold vectors of another length (per
    named vector: fused, visual, text; an int means the same width for all): every upsert would be
    refused. Use another ``AMPERE_COLLECTION_PREFIX`` (or drop the old collections)."""
    want = dict.fromkeys(("fused", "visual", "text"), dims) if isinstance(dims, int) else dict(dims)
    for kind in ("product", "live", "video"):
        have_dims = store.stored_dims(kind)
        for name in want:  # in the caller's order (fused first), not the server's: one reason, always the same
            have = have_dims.get(name)
            if have is not None and have != want[name]:
                raise IndexMismatch(
                    f"Weaviate collection {store.name(kind)} holds {have}-d {name} vectors but the encoder makes "
                    f"{want[name]}-d ones (another model); set AMPERE_COLLECTION_PREFIX to index into new "
                    "collections, or drop the old ones"
                )


def summarizer_fingerprint(settings: Settings, engine: str | None = None) -> str:
    """What makes summaries of one engine comparable: engine, model and prompt version (a short hash),
    so cached summaries are never reused after a model or prompt change. A name no engine is registered
    under (summaries imported from elsewhere) is keyed by its name alone."""
    import hashlib

    from engines.summarize import SUMMARIZERS

    engine = engine or settings.summarizer
    model = SUMMARIZERS.model_id(engine, settings.summarizer_options(engine)) if engine in SUMMARIZERS.names() else ""
    key = f"{engine}|{model}|{settings.summary_prompt_version if model else ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def build_encoder_from(settings: Settings) -> Encoder:
    """The encoder runtime chosen by ``AMPERE_ENCODER_ENGINE`` on the shipped weights."""
    from encoders.registry import fetch_all
    from engines.encode import load_encoder

    models_home = settings.home / "models"
    fetch_all(models_home)  # pinned weight packages, once; verified by sha256 when loaded
    return load_encoder(settings.encode.engine, models_home=models_home, threads=settings.encode.threads or None)


def connect_store(settings: Settings) -> WeaviateStore:
    """A connected store, its collections left as they are (a restore needs them absent); the client's
    reconnects are logged and counted."""
    from streams.ops import store_retries

    store_retries.install()
    return WeaviateStore(
        connect(settings.weaviate_url, settings.weaviate_grpc_port, settings.weaviate_api_key),
        prefix=settings.collection_prefix,
        replication_factor=settings.weaviate_replication_factor,
        consistency=settings.weaviate_consistency,
    )


def build_store_from(settings: Settings) -> WeaviateStore:
    """A connected store with its collections created."""
    store = connect_store(settings)
    store.ensure_collections()
    return store
