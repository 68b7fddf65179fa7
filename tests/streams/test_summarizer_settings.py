"""The llama.cpp decoding settings reach the engine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.settings import Settings


def test_parallel_and_prompt_lookup_reach_the_llamacpp_options() -> None:
    options = Settings(llm_parallel=4, llm_prompt_lookup=0).summarizer_options("llamacpp")
    assert options["parallel"] == 4 and options["prompt_lookup"] == 0
    assert "parallel" not in Settings().summarizer_options("openai")
    with pytest.raises(ValidationError):
        Settings(llm_parallel=-1)
