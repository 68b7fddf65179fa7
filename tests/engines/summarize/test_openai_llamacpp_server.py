"""The openai engine against a real local llama.cpp server (the CPU stand-in for `vllm serve`)."""

from __future__ import annotations

import importlib.util

import pytest

from engines.summarize import build_summarizer
from engines.summarize.schema import Summary, SummaryRequest

pytestmark = pytest.mark.slow


def test_openai_engine_summarizes_through_a_llama_cpp_server(gguf_path):
    missing = [m for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context") if not importlib.util.find_spec(m)]
    if missing:
        pytest.skip(f"llama.cpp server deps missing ({', '.join(missing)}): install ampere-stream[llm-server]")
    from tooling.bench.summarizer import LlamaCppServer

    with LlamaCppServer(gguf_path, n_ctx=2560, threads=2, decode_threads=1, log=lambda m: None) as server:
        engine = build_summarizer("openai", base_url=server.base_url, model="ampere-summarizer",
                                  response_format="json_object", timeout_s=180.0, retries=0)
        window = SummaryRequest("en", "ok next one, the Brio stainless steel french press, one liter, "
                                      "double wall, twenty nine dollars today only", "en")
        summary = engine.summarize([window])[0]
    Summary.model_validate(summary.model_dump())
    assert summary.source == "openai", summary.fallback_reason
    assert summary.has_product and summary.sentence and engine.http_requests >= 1
