"""LLM summarizers of live-stream ASR behind one interface, chosen by name.

>>> summarizer = build_summarizer("extractive")
>>> summarizer.summarize([SummaryRequest("w1", "this cotton dress is 20% off")])[0].has_product
True
"""

from __future__ import annotations

from typing import Any

from engines.summarize.base import Summarizer
from engines.summarize.schema import Summary, SummaryRequest

ENGINES = ("llamacpp", "openai", "vllm", "extractive")

__all__ = ["ENGINES", "Summarizer", "Summary", "SummaryRequest", "build_summarizer"]


def build_summarizer(name: str, **options: Any) -> Summarizer:
    """Build the engine ``name`` (llamacpp | openai | vllm | extractive) with engine ``options``.

    Common options of the LLM engines: ``prompt_version``, ``token_budget``, ``cache_size``,
    ``cache_dir``. llamacpp: ``model_path``, ``threads``, ``timeout_s``, ``n_ctx``.
    openai: ``base_url``, ``model``, ``api_key``, ``timeout_s``, ``max_concurrency``, ``retries``.
    vllm: ``model``, ``max_tokens``, plus any ``vllm.LLM`` keyword in ``llm_kwargs``.
    Heavy runtimes are imported only when their engine is built.
    """
    if name == "extractive":
        from engines.summarize.extractive import ExtractiveSummarizer

        return ExtractiveSummarizer()
    if name == "llamacpp":
        from engines.summarize.llamacpp_engine import LlamaCppSummarizer

        return LlamaCppSummarizer(**options)
    if name == "openai":
        from engines.summarize.openai_engine import OpenAISummarizer

        return OpenAISummarizer(**options)
    if name == "vllm":
        from engines.summarize.vllm_engine import VllmSummarizer

        return VllmSummarizer(**options)
    raise ValueError(f"unknown summarizer {name!r}; choose one of {', '.join(ENGINES)}")
