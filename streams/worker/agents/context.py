"""What every agent shares: settings, the engines, delivery to output topics, the dead-letter route,
store calls with typed retries, and the guard that keeps a poison batch from stopping an agent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from engines.encode.base import Encoder
from engines.retry import retry_until_done
from engines.store.weaviate_store import WeaviateStore
from engines.summarize.base import Summarizer
from streams.ops import metrics
from streams.ops.counters import LossCounters
from streams.ops.logs import Throttled
from streams.schemas import BadRecord, dlq_reason, dump_record, parse_record
from streams.settings import Settings
from streams.worker import stages
from streams.worker.retry import call_with_retries

log = logging.getLogger("ampere.worker")
_throttled = Throttled(log)

R = TypeVar("R")

#: Output roles an agent sends to (the app maps each to its topic).
OUTPUTS = ("windows", "summaries", "embeddings", "tags", "segments", "dlq")


class Message(Protocol):
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None


class Event(Protocol):
    """The part of a Faust event the agents use."""

    message: Message
    value: Any


@dataclass
class Engines:
    """The heavy parts the agents call; built lazily in the worker process."""

    summarizer: Summarizer
    fallback: Summarizer
    encoder: Encoder
    store: WeaviateStore


@dataclass
class AgentContext:
    """Shared by the agents of one worker. ``send(role, key, value)`` returns once the broker
    acknowledged the record; ``engines_factory`` is called once, on first use."""

    settings: Settings
    send: Callable[[str, bytes | None, bytes], Awaitable[None]]
    engines_factory: Callable[[], Engines]
    counters: LossCounters = field(default_factory=LossCounters)  # the worker passes the process-wide registry
    #: sends records in order, then waits for every acknowledgement (one wait for a batch, not one per record)
    send_many: Callable[[str, Sequence[tuple[bytes | None, bytes]]], Awaitable[None]] | None = None
    _engines: Engines | None = None
    #: (stream, lineup ids the catalog lacks) already dead-lettered by this process: one report per lineup
    reported_lineups: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)

    @property
    def engines(self) -> Engines:
        if self._engines is None:
            self._engines = self.engines_factory()
        return self._engines

    @property
    def two_phase(self) -> bool:
        """Revision 1 at once from the extractive summary, revision 2 from the LLM."""
        return self.settings.two_phase and self.settings.summarizer != "extractive"

    async def send_all(self, role: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Send ``(key, value)`` records in order and return once the broker acknowledged all of them."""
        if self.send_many is not None:
            await self.send_many(role, records)
            return
        for key, value in records:
            await self.send(role, key, value)

    async def to_dlq(self, event: Event, err: BaseException) -> None:
        """Dead-letter one message for ``err`` (its type decides the class, see ``dlq_reason``); never
        raises: a capped copy of the value, else the reason alone, and while the broker cannot take
        even that, retry until it can (the offset is not committed)."""
        m = event.message
        await self.dead_letter(m.topic, m.partition, m.offset, m.key, m.value, err)

    async def parsed(self, events: Sequence[Event], model: type[R]) -> list[tuple[Event, R]]:
        """Each event with its record parsed as ``model``; an event that does not parse is dead-lettered
        with its reason and left out."""
        out = []
        for ev in events:
            try:
                out.append((ev, parse_record(ev.value, model)))  # type: ignore[type-var]
            except BadRecord as exc:
                await self.to_dlq(ev, exc)
        return out

    async def dead_letter(self, topic: str, partition: int | None, offset: int | None, key: bytes | None,
                          value: bytes | None, err: BaseException) -> None:
        """Dead-letter ``value`` as coming from ``topic`` (partition and offset None: not one input
        message, e.g. a lineup the catalog cannot answer); see :meth:`to_dlq`."""
        reason, kind = dlq_reason(err)
        log.warning("DLQ %s[%s]@%s: %s", topic, partition, offset, reason[:500])
        metrics.count_dlq(topic, kind)
        short_key = key[: stages.DLQ_KEY_BYTES] if key else None
        for cap in (self.settings.dlq_max_value_bytes, 0):
            try:
                rec = stages.dead_letter(topic, partition, offset, key, value, reason, max_value_bytes=cap)
                await self.send("dlq", short_key, dump_record(rec))
                return
            except Exception as exc:  # noqa: BLE001 - fall back to the reason-only record
                log.error("dead letter with %d value bytes failed (%s: %s)", cap, type(exc).__name__, exc)
        rec = stages.dead_letter(topic, partition, offset, key, value, reason, max_value_bytes=0)

        def failed(exc: BaseException, attempt: int) -> None:  # the broker is down: the message stays uncommitted
            _throttled("dlq", logging.ERROR, "dead letter still failing (%s: %s); retry %d", type(exc).__name__, exc, attempt)

        await retry_until_done(lambda: self.send("dlq", short_key, dump_record(rec)), on_failure=failed)
        _throttled.clear("dlq")

    async def guarded(
        self, events: list[Event], body: Callable[[AgentContext, list[Event]], Awaitable[Any]], *,
        dead_letter: bool = True,
    ) -> Any:
        """Run a batch body and return what it returns; if it raises, dead-letter the batch's events with
        the reason, return None and go on (``dead_letter=False``: an optional stage, whose failure is
        logged and counted only)."""
        try:
            return await body(self, events)
        except Exception as exc:
            log.exception("batch of %d failed", len(events))
            self.counters.add("batch_errors")
            if dead_letter:
                for ev in events:
                    await self.to_dlq(ev, exc)

    async def store_up(self) -> bool:
        return await asyncio.to_thread(self.engines.store.is_ready)

    async def store_call(self, what: str, fn: Callable[[], Any]) -> Any:
        """A store call retried while the store is down; PermanentError after bounded refusals."""
        return await call_with_retries(
            what, lambda: asyncio.to_thread(fn), service_up=self.store_up,
            permanent_tries=self.settings.store_permanent_tries,
        )
