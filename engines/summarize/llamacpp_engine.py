"""The CPU default: an in-process llama.cpp model (GGUF) with JSON-schema constrained decoding.

Two decoding loops. ``parallel >= 1``: ``BatchDecoder`` decodes up to ``parallel`` windows together
in one context (continuous batching, shared prompt prefix, cheap grammar check). ``parallel = 0``:
llama-cpp-python's own chat completion, one window after another (optionally with prompt-lookup
speculative decoding). Either way the shared system prompt and examples are evaluated once and stay
in the KV cache, so each window costs only its own transcript and the answer.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engines.summarize.guarded import Completion, GuardedLlmSummarizer
from engines.summarize.jump_forward import key_tree
from engines.summarize.llamacpp_batch import BatchDecoder
from engines.summarize.prompt import Message


def _close_llama_null_files() -> None:
    """llama-cpp-python opens two ``/dev/null`` files when imported and never closes them, which prints
    ``ResourceWarning: unclosed file`` at exit; they serve only model loading, long over by then."""
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        f = getattr(utils, name, None)
        if f is not None and not f.closed:
            f.close()


atexit.register(_close_llama_null_files)


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
        parallel: int = 0,
        prompt_lookup: int = 0,
        jump_forward: bool = True,
        verbose: bool = False,
        warmup: bool = True,
        **guard_options: Any,
    ) -> None:
        """``parallel``: windows decoded together (0 = one at a time through llama-cpp-python's loop);
        ``prompt_lookup``: draft tokens of prompt-lookup speculative decoding (one-at-a-time loop only);
        ``jump_forward``: feed the JSON keys the schema fixes instead of generating them (batched loop)."""
        if parallel < 0 or prompt_lookup < 0:
            raise ValueError("parallel and prompt_lookup must be >= 0")
        if parallel and prompt_lookup:
            raise ValueError("prompt_lookup works only with parallel=0 (llama-cpp-python's own loop)")
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
        self.parallel = parallel
        self.prompt_lookup = prompt_lookup
        self._lock = threading.Lock()
        llama_kwargs = {
            "model_path": str(model_path),
            "n_threads": decode_threads,  # one-token decode steps: extra threads mostly wait on barriers
            "n_threads_batch": threads,  # prompt prefill is batched and scales with threads
            "n_batch": 512,
            "seed": 0,
            "verbose": verbose,
        }
        if prompt_lookup:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            llama_kwargs["draft_model"] = LlamaPromptLookupDecoding(num_pred_tokens=prompt_lookup)
            llama_kwargs["logits_all"] = True  # drafts are verified against every position's logits
        self.llm = Llama(n_ctx=n_ctx or 4096, **llama_kwargs)
        self.count_tokens = self._count_tokens
        if n_ctx is None:  # size the context to what a window can need, then reload once
            needed = self._context_needed()
            if needed != self.llm.n_ctx():
                del self.llm
                self.llm = Llama(n_ctx=needed, **llama_kwargs)
        self.grammar = LlamaGrammar.from_json_schema(json.dumps(self.output_schema), verbose=False)
        self.generated_tokens = 0
        self.decoder: BatchDecoder | None = None
        if parallel:
            per_window = self.llm.n_ctx() - self._fixed_tokens()
            # every step is a batch here, so it runs on the decode threads (barriers cost on a busy CPU)
            self.decoder = BatchDecoder(self.llm, self.grammar, parallel=parallel, threads=decode_threads,
                                        n_ctx=self._fixed_tokens() + parallel * per_window,
                                        keys=key_tree(self.output_schema) if jump_forward else None)
            self._format = _chat_formatter(self.llm)
        if warmup:
            self.warm_up()

    def warm_up(self) -> None:
        """Evaluate the shared system prompt + examples once so they sit in the KV cache."""
        messages = self.prompt.messages("", "en")
        if self.decoder is not None:
            self._complete_batched([messages], max_tokens=1)
            return
        with self._lock:
            self.llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=1)

    def _count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _fixed_tokens(self) -> int:
        return sum(self._count_tokens(m["content"]) + 8 for m in self.prompt.messages("", "en"))

    def _context_needed(self) -> int:
        # transcript + first answer + repair turn (bad answer again + repair request) + margin
        needed = self._fixed_tokens() + self.token_budget + 3 * self.max_tokens + 128
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

    def _complete_batched(self, conversations: list[list[Message]], max_tokens: int | None = None) -> list[Completion]:
        assert self.decoder is not None
        prompts = [self._format(messages) for messages in conversations]
        with self._lock:
            before = self.decoder.generated_tokens
            try:
                return self.decoder.generate(prompts, max_tokens or self.max_tokens, self.timeout_s)
            finally:
                self.generated_tokens += self.decoder.generated_tokens - before

    def _complete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        if self.decoder is not None:
            return self._complete_batched(conversations)
        replies: list[Completion] = []
        with self._lock:
            for messages in conversations:
                try:
                    replies.append(self._complete_one(messages))
                except Exception as exc:  # noqa: BLE001 - one window's failure must not sink the batch
                    replies.append(exc)
        return replies


def _chat_formatter(llm: Any) -> Callable[[list[Message]], list[int]]:
    """Messages → prompt tokens through the GGUF's own chat template (as llama-cpp-python formats them)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        raise ValueError("the GGUF has no chat template; use parallel=0")
    eos, bos = llm.token_eos(), llm.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
    )

    def tokens(messages: list[Message]) -> list[int]:
        result = formatter(messages=messages)
        return llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    return tokens
