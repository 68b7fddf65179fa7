"""The CPU default: an in-process llama.cpp model (GGUF) with JSON-schema constrained decoding.

llama.cpp here runs one sequence at a time, so a batch is summarized window after window in this
process; the shared system prompt and examples stay in the KV cache between windows, so each window
costs only its own transcript and the answer.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from engines.summarize.guarded import Completion, GuardedLlmSummarizer
from engines.summarize.output import LLM_OUTPUT_SCHEMA
from engines.summarize.prompt import Message


class _Deadline(TimeoutError):
    """Generation ran past the engine's timeout."""


class LlamaCppSummarizer(GuardedLlmSummarizer):
    """``Summarizer`` over llama-cpp-python; greedy (temperature 0), grammar-constrained JSON."""

    name = "llamacpp"

    def __init__(
        self,
        model_path: str | Path,
        *,
        threads: int = 2,
        decode_threads: int = 1,
        timeout_s: float = 30.0,
        token_budget: int = 384,
        max_tokens: int = 320,
        n_ctx: int | None = None,
        verbose: bool = False,
        warmup: bool = True,
        **guard_options: Any,
    ) -> None:
        try:
            from llama_cpp import Llama, LlamaGrammar
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the llamacpp summarizer needs llama-cpp-python: install the cached wheel "
                "(infra/llamacpp_wheel.sh prints its path) or `pip install ampere-stream[llm]`"
            ) from exc
        model_path = Path(model_path)
        if not model_path.is_file():
            raise FileNotFoundError(
                f"GGUF model not found at {model_path}: run `ampere fetch-llm` to assemble it"
            )
        super().__init__(token_budget=token_budget, model_id=model_path.name, **guard_options)
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        llama_kwargs = {
            "model_path": str(model_path),
            "n_threads": decode_threads,  # one-token decode steps: extra threads mostly wait on barriers
            "n_threads_batch": threads,  # prompt prefill is batched and scales with threads
            "n_batch": 512,
            "seed": 0,
            "verbose": verbose,
        }
        self.llm = Llama(n_ctx=n_ctx or 4096, **llama_kwargs)
        self.count_tokens = self._count_tokens
        if n_ctx is None:  # size the context to what a window can need, then reload once
            needed = self._context_needed()
            if needed != self.llm.n_ctx():
                del self.llm
                self.llm = Llama(n_ctx=needed, **llama_kwargs)
        self.grammar = LlamaGrammar.from_json_schema(json.dumps(LLM_OUTPUT_SCHEMA), verbose=False)
        self.generated_tokens = 0
        if warmup:
            self.warm_up()

    def warm_up(self) -> None:
        """Evaluate the shared system prompt + examples once so they sit in the KV cache."""
        messages = self.prompt.messages("", "en")
        with self._lock:
            self.llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=1)

    def _count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _context_needed(self) -> int:
        fixed = self.prompt.messages("", "en")
        fixed_tokens = sum(self._count_tokens(m["content"]) + 8 for m in fixed)
        # transcript + first answer + repair turn (bad answer again + repair request) + margin
        needed = fixed_tokens + self.token_budget + 3 * self.max_tokens + 128
        return min(32768, -(-needed // 256) * 256)

    def _complete_one(self, messages: list[Message]) -> str:
        """Stream one constrained answer; stop and raise once the deadline has passed."""
        deadline = time.monotonic() + self.timeout_s
        stream = self.llm.create_chat_completion(
            messages=messages,
            temperature=0.0,
            max_tokens=self.max_tokens,
            grammar=self.grammar,
            stream=True,
        )
        parts: list[str] = []
        for chunk in stream:
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                parts.append(delta)
                self.generated_tokens += 1  # one streamed chunk per sampled token
            if time.monotonic() > deadline:
                stream.close()
                raise _Deadline(f"llama.cpp generation exceeded {self.timeout_s:.1f}s")
        return "".join(parts)

    def _complete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        replies: list[Completion] = []
        with self._lock:
            for messages in conversations:
                try:
                    replies.append(self._complete_one(messages))
                except Exception as exc:  # noqa: BLE001 - one window's failure must not sink the batch
                    replies.append(exc)
        return replies
