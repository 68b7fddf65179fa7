"""The window stage on aiokafka with explicit commits: input topics → per-stream state → windows topic.

Commit protocol, one fetched batch at a time (under a lock that rebalances wait for):

1. Every record must carry the next offset of its partition. A jump makes the consumer seek back and
   fetch again; a jump that is still there after seeking back is a hole in the log itself: it is
   logged as an error and counted (``offsets_skipped``), never passed silently.
2. Each record is applied to its stream's state. The state remembers the offset it applied last per
   input topic, so a record fetched again after a crash or a rebalance changes nothing. Anything that
   fails for one record (malformed, late, internal event type) goes to the DLQ with its reason.
3. Closed windows and dead letters are sent and acknowledged by the broker.
4. The changed states (offsets inside) are written to the compacted changelog topic and acknowledged.
5. Only then are the offsets of the records handled in steps 1-2 committed.

On assignment the states of the assigned partitions are read back from the changelog and fetching
resumes at the committed offsets. Idle closes run on a per-partition clock that only advances while
the stage owns the partition, reaches the broker and has read the partition to its end, so an outage
or a rebalance never makes a live stream look idle; and while the partition still holds unread
records, a stream is idle only if the records read are newer (by log time) than its last one by the
idle time, so a lagging stage never mistakes its own backlog for a quiet stream.

Watermark closes wait until the stream's events partition is known to be read past the content that
closes them: an end-offset probe sent after that content was created (``window_clock_skew_ms`` later)
counts every product switch acknowledged before it, whichever broker leads which topic.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pydantic_core
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from engines.retry import backoff_s, retry_until_done
from streams.errors import AmpereError
from streams.kafka import async_consumer, async_producer, kafka_config
from streams.kafka.admin import ensure_topics, partition_counts
from streams.kafka.topics import TopicNames, changelog_topic, window_group
from streams.ops import metrics, progress
from streams.ops.counters import COUNTERS, LossCounters
from streams.ops.logs import Throttled
from streams.schemas import (
    BadRecord,
    DeadLetter,
    KeyframeRecord,
    LateInput,
    OverBudget,
    dlq_reason,
    dump_record,
)
from streams.settings import Settings
from streams.worker import stages
from streams.worker.image_source import Prefetcher, uri_policy
from streams.worker.ingest import (
    InputRecord,
    apply_record,
    check_key,
    keyframe_replayed,
    parse_input,
    window_config,
)
from streams.worker.windowing import ClosedWindow, StreamState, close_idle, close_passed, shed

log = logging.getLogger("ampere.window")
_throttled = Throttled(log)  # an outage logs once per interval with a count, not once per retry

PROBE_TIMEOUT_S = 2.0
PREFETCH_GRACE_S = 0.05  # longest wait for a batch's image fetches while another partition could go on
STALL_S = 5.0  # a gap between two ticks longer than this (a blocked loop) does not advance the idle clock
COUNTERS_EVERY_S = 10.0
CHANGELOG_CONFIG = {  # compacted in small segments, so a restore reads little more than the latest states
    "cleanup.policy": "compact",
    "segment.bytes": str(16 * 1024 * 1024),
    "min.cleanable.dirty.ratio": "0.2",
}


def ensure_changelog(settings: Settings, topics: TopicNames) -> None:
    """Create the compacted state topic if it is missing (partitioned like the inputs), and refuse to run
    when the inputs and it disagree on their partitions (:class:`PartitionsDisagree`)."""
    ensure_topics(settings, [changelog_topic(topics)], settings.topic_partitions, extra_configs=CHANGELOG_CONFIG)
    check_partitions(partition_counts(settings, [topics.asr, topics.keyframes, topics.events, changelog_topic(topics)]))


class PartitionsDisagree(AmpereError):
    """The input topics and the window-state changelog have different partition counts."""


def check_partitions(counts: dict[str, int]) -> None:
    """State p belongs to input partition p: a stream's ASR, keyframes and events must share a partition
    number and its state must sit on that number in the changelog. Raising the partitions of some of them
    moves streams (the key hash is taken modulo the count) away from their state, so the stage refuses."""
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{t}: {n}" for t, n in sorted(counts.items()))
        raise PartitionsDisagree(
            f"the window stage's topics disagree on their partitions ({shown}); a stream's state would be read from "
            "another partition than its records. Give them all the same count: drain first (stop the producers, wait "
            "until every window closed and the lag is 0), then raise the partitions of all of them together "
            "(docs/DEPLOY.md, \"Repartitioning\")")


@dataclass
class PartitionClock:
    """Seconds during which the stage owned the partition, reached the broker and was caught up."""

    now: float = 0.0
    prev_end: dict[str, int] = field(default_factory=dict)  # end offset per input topic at the last probe


@dataclass
class Outgoing:
    """One record to send: topic, key, value and (for the changelog) an explicit partition."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class WindowStage:
    """Runs the window stage until cancelled; one instance per worker process."""

    def __init__(self, settings: Settings, counters: LossCounters = COUNTERS) -> None:
        self.settings = settings
        self.topics = TopicNames(settings.topic_prefix)
        self.cfg = window_config(settings)
        self.inputs = [self.topics.asr, self.topics.keyframes, self.topics.events]
        self.changelog = changelog_topic(self.topics)
        self.state_limit = settings.max_message_bytes - 4096  # key and record headers fit beside the value
        self.counters = counters
        self.lock = asyncio.Lock()
        self.states: dict[int, dict[str, StreamState]] = {}  # partition -> stream id -> state
        self.next: dict[TopicPartition, int] = {}  # next offset to process, per owned input partition
        self.clocks: dict[int, PartitionClock] = {}
        self._gap: dict[TopicPartition, tuple[int, int]] = {}
        self._read_ts: dict[TopicPartition, int] = {}  # log time (Kafka timestamp) of the last record read
        self._committed: dict[TopicPartition, int] = {}
        # states changed since the last changelog write: written, then the offsets committed, at most every
        # ``window_commit_ms`` (a stream touched by every batch is written once per interval, not per batch)
        self._pending: dict[tuple[int, str], StreamState] = {}
        self._flushed_at = time.monotonic()
        self._in_batch = False  # states changed whose outputs are not all delivered yet (a batch or a tick)
        self._last_tick = time.monotonic()
        # (streams tracked, windows open) as of the last batch or tick, for the metrics sampler: it runs
        # on the event loop while a batch mutates ``states`` in a worker thread, so it must not iterate them
        self.census: tuple[int, int] = (0, 0)
        self._held: set[tuple[int, str]] = set()  # (partition, stream) whose watermark closes wait for events
        self._probe_ends: dict[TopicPartition, int] = {}  # end offsets of the owned inputs, last probe
        self._probe_sent_ms = float("-inf")  # wall time the last successful probe was sent
        self._logged: dict[str, int] = {}
        self._logged_at = 0.0
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.reader: AIOKafkaConsumer | None = None
        self.prefetcher = Prefetcher(uri_policy(settings), settings.image_fetch_concurrency)

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Consume, apply, send, persist, commit, check idle; forever."""
        s = self.settings
        ensure_changelog(s, self.topics)
        self.producer = async_producer(s)
        self.reader = async_consumer(s, group_id=None)
        self.consumer = async_consumer(
            s,
            group_id=window_group(s.topic_prefix),
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),  # asr, keyframes, events partition p together
            fetch_max_bytes=4 * kafka_config(s).max_request_bytes,
        )
        await self.producer.start()
        await self.reader.start()
        await self.consumer.start()
        self.consumer.subscribe(self.inputs, listener=_Listener(self))
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=s.window_tick_ms, max_records=500)
                async with self.lock:
                    if batch:
                        await self._process(batch)
                    await self._tick()
        finally:
            await self._final_flush()
            for client in (self.consumer, self.reader, self.producer):
                try:
                    await client.stop()
                except Exception as exc:  # noqa: BLE001 - stopping a client of a dead broker
                    log.warning("stopping a Kafka client failed: %s", exc)
            self.write_counters()

    async def _final_flush(self) -> None:
        """On the way out: write what is pending and commit, if the broker lets us (a state not written
        is not lost: its offsets were not committed, so the next owner applies those records again)."""
        if self._in_batch or not (self._pending or self.next) or self.producer is None:
            return  # stopped inside a batch: its outputs may be unsent, so nothing past them may be committed
        try:
            await asyncio.wait_for(self._flush(), timeout=10)
        except (TimeoutError, KafkaError, OSError, asyncio.CancelledError) as exc:
            log.warning("last state write / commit on shutdown failed (%r); the records are applied again", exc)

    def write_counters(self) -> None:
        """Log the loss counters and write them beside the worker's other state."""
        snap = self.counters.snapshot()
        log.info("window stage counters: %s", json.dumps(snap, sort_keys=True))
        try:
            self.counters.write(counters_path(self.settings))
        except OSError as exc:
            log.warning("cannot write the counters file: %s", exc)

    # ------------------------------------------------------------------ rebalance
    async def on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Forget the state of revoked partitions; the batch in flight finished (lock) and committed."""
        async with self.lock:
            try:  # the next owner restores from the changelog and resumes at the commit
                await self._flush()
            except Exception as exc:  # noqa: BLE001 - not written, not committed: the next owner applies them again
                log.warning("state write before a rebalance failed (%s); the new owner replays those records", exc)
                self._pending.clear()
            for tp in revoked:
                self._probe_ends.pop(tp, None)
                self.next.pop(tp, None)
                self._gap.pop(tp, None)
                self._read_ts.pop(tp, None)
                self._committed.pop(tp, None)
            owned = {tp.partition for tp in self.next}
            for p in list(self.states):
                if p not in owned:
                    del self.states[p]
                    self.clocks.pop(p, None)

    async def on_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Read the states of the assigned partitions back from the changelog; resume at the committed offsets."""
        assert self.consumer is not None
        async with self.lock:
            self.counters.add("rebalances")
            tps = sorted(assigned)
            parts = sorted({tp.partition for tp in tps})
            self.states = {p: self.states[p] for p in parts if p in self.states}
            missing = [p for p in parts if p not in self.states]
            restored = await _retry("restore window state", lambda: self._restore(missing))
            self.states.update(restored)
            for p in parts:
                self.clocks[p] = PartitionClock()
                for st in self.states[p].values():
                    st.last_clock = 0.0  # a full idle period after every assignment
            # resume at the committed offset (the log start when none), and seek there: the fetcher may
            # already hold records past it, and its position() then reads as if they had been processed
            begin = await self.consumer.beginning_offsets(tps)
            for tp in tps:
                committed = await self.consumer.committed(tp)
                self.next[tp] = begin[tp] if committed is None else committed
                self._committed[tp] = self.next[tp]
                self.consumer.seek(tp, self.next[tp])
            log.info("window stage owns %s (%d streams restored)", parts, sum(len(self.states[p]) for p in parts))

    async def _restore(self, parts: list[int]) -> dict[int, dict[str, StreamState]]:
        assert self.reader is not None
        out: dict[int, dict[str, StreamState]] = {p: {} for p in parts}
        if not parts:
            return out
        tps = [TopicPartition(self.changelog, p) for p in parts]
        self.reader.assign(tps)
        await self.reader.seek_to_beginning(*tps)
        ends = await self.reader.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            batch = await self.reader.getmany(*todo, timeout_ms=1000)
            for tp, msgs in batch.items():
                for m in msgs:
                    sid = m.key.decode()
                    if m.value is None:
                        out[tp.partition].pop(sid, None)
                    else:
                        out[tp.partition][sid] = StreamState.from_dict(pydantic_core.from_json(m.value))
            for tp in list(todo):
                if await self.reader.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return out

    # ------------------------------------------------------------------ steps 1-5
    async def _process(self, batch: dict[TopicPartition, list]) -> None:
        assert self.consumer is not None
        self._in_batch = True
        sends: list[Outgoing] = []
        dirty: dict[tuple[int, str], StreamState] = {}
        # decoding images is CPU work: off the event loop, so heartbeats and the Faust agents go on
        events_end = self._events_ends(batch)
        seeks, held = await asyncio.to_thread(self._apply_batch, batch, sends, dirty, events_end)
        sends += self._release_held(held, dirty)
        if self._held and self._probe_due():  # a probe sent now counts the switches of this content
            await self._probe()
            sends += self._release_held(self._still_behind(), dirty)
        self._count_states()  # on the loop, after the thread: nothing mutates the states now
        for tp, offset in seeks:
            self.consumer.seek(tp, offset)
        await self._persist(sends, dirty)
        self._in_batch = False

    def _count_states(self) -> None:
        self.census = (
            sum(len(states) for states in self.states.values()),
            sum(len(st.windows) for states in self.states.values() for st in states.values()),
        )

    def _apply_batch(self, batch: dict[TopicPartition, list], sends: list[Outgoing], dirty: dict,
                     events_end: dict[int, int | None] | None = None) -> tuple[list, set[int]]:
        """Steps 1-2 for a batch; returns the (partition, offset) pairs to seek back to, and the
        partitions whose broadcaster events are not read to their end (watermark closes held there).

        The records of the three input topics are applied merged by their timestamps (broadcaster
        events first on a tie), each topic-partition still in offset order: a product switch fetched
        in the same batch as the content after it is applied before that content, whatever order
        the topics were fetched in."""
        seeks = []
        runs = []
        before: dict[TopicPartition, int] = {}
        for tp, msgs in batch.items():
            if tp not in self.next:
                continue  # fetched before a revocation: the new owner handles it
            expected = before[tp] = self.next[tp]
            run = []
            for m in msgs:
                if m.offset < expected:
                    continue
                if m.offset > expected and not self._accept_gap(tp, expected, m.offset):
                    seeks.append((tp, expected))
                    break
                run.append((m.timestamp or 0, 0 if tp.topic == self.topics.events else 1, tp, m))
                expected = m.offset + 1
            self.next[tp] = expected
            runs.append(run)
        ordered = [(tp, m) for _, _, tp, m in heapq.merge(*runs, key=lambda r: (r[0], r[1]))]
        parsed = [self._parse(tp, m) for tp, m in ordered]
        images, deferred = self._images(ordered, parsed)
        for tp, start in before.items():
            if tp.partition in deferred:  # fetched again once its images are in: nothing of it applied now
                self.next[tp] = start
                seeks.append((tp, start))
        held = self._events_behind(events_end or {})
        for (tp, m), rec in zip(ordered, parsed, strict=True):
            if tp.partition not in deferred:
                self._apply(tp, m, rec, sends, dirty, images, hold=tp.partition in held)
        return seeks, held

    def _events_ends(self, batch: dict[TopicPartition, list]) -> dict[int, int | None]:
        """Per owned events partition, the end offset this batch's closes must have read to: that of the
        last end-offset probe when it was *sent* after the newest content of the batch on the partition was
        created (plus ``window_clock_skew_ms``), else None (not known yet: the closes there wait). A product
        switch is acknowledged before the content after it is sent, so a probe sent after that content was
        created counts the switch; the high watermark of a fetch answer does not (it may have been written
        by the events leader before the switch and processed after the content: another broker, a queued
        answer, a loop slowed by load)."""
        newest: dict[int, int] = {}
        for tp, msgs in batch.items():
            if tp.topic != self.topics.events and msgs:
                newest[tp.partition] = max(newest.get(tp.partition, -1), *(m.timestamp or 0 for m in msgs))
        return {tp.partition: self._probed_end(tp, newest.get(tp.partition, -1))
                for tp in self.next if tp.topic == self.topics.events}

    def _probed_end(self, tp: TopicPartition, created_ms: int) -> int | None:
        """``tp``'s end offset as of the last probe, if that probe was sent late enough to count every record
        acknowledged before ``created_ms`` (producer clock); None otherwise."""
        end = self._probe_ends.get(tp)
        if end is None or self._probe_sent_ms - self.settings.window_clock_skew_ms < created_ms:
            return None
        return end

    def _events_behind(self, events_end: dict[int, int | None]) -> set[int]:
        """Partitions whose events topic may hold records past what is applied (end not known, or past the
        position): a product switch may be among them, so no window there closes on the watermark until
        they are read (the switch must split the windows first, whatever order the topics were fetched in)."""
        return {p for p, end in events_end.items()
                if end is None or self.next.get(TopicPartition(self.topics.events, p), end) < end}

    def _still_behind(self) -> set[int]:
        """The partitions of held streams whose events are not known to be read past their applied content."""
        parts = {p for p, _ in self._held}
        ends = {}
        for p in parts:
            content = [self._read_ts.get(tp, -1) for tp in self.next if tp.partition == p and tp.topic != self.topics.events]
            ends[p] = self._probed_end(TopicPartition(self.topics.events, p), max(content, default=-1))
        return self._events_behind(ends)

    def _release_held(self, held: set[int], dirty: dict) -> list[Outgoing]:
        """Close what the watermark passed in streams whose partition's events are now read to the end."""
        out: list[Outgoing] = []
        for p, sid in [k for k in self._held if k[0] not in held]:
            self._held.discard((p, sid))
            st = self.states.get(p, {}).get(sid)
            if st is None:
                continue
            st.hold_closes = False
            closed = close_passed(st, self.cfg)
            if closed:
                out += self._window_outputs(p, sid, closed)
                dirty[(p, sid)] = st
        return out

    def _parse(self, tp: TopicPartition, m) -> InputRecord | BadRecord:
        """The record of a message whose key is its stream id, or the reason it is not one."""
        try:
            rec = parse_input(tp.topic, m.value, self.settings, self.topics)
            check_key(m.key, rec.stream_id)
            return rec
        except BadRecord as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - a poison message must not stop the stage
            return BadRecord(f"unexpected {type(exc).__name__}: {str(exc)[:500]}")

    def _images(self, ordered: list, parsed: list) -> tuple[dict[str, bytes | BadRecord], set[int]]:
        """Start the batch's image fetches ahead of applying (not those of keyframes the streams already
        applied: a replay fetches nothing) and wait for them a little: up to :data:`PREFETCH_GRACE_S`
        when some partition could go on, up to a tick when none can. Returns the results of the
        partitions whose fetches are all done and the partitions still waiting (deferred: sought back
        and fetched again by a later batch, so a slow host delays its own partition only)."""
        want: dict[int, list[str]] = {}
        for (tp, m), r in zip(ordered, parsed, strict=True):
            if (isinstance(r, KeyframeRecord) and not r.image_b64 and r.uri
                    and not keyframe_replayed(r, self.states[tp.partition].get(r.stream_id), m.offset)):
                want.setdefault(tp.partition, []).append(r.uri)
        if not want:
            return {}, set()
        every = [u for uris in want.values() for u in uris]
        self.prefetcher.start(every)
        free = {tp.partition for tp, _ in ordered} - want.keys()  # partitions with no image to wait for
        t0 = time.monotonic()
        while not self.prefetcher.wait(every, 0):
            elapsed = time.monotonic() - t0
            ready = free or any(self.prefetcher.done(uris) for uris in want.values())
            limit = PREFETCH_GRACE_S if ready else self.settings.window_tick_ms / 1000
            if elapsed >= limit:
                break
            self.prefetcher.wait(every, limit - elapsed, first=True)
        deferred = {p for p, uris in want.items() if not self.prefetcher.done(uris)}
        if deferred:
            log.debug("partitions %s wait for their image fetches; applied by a later batch", sorted(deferred))
        return self.prefetcher.take(u for p, uris in want.items() if p not in deferred for u in uris), deferred

    def _accept_gap(self, tp: TopicPartition, expected: int, got: int) -> bool:
        """First sight of a jump: seek back (False). The same jump again: a hole in the log (True, loud)."""
        if self._gap.get(tp) == (expected, got):
            log.error("offsets %d..%d of %s[%d] do not exist in the log; %d offsets skipped",
                      expected, got - 1, tp.topic, tp.partition, got - expected)
            self.counters.add("offsets_skipped", got - expected)
            self._gap.pop(tp, None)
            return True
        log.warning("offset jump in %s[%d]: expected %d, got %d; seeking back", tp.topic, tp.partition, expected, got)
        self.counters.add("offset_gaps_sought_back")
        self._gap[tp] = (expected, got)
        return False

    def _apply(self, tp: TopicPartition, m, rec: InputRecord | BadRecord, sends: list[Outgoing], dirty: dict,
               images: dict[str, bytes | BadRecord], hold: bool = False) -> None:
        self._read_ts[tp] = max(self._read_ts.get(tp, -1), m.timestamp or 0)
        if isinstance(rec, BadRecord):
            sends.append(self._dead_letter(tp, m, rec))
            return
        states = self.states[tp.partition]
        clock = self.clocks[tp.partition].now
        try:
            st_new, applied, stream_id = apply_record(
                rec, states.get(rec.stream_id), clock, self.settings, self.cfg, offset=m.offset, images=images,
                hold_closes=hold,
            )
        except Exception as exc:  # noqa: BLE001 - a bad record, or a poison message that must not stop the stage
            sends.append(self._dead_letter(tp, m, exc))
            return
        out = self._window_outputs(tp.partition, stream_id, applied.closed)  # never the input's fault
        self.counters.add("records_replayed" if applied.duplicate and not applied.closed else "records_applied")
        if applied.late:
            self.counters.add(f"late_{applied.late_kind}")
            sends.append(self._dead_letter(tp, m, LateInput(applied.late)))
        if applied.rejected:
            self.counters.add("over_budget")
            sends.append(self._dead_letter(tp, m, OverBudget(applied.rejected)))
        self.counters.add("windows_reopened", applied.reopened)
        self.counters.add("budget_closes", sum(cw.reason == "budget" for cw in applied.closed))
        sends += out
        if st_new is not None:
            if not (applied.duplicate or applied.late or applied.rejected):
                st_new.last_log_ms = max(st_new.last_log_ms, m.timestamp or 0)
            states[stream_id] = st_new
            dirty[(tp.partition, stream_id)] = st_new
            if hold:
                self._held.add((tp.partition, stream_id))

    def _window_outputs(self, p: int, sid: str, closed: list[ClosedWindow]) -> list[Outgoing]:
        """The records of closed windows. A window whose record cannot be built (a bug, never the input's
        fault) goes to the DLQ whole, as class ``unexpected``, counted and alerted on: never away."""
        now, out = time.time(), []
        for cw in closed:
            try:
                out.append(Outgoing(self.topics.windows, cw.stream_id.encode(), dump_record(stages.window_record(cw, now))))
            except Exception as exc:  # noqa: BLE001 - the window is kept in the dead letter
                m = SimpleNamespace(offset=None, key=sid.encode("utf-8", "replace"), value=closed_window_json(cw))
                out.append(self._dead_letter(TopicPartition(self.topics.windows, p), m, exc))
        self.counters.add("windows_closed", len(closed))
        metrics.count_closed(closed)
        return out

    def _dead_letter(self, tp: TopicPartition, m, err: BaseException) -> Outgoing:
        """A DLQ record for ``err`` (its type decides the class) with a capped copy of the value; a
        reason-only one if that fails (never raises)."""
        self.counters.add("dead_letters")
        reason, kind = dlq_reason(err)
        if kind == "unexpected":
            self.counters.add("unexpected_errors")
        metrics.count_dlq(tp.topic, kind)
        log.warning("DLQ %s[%s]@%s: %s", tp.topic, tp.partition, m.offset, reason[:300])
        key = m.key[: stages.DLQ_KEY_BYTES] if m.key else None
        for cap in (self.settings.dlq_max_value_bytes, 0):
            try:
                rec = stages.dead_letter(tp.topic, tp.partition, m.offset, m.key, m.value, reason, max_value_bytes=cap)
                return Outgoing(self.topics.dlq, key, dump_record(rec))
            except Exception as exc:  # noqa: BLE001 - fall back to the reason-only record
                log.error("dead letter with %d value bytes failed (%s: %s)", cap, type(exc).__name__, exc)
        rec = DeadLetter(topic=tp.topic, partition=tp.partition, offset=m.offset, key_b64=None, value_b64="",
                         reason="unprintable reason", failed_at=time.time())
        return Outgoing(self.topics.dlq, None, dump_record(rec))

    async def _persist(self, sends: list[Outgoing], dirty: dict[tuple[int, str], StreamState]) -> None:
        """Step 3 at once (closed windows and dead letters), steps 4 and 5 (states, then offsets) when
        ``window_commit_ms`` has passed since the last write: outputs always go before the states that
        record them, and offsets are committed only over records whose states are written, so a crash
        anywhere replays (the same window ids, never a duplicate object) and never loses."""
        self._pending.update(dirty)
        if sends:
            await self._deliver("send windows and dead letters", sends)
        if time.monotonic() - self._flushed_at >= self.settings.window_commit_ms / 1000:
            await self._flush()

    async def _flush(self) -> None:
        """Steps 4 and 5: the pending states, then the offsets. A state whose record would exceed the
        message limit sheds its windows first (closed early, reason budget, sent before the state), so the
        state write always fits."""
        pending, self._pending = self._pending, {}
        states, shed_windows = [], []
        for (p, sid), st in pending.items():
            record, shed = self._state_record(p, sid, st)
            states.append(record)
            shed_windows += shed
        try:
            if shed_windows:
                await self._deliver("send windows and dead letters", shed_windows)
            if states:
                await self._deliver("write window state", states)
        except BaseException:
            self._pending = pending | self._pending  # not written: still pending (and nothing committed)
            raise
        self._flushed_at = time.monotonic()
        await self._commit()

    def _state_record(self, p: int, sid: str, st: StreamState) -> tuple[Outgoing, list[Outgoing]]:
        value = encode_state(st)
        shed_windows: list[Outgoing] = []
        if len(value) > self.state_limit:
            closed = shed(st, self.cfg)
            log.error("window state of %r is %d bytes, over the limit of %d: %d windows closed early (budget)",
                      sid[:200], len(value), self.state_limit, len(closed))
            self.counters.add("state_sheds")
            shed_windows = self._window_outputs(p, sid, closed)
            value = encode_state(st)
        return Outgoing(self.changelog, sid.encode(), value, partition=p), shed_windows

    async def _deliver(self, what: str, records: list[Outgoing]) -> None:
        """Send until every record is acknowledged: an outage is waited out (the batch waits, nothing is
        committed); a record the broker can never take (too large, invalid) is not retried: an output
        becomes a reason-only dead letter, a state write stops the stage (it cannot make progress)."""
        attempt = 0
        while records:
            errors = await self._send(records)
            failed = [(r, e) for r, e in zip(records, errors, strict=True) if e is not None]
            retry = []
            for r, exc in failed:
                if not is_permanent(exc):
                    retry.append(r)
                elif r.topic in (self.changelog, self.topics.dlq):
                    raise StageStuck(f"{what}: the broker refuses a {r.topic} record of {len(r.value or b'')} bytes "
                                     f"(key {r.key[:100] if r.key else r.key!r}): {type(exc).__name__}: {exc}")
                else:
                    self.counters.add("undeliverable")
                    retry.append(self._undeliverable(r, exc))
            if not retry:
                if attempt:
                    progress.ok()
                    _throttled.clear(what)
                return
            if any(not is_permanent(e) for _, e in failed):
                delay = backoff_s(attempt, cap_s=5.0)
                attempt += 1
                progress.blocked(f"{what}: {type(failed[0][1]).__name__}: {failed[0][1]}")
                _throttled(what, logging.WARNING, "%s failed for %d records (%s); retrying (try %d)",
                           what, len(retry), failed[0][1], attempt)
                await asyncio.sleep(delay)
            records = retry

    def _undeliverable(self, r: Outgoing, exc: BaseException) -> Outgoing:
        """A reason-only dead letter for an output record the broker refuses."""
        reason = f"{r.topic} record of {len(r.value or b'')} bytes refused by the broker: {type(exc).__name__}: {exc}"
        log.error("%s", reason[:500])
        metrics.count_dlq(r.topic, "undeliverable")
        rec = DeadLetter(topic=r.topic, partition=r.partition if r.partition is not None else -1, offset=None,
                         key_b64=None, value_b64="", reason=reason[:2000], failed_at=time.time())
        return Outgoing(self.topics.dlq, (r.key or b"")[: stages.DLQ_KEY_BYTES] or None, dump_record(rec))

    async def _send(self, records: list[Outgoing]) -> list[BaseException | None]:
        """Send all records; the error of each (None when acknowledged)."""
        assert self.producer is not None

        async def one(r: Outgoing) -> None:
            fut = await self.producer.send(r.topic, r.value, key=r.key, partition=r.partition)
            await fut

        results = await asyncio.gather(*(one(r) for r in records), return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException) and not isinstance(res, Exception):
                raise res  # cancellation
        return [res if isinstance(res, Exception) else None for res in results]

    async def _commit(self) -> None:
        """Step 5: commit the next offset of every partition that moved, only over processed records."""
        assert self.consumer is not None
        moved = {tp: off for tp, off in self.next.items() if self._committed.get(tp) != off}
        if not moved:
            return
        try:
            await self.consumer.commit(moved)
            self._committed.update(moved)
        except KafkaError as exc:  # a rebalance or an outage: the records are fetched again, never skipped
            self.counters.add("commits_failed")
            log.warning("offset commit failed (%s); will commit again", exc)

    # ------------------------------------------------------------------ idle
    async def _tick(self) -> None:
        """Advance the clocks of caught-up partitions, then close the windows of quiet streams."""
        now = time.monotonic()
        if now - self._last_tick < self.settings.window_tick_ms / 1000:
            return  # one probe and one idle check per period, however many batches arrive
        dt, self._last_tick = now - self._last_tick, now
        if not self.next:
            return
        ends = await self._probe()
        sends: list[Outgoing] = []
        dirty: dict[tuple[int, str], StreamState] = {}
        if ends is not None and self._held:
            sends += self._release_held(self._still_behind(), dirty)
        if ends is not None and dt <= max(4 * self.settings.window_tick_ms / 1000, STALL_S):  # a stalled loop is not quiet time
            for p, clock in self.clocks.items():
                mine = [tp for tp in self.next if tp.partition == p]
                if all(self.next[tp] >= clock.prev_end.get(tp.topic, ends[tp]) for tp in mine):
                    clock.now += dt
                clock.prev_end = {tp.topic: ends[tp] for tp in mine}
        self._in_batch = True
        for p, states in self.states.items() if ends is not None else ():  # no probe, no idle close
            clock = self.clocks[p].now
            read_until = self._read_until(p, ends)
            for sid, st in states.items():
                closed = close_idle(st, clock, self.cfg, read_until)
                if closed:
                    dirty[(p, sid)] = st
                    self.counters.add("idle_closes", len(closed))
                    if read_until is not None:
                        self.counters.add("idle_closes_while_lagging", len(closed))
                    sends += self._window_outputs(p, sid, closed)
        await self._persist(sends, dirty)  # also writes what earlier batches left pending, once it is due
        self._in_batch = False
        self._count_states()
        snap = self.counters.snapshot()
        if snap != self._logged and now - self._logged_at >= COUNTERS_EVERY_S:
            self._logged, self._logged_at = snap, now
            self.write_counters()

    def _read_until(self, p: int, ends: dict[TopicPartition, int]) -> int | None:
        """The log time read to on partition ``p`` while it holds unread records (the oldest last-read
        timestamp of its lagging topics; -1 when one of them was not read since the assignment), or
        None when every topic of the partition is read to the end of this probe."""
        behind = [self._read_ts.get(tp, -1) for tp, off in self.next.items()
                  if tp.partition == p and off < ends.get(tp, off)]
        return min(behind) if behind else None

    async def _probe(self) -> dict[TopicPartition, int] | None:
        """End offsets of the owned input partitions, or None when the broker does not answer in time; the
        answer and the time it was asked for are kept (``_probed_end``)."""
        assert self.consumer is not None
        sent_ms = time.time() * 1000
        try:
            ends = await asyncio.wait_for(self.consumer.end_offsets(list(self.next)), PROBE_TIMEOUT_S)
        except (TimeoutError, KafkaError, OSError):
            return None
        self._probe_ends, self._probe_sent_ms = dict(ends), sent_ms
        return ends

    def _probe_due(self) -> bool:
        """True when a probe sent now would count the switches of every held stream's applied content."""
        parts = {p for p, _ in self._held}
        read = [ts for tp, ts in self._read_ts.items() if tp.partition in parts and tp.topic != self.topics.events]
        return time.time() * 1000 - self.settings.window_clock_skew_ms >= max(read, default=-1)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, stage: WindowStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked) -> None:
        await self.stage.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned) -> None:
        await self.stage.on_assigned(assigned)


class StageStuck(AmpereError):
    """The window stage cannot make progress and retrying cannot help (it stops; /readyz says why)."""


# the record (or its topic) is wrong, not the broker down: no retry can fix these
_PERMANENT = (
    MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError,
    CorruptRecordException, InvalidTimestampError, UnsupportedForMessageFormatError,
)


def is_permanent(exc: BaseException) -> bool:
    """True for producer errors that no retry can fix; everything else is waited out as an outage."""
    return isinstance(exc, _PERMANENT)


def encode_state(st: StreamState) -> bytes:
    """The changelog value of a stream's state: compact UTF-8 JSON (a character takes its UTF-8 bytes, not an
    escape). Written by pydantic-core's serializer, several times faster than ``json.dumps`` on a state that
    carries base64 thumbnails (the same JSON value; a float may be spelled differently)."""
    d = st.to_dict()
    try:
        return pydantic_core.to_json(d)
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError):
        return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def _retry(what: str, fn, max_backoff_s: float = 5.0):
    """Retry a broker call until it works (outage): the batch waits, nothing is dropped or committed."""

    def failed(exc: BaseException, attempt: int) -> None:
        progress.blocked(f"{what}: {type(exc).__name__}: {exc}")
        _throttled(what, logging.WARNING, "%s failed (%s); retrying (try %d)", what, exc, attempt)

    result = await retry_until_done(fn, retry_on=(TimeoutError, KafkaError, OSError), on_failure=failed,
                                    cap_s=max_backoff_s)
    progress.ok()
    _throttled.clear(what)
    return result


def closed_window_json(cw: ClosedWindow) -> bytes:
    """A closed window as JSON (its keyframes as base64 JPEG): what a dead letter keeps of a window."""
    d = {k: v for k, v in vars(cw).items() if k != "keyframes"}
    d["keyframes_b64"] = [k.jpeg_b64 for k in cw.keyframes]
    return json.dumps(d, ensure_ascii=False, default=str).encode("utf-8", "replace")


def counters_path(settings: Settings):
    """Where this worker process writes its loss counters."""
    return settings.home / "counters" / settings.topic_prefix / f"window-{os.getpid()}.json"
