"""The Summarizer interface shared by every LLM engine and the extractive fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from engines.summarize.schema import Summary, SummaryRequest


@runtime_checkable
class Summarizer(Protocol):
    """Turns windows of ASR text into validated ``Summary`` objects, batched, in input order."""

    name: str

    def summarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        """Summarize a batch; never raises for bad LLM output (falls back instead)."""
        ...

    async def asummarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        """Async form used by the stream agents."""
        ...


class SyncSummarizerMixin:
    """Gives a sync engine its async form by running it in a worker thread."""

    async def asummarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        return await asyncio.to_thread(self.summarize, batch)  # type: ignore[attr-defined]
