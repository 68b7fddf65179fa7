"""The failure handling every LLM engine shares.

Per window: near-empty ASR → empty masked summary (no call); cache hit → no call; else drop
instruction-like spans, cut to the token budget, call the LLM; an invalid reply gets one repair turn; a still-invalid reply, a timeout or
an error → the extractive summary, marked with ``fallback_reason``. A window is never dropped.
Engines implement only ``_complete_many`` (and ``_acomplete_many`` when they are natively async).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engines.summarize.budget import cut_to_budget
from engines.summarize.cache import SummaryCache, cache_key
from engines.summarize.extractive import (
    ExtractiveSummarizer,
    empty_summary,
    is_near_empty,
    request_language,
)
from engines.summarize.output import InvalidOutput, output_schema, parse_llm_output
from engines.summarize.prompt import Message, Prompt, load_prompt
from engines.summarize.schema import FallbackClass, Summary, SummaryRequest, SummarySource
from engines.summarize.text import estimate_tokens, strip_hostile

log = logging.getLogger(__name__)

Completion = str | BaseException  # one reply, or why there is none


@dataclass
class _Job:
    index: int
    request: SummaryRequest
    transcript: str
    language: str
    key: str
    messages: list[Message]


class GuardedLlmSummarizer:
    """Base of the LLM engines: validation, one repair, fallback, cache, token budget."""

    name: SummarySource

    def __init__(
        self,
        *,
        prompt_version: str = "v1",
        token_budget: int = 384,
        cache: SummaryCache | None = None,
        cache_size: int = 4096,
        cache_dir: str | Path | None = None,
        model_id: str = "",
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self.prompt: Prompt = load_prompt(prompt_version)
        self.output_schema = output_schema(self.prompt.is_lean)  # what constrained decoding enforces
        self.token_budget = token_budget
        self.cache = cache if cache is not None else SummaryCache(cache_size, cache_dir)
        self.model_id = model_id
        self.count_tokens = count_tokens or estimate_tokens
        self.fallback = ExtractiveSummarizer()
        self.llm_calls = 0  # conversations sent to the model, repairs included

    # -- to implement ---------------------------------------------------------------------------
    def _complete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        """One reply (or exception) per conversation, in order."""
        raise NotImplementedError

    async def _acomplete_many(self, conversations: list[list[Message]]) -> list[Completion]:
        """Async form; by default the sync one in a worker thread."""
        return await asyncio.to_thread(self._complete_many, conversations)

    # -- the interface ----------------------------------------------------------------------------
    def summarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        """Summarize a batch in order; never raises because of the LLM."""
        results, jobs = self._plan(batch)
        if jobs:
            replies = self._safe(self._complete_many, [j.messages for j in jobs])
            retry = self._accept(results, jobs, replies, final=False)
            if retry:
                repairs = self._safe(self._complete_many, [m for _, m in retry])
                self._accept(results, [j for j, _ in retry], repairs, final=True)
        return results  # type: ignore[return-value]

    async def asummarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        """Async form of ``summarize`` with the same guarantees."""
        results, jobs = self._plan(batch)
        if jobs:
            replies = await self._asafe([j.messages for j in jobs])
            retry = self._accept(results, jobs, replies, final=False)
            if retry:
                repairs = await self._asafe([m for _, m in retry])
                self._accept(results, [j for j, _ in retry], repairs, final=True)
        return results  # type: ignore[return-value]

    # -- steps --------------------------------------------------------------------------------------
    def _plan(self, batch: Sequence[SummaryRequest]) -> tuple[list[Summary | None], list[_Job]]:
        results: list[Summary | None] = [None] * len(batch)
        jobs: list[_Job] = []
        for i, request in enumerate(batch):
            if is_near_empty(request.text):
                results[i] = empty_summary(request, self.prompt.version)
                continue
            key = cache_key(request.text, self.prompt.version, self.name, self.model_id)
            hit = self.cache.get(key)
            if hit is not None:
                results[i] = hit
                continue
            language = request_language(request)
            # instruction-like spans never reach the model (it still sees the rest, delimited as data)
            clean = strip_hostile(" ".join(request.text.split()))
            transcript = cut_to_budget(clean, self.token_budget, self.count_tokens)
            jobs.append(_Job(i, request, transcript, language, key, self.prompt.messages(transcript, language)))
        return results, jobs

    def _accept(
        self,
        results: list[Summary | None],
        jobs: list[_Job],
        replies: list[Completion],
        *,
        final: bool,
    ) -> list[tuple[_Job, list[Message]]]:
        """Store good replies; return the jobs that deserve a repair turn (none when ``final``)."""
        retry: list[tuple[_Job, list[Message]]] = []
        for job, reply in zip(jobs, replies, strict=True):
            if isinstance(reply, BaseException):
                if isinstance(reply, (TimeoutError, asyncio.TimeoutError)):
                    results[job.index] = self._fallback(job, "timeout", "timeout")
                else:
                    results[job.index] = self._fallback(job, "error", f"error: {type(reply).__name__}: {str(reply)[:120]}")
                continue
            try:
                summary = parse_llm_output(
                    reply,
                    transcript=job.transcript,
                    language=job.language,
                    source=self.name,
                    prompt_version=self.prompt.version,
                )
            except InvalidOutput as exc:
                if final:
                    results[job.index] = self._fallback(job, "invalid_output", f"invalid output after repair: {exc}")
                else:
                    retry.append((job, self.prompt.repair_messages(job.messages, reply, str(exc))))
                continue
            self.cache.put(job.key, summary)
            results[job.index] = summary
        return retry

    def _fallback(self, job: _Job, kind: FallbackClass, reason: str) -> Summary:
        log.warning("summarizer %s fell back for window %s: %s", self.name, job.request.window_id, reason)
        return self.fallback.summarize_one(
            job.request, fallback_reason=reason, fallback_class=kind, prompt_version=self.prompt.version
        )

    def _safe(self, fn: Callable[[list[list[Message]]], list[Completion]], convs: list[list[Message]]) -> list[Completion]:
        self.llm_calls += len(convs)
        try:
            replies = fn(convs)
        except Exception as exc:  # noqa: BLE001 - the whole batch failed: every window falls back
            return [exc] * len(convs)
        return _checked(replies, len(convs))

    async def _asafe(self, convs: list[list[Message]]) -> list[Completion]:
        self.llm_calls += len(convs)
        try:
            replies = await self._acomplete_many(convs)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a fallback, never a lost window
            return [exc] * len(convs)
        return _checked(replies, len(convs))


def _checked(replies: list[Completion], expected: int) -> list[Completion]:
    if len(replies) != expected:
        err = RuntimeError(f"engine returned {len(replies)} replies for {expected} prompts")
        return [err] * expected
    return replies
