"""The agents' commit rule on a real Faust stream over an in-memory channel: a batch is acked only after
its handler returned, never when the agent is cancelled mid-batch (the worker stopping)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import faust
import pytest

from streams.worker.agents.acks import FinishedAckStream, run_batches, run_pipelined


async def _run(stream_cls: type[faust.Stream], handle: Callable[[list], Awaitable[None]], *, use_runner: bool,
               pipelined: bool = False) -> list:
    """Send three values, let the agent take its first batch, cancel it, stop the stream; the values acked."""
    app = faust.App("acks-test", Stream=stream_cls, store="memory://", web_enabled=False)
    app.flow_control.resume()
    channel = app.channel()
    stream = app.stream(channel)
    acked: list = []
    took = asyncio.Event()

    async def body(events: list) -> None:
        took.set()
        await handle(events)

    async def agent() -> None:
        if pipelined:  # the handler as the second step: a first step that only passes the batch on
            await run_pipelined(stream, 3, 0.2, _first, lambda events, _: body(events))
        elif use_runner:
            await run_batches(stream, 3, 0.2, body)
        else:
            async for events in stream.take_events(3, 0.2):
                await body(list(events))

    original = faust.Stream.ack

    async def spy(self: faust.Stream, event) -> bool:
        acked.append(event.value)
        return await original(self, event)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(faust.Stream, "ack", spy)
        task = asyncio.create_task(agent())
        for value in range(3):
            await channel.send(value=value)
        await asyncio.wait_for(took.wait(), 10)
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.stop()
    return acked


async def _blocked(events: list) -> None:
    await asyncio.sleep(3600)  # a store that never comes back


async def _done(events: list) -> None:
    return None


async def _first(events: list) -> list:
    return events


def test_plain_faust_acks_a_cancelled_batch() -> None:
    """The loss: faust's ``take_events`` acks the batch in flight when the agent is cancelled."""
    assert asyncio.run(_run(faust.Stream, _blocked, use_runner=False))


def test_cancelled_batch_is_not_acked() -> None:
    assert asyncio.run(_run(FinishedAckStream, _blocked, use_runner=True)) == []


def test_finished_batch_is_acked() -> None:
    assert sorted(asyncio.run(_run(FinishedAckStream, _done, use_runner=True))) == [0, 1, 2]


def test_a_plain_stream_is_refused() -> None:
    app = faust.App("acks-test-plain", store="memory://", web_enabled=False)
    with pytest.raises(TypeError, match="FinishedAckStream"):
        asyncio.run(run_batches(app.stream(app.channel()), 3, 0.2, _done))


def test_pipelined_a_batch_whose_store_step_is_cancelled_is_not_acked() -> None:
    assert asyncio.run(_run(FinishedAckStream, _blocked, use_runner=True, pipelined=True)) == []


def test_pipelined_a_finished_batch_is_acked() -> None:
    assert sorted(asyncio.run(_run(FinishedAckStream, _done, use_runner=True, pipelined=True))) == [0, 1, 2]


def test_pipelined_the_next_batch_is_encoded_while_the_last_is_stored_and_batches_finish_in_order() -> None:
    async def main() -> list[str]:
        app = faust.App("acks-test-pipe", Stream=FinishedAckStream, store="memory://", web_enabled=False)
        app.flow_control.resume()
        channel = app.channel()
        stream = app.stream(channel)
        log: list[str] = []
        stored = asyncio.Event()

        async def first(events: list) -> int:
            log.append(f"encode {events[0].value}")
            return events[0].value

        async def then(events: list, head: int) -> None:
            log.append(f"store {head} start")
            await asyncio.sleep(0.3)  # the store is slow: the next batch is taken and encoded meanwhile
            log.append(f"store {head} end")
            if head == 3:
                stored.set()

        task = asyncio.create_task(run_pipelined(stream, 3, 0.05, first, then))
        for value in range(6):
            await channel.send(value=value)
        await asyncio.wait_for(stored.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.stop()
        return log

    log = asyncio.run(main())
    assert log == ["encode 0", "store 0 start", "encode 3", "store 0 end", "store 3 start", "store 3 end"]
