"""The agents' commit rule on Faust: an event is acked, so its offset may be committed, only after the
agent finished the batch it came in.

faust-streaming's ``take_events`` acks the batch it yielded in a ``finally`` block. When the agent is
cancelled mid-batch (the worker stops: Faust cancels every agent, then the consumer commits what was
acked), that block still runs as the generator is closed, and the offsets of a batch that never
reached the store would be committed. :class:`FinishedAckStream` refuses those acks: only events
passed to :meth:`FinishedAckStream.finish` are acked; the others stay uncommitted and are read again.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import faust
from faust.types import EventT

T = TypeVar("T")


class FinishedAckStream(faust.Stream):
    """A Faust stream that acks an event only once its batch was marked finished."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._finished: weakref.WeakSet[EventT] = weakref.WeakSet()

    def finish(self, events: Iterable[EventT]) -> None:
        """Mark events whose work is done; their ack then goes through."""
        self._finished.update(events)

    async def ack(self, event: EventT) -> bool:
        """Ack a finished event; an unfinished one (its batch was cancelled) stays unacked."""
        if event not in self._finished:
            return False
        self._finished.discard(event)
        return await super().ack(event)


async def run_batches(
    stream: faust.StreamT, size: int, within_s: float, handle: Callable[[list[EventT]], Awaitable[None]]
) -> None:
    """Hand the stream's batches to ``handle``; a batch is acked only after ``handle`` returned, never
    when it raised or was cancelled."""
    if not isinstance(stream, FinishedAckStream):
        raise TypeError(f"agents need a FinishedAckStream (faust.App(Stream=...)), got {type(stream).__name__}")
    async for events in stream.take_events(size, within_s):
        await handle(list(events))
        stream.finish(events)


async def run_pipelined(
    stream: faust.StreamT, size: int, within_s: float,
    first: Callable[[list[EventT]], Awaitable[T]],
    then: Callable[[list[EventT], T], Awaitable[None]],
) -> None:
    """Like :func:`run_batches` in two steps: ``then`` of batch N (store and publish: waiting on I/O)
    runs while the next batch is taken and goes through ``first`` (parse and encode: CPU). Batches
    complete in order, at most one ``then`` in flight, and a batch is acked only once its ``then``
    returned; one cancelled on the way stays unacked and is read again."""
    if not isinstance(stream, FinishedAckStream):
        raise TypeError(f"agents need a FinishedAckStream (faust.App(Stream=...)), got {type(stream).__name__}")

    async def complete(events: list[EventT], prepared: T) -> None:
        await then(events, prepared)
        stream.finish(events)
        for event in events:  # take_events tried these acks when the batch was handed over, and was refused
            await stream.ack(event)

    tail: asyncio.Task | None = None
    try:
        async for events in stream.take_events(size, within_s):
            batch = list(events)
            prepared = await first(batch)
            if tail is not None:
                await tail
            tail = asyncio.create_task(complete(batch, prepared))
        if tail is not None:
            await tail
    except BaseException:
        if tail is not None and not tail.done():
            tail.cancel()
        raise
