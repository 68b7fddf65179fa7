"""The GPU path's sampling parameters carry the schema the prompt version asks for (vLLM faked: pure logic)."""

from __future__ import annotations

import sys
import types

from engines.summarize.output import LEAN_OUTPUT_SCHEMA, LLM_OUTPUT_SCHEMA
from engines.summarize.vllm_engine import structured_sampling_params


def test_structured_sampling_params_use_the_given_schema(monkeypatch):
    class StructuredOutputsParams:
        def __init__(self, json):
            self.json = json

    fake = types.SimpleNamespace(SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    monkeypatch.setitem(sys.modules, "vllm.sampling_params",
                        types.SimpleNamespace(StructuredOutputsParams=StructuredOutputsParams))
    full = structured_sampling_params(fake, 320)
    lean = structured_sampling_params(fake, 256, LEAN_OUTPUT_SCHEMA)
    assert full["structured_outputs"].json is LLM_OUTPUT_SCHEMA and full["temperature"] == 0.0
    assert lean["structured_outputs"].json is LEAN_OUTPUT_SCHEMA and lean["max_tokens"] == 256
