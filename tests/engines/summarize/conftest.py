"""Fixtures of the summarizer tests: a scripted LLM engine (pure-logic tests only) and model paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.summarize.guarded import Completion, GuardedLlmSummarizer
from engines.summarize.prompt import Message
from streams.settings import Settings


class ScriptedSummarizer(GuardedLlmSummarizer):
    """An LLM engine whose replies come from a function of the last user message (counts calls)."""

    name = "llamacpp"

    def __init__(self, reply, **options) -> None:
        super().__init__(**options)
        self.reply = reply
        self.conversations: list[list[Message]] = []

    def _complete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        out: list[Completion] = []
        for conv in conversations:
            self.conversations.append(conv)
            try:
                out.append(self.reply(conv))
            except Exception as exc:  # noqa: BLE001 - scripted failures of any kind
                out.append(exc)
        return out


@pytest.fixture
def scripted():
    """Factory: ``scripted(reply_fn, **options)``."""
    return ScriptedSummarizer


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """The assembled CPU model, or a skip that says how to get it."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (setup installs the cached wheel)")
    from engines.summarize.model_fetch import default_model_path

    path = default_model_path(Settings().home)
    if not path.is_file():
        pytest.skip(f"GGUF model missing: run `ampere fetch-llm` (expected {path.name} under the cache folder)")
    return path
