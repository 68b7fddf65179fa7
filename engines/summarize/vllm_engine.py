"""GPU engine: in-process ``vllm.LLM`` with JSON-schema structured output, a batch in one call.

All windows of a batch go to one ``LLM.chat`` call (vLLM batches them on the GPU), greedy
(temperature 0), constrained to ``LLM_OUTPUT_SCHEMA``. vLLM is imported only when this engine is built
(extra ``gpu``). Structured output uses ``StructuredOutputsParams`` (vLLM >= 0.12) and falls back to the
older ``GuidedDecodingParams`` on earlier releases.
"""

from __future__ import annotations

from typing import Any

from engines.summarize.guarded import Completion, GuardedLlmSummarizer
from engines.summarize.output import LLM_OUTPUT_SCHEMA
from engines.summarize.prompt import Message


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            "the vllm summarizer needs vLLM and a CUDA GPU: `pip install ampere-stream[gpu]`; "
            "on CPU use summarizer=llamacpp, or summarizer=openai against a `vllm serve` elsewhere"
        ) from exc
    return vllm


def structured_sampling_params(vllm: Any, max_tokens: int, schema: dict[str, Any] = LLM_OUTPUT_SCHEMA) -> Any:
    """Greedy ``SamplingParams`` constrained to the summary JSON schema, for old and new vLLM."""
    try:
        from vllm.sampling_params import StructuredOutputsParams

        return vllm.SamplingParams(
            temperature=0.0, max_tokens=max_tokens, structured_outputs=StructuredOutputsParams(json=schema)
        )
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return vllm.SamplingParams(
            temperature=0.0, max_tokens=max_tokens, guided_decoding=GuidedDecodingParams(json=schema)
        )


class VllmSummarizer(GuardedLlmSummarizer):
    """``Summarizer`` over an in-process vLLM engine."""

    name = "vllm"

    def __init__(
        self,
        *,
        model: str,
        max_tokens: int = 320,
        token_budget: int = 384,
        llm_kwargs: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        **guard_options: Any,
    ) -> None:
        """``timeout_s`` is accepted for a uniform interface; in-process vLLM has no per-request timeout."""
        vllm = _import_vllm()
        super().__init__(token_budget=token_budget, model_id=model, **guard_options)
        self.llm = vllm.LLM(model=model, **(llm_kwargs or {}))
        tokenizer = self.llm.get_tokenizer()
        self.count_tokens = lambda text: len(tokenizer.encode(text, add_special_tokens=False))
        self.sampling = structured_sampling_params(vllm, max_tokens, self.output_schema)

    def _complete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        outputs = self.llm.chat(conversations, sampling_params=self.sampling, use_tqdm=False)
        return [out.outputs[0].text if out.outputs else RuntimeError("vLLM returned no output") for out in outputs]
