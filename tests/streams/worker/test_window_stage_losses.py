"""What an independent fault run lost with no fault at all: a window closed by the state budget was
dead-lettered as the input's fault (its close reason was not a valid record), and a stage behind its
input declared live streams idle. With the in-memory stand-ins of ``test_window_stage``."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import typing
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from streams.schemas import CloseReason, WindowRecord
from streams.worker import stages, windowing
from streams.worker.window_stage import WindowStage
from tests.streams.worker.test_window_stage import ASR, rec, sent, stage


def test_every_close_reason_of_the_state_machine_is_a_valid_window_record() -> None:
    """One list: each reason literal the state machine passes when it closes a window is a record's reason."""
    tree = ast.parse(Path(windowing.__file__).read_text())
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"_close", "_close_passed", "close_all"}:
            used |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        if isinstance(node, ast.IfExp) and all(isinstance(v, ast.Constant) for v in (node.body, node.orelse)):
            used |= {node.body.value, node.orelse.value} & {"stream_end", "idle"}
    assert used >= {"watermark", "idle", "stream_end", "product_switch", "budget"}, used
    assert used <= set(typing.get_args(CloseReason)), used - set(typing.get_args(CloseReason))
    for reason in typing.get_args(CloseReason):
        cw = windowing.ClosedWindow("w", "s", 0, 1, "t", "en", [], reason)
        assert WindowRecord.model_validate_json(stages.window_record(cw, 1.0).model_dump_json()).close_reason == reason


def _two_sources(tmp_path, max_open: int) -> WindowStage:
    st = stage(tmp_path)
    st.settings = st.settings.model_copy(update={"window_sources_live": "asr,keyframes", "window_max_open": max_open})
    st.cfg = windowing.WindowConfig(window_ms=10_000, hop_ms=10_000, grace_ms=1_000, idle_close_ms=500,
                                    sources_live=("asr", "keyframes"), max_open_windows=max_open)
    return st


def test_a_window_closed_by_the_budget_is_sent_like_any_other_not_dead_lettered(tmp_path) -> None:
    """Keyframes never come (an ASR-first producer): the open windows pile up and the oldest close early."""
    st = _two_sources(tmp_path, max_open=2)
    asyncio.run(st._process({ASR: [rec(i, i, i * 10_000) for i in range(5)]}))
    assert not sent(st, "dlq"), [d["reason"] for d in sent(st, "dlq")]
    windows = sent(st, ".windows")
    assert [(w["start_ms"], w["close_reason"], w["text"]) for w in windows] == [
        (0, "budget", "c0"), (10_000, "budget", "c1"), (20_000, "budget", "c2")]
    assert st.counters.get("budget_closes") == 3 and st.counters.get("unexpected_errors") == 0
    assert st.consumer.commits[-1][0] == {ASR: 5}


def test_a_window_whose_record_cannot_be_built_goes_to_the_dlq_whole_and_the_input_is_applied(
    tmp_path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An internal error is never filed as the input's fault: the window is kept in its dead letter,
    class unexpected, counted; the record that closed it is applied and committed."""
    st = stage(tmp_path)

    def broken(cw, closed_at):
        raise ValueError("a bug in the window record")

    monkeypatch.setattr(stages, "window_record", broken)
    asyncio.run(st._process({ASR: [rec(0, 0, 0), rec(1, 1, 12_000)]}))
    (dl,) = sent(st, "dlq")
    assert dl["topic"].endswith(".windows") and dl["reason"].startswith("unexpected ValueError")
    kept = json.loads(base64.b64decode(dl["value_b64"]))
    assert (kept["stream_id"], kept["start_ms"], kept["end_ms"], kept["text"]) == ("s", 0, 10_000, "c0")
    assert st.counters.get("unexpected_errors") == 1 and st.counters.get("records_applied") == 2
    assert st.states[0]["s"].offsets == {"asr": 1} and st.consumer.commits[-1][0] == {ASR: 2}


def chunk(offset: int, seq: int, ts: int, log_ms: int, sid: str) -> SimpleNamespace:
    r = rec(offset, seq, ts, sid=sid)
    r.timestamp = log_ms
    return r


async def lagging(st: WindowStage, ticks: int, log_ms: Callable[[int], int]) -> None:
    """Each tick the stage reads one record of stream ``t`` (written at ``log_ms(i)``) while the probe
    always finds two more: it keeps up with the previous probe, never with the log."""
    for i in range(ticks):
        await asyncio.sleep(0.1)  # one tick period: each tick is due and advances the clock
        off = st.next[ASR]
        await st._process({ASR: [chunk(off, 100 + i, 1_000, log_ms=log_ms(i), sid="t")]})
        st.consumer.ends = {ASR: off + 2}
        await st._tick()


def test_a_stage_behind_its_input_never_declares_a_stream_idle_whose_records_are_queued(tmp_path) -> None:
    """Each tick the stage reads what the previous probe saw while new records keep arriving (it keeps
    up with the last probe, never with the log). Stream ``s`` sent a chunk 300 ms after its first one
    and it is still queued: however long the stage lags, ``s`` is not idle until that is read."""
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [chunk(0, 0, 0, log_ms=1_000, sid="s")]}))
    asyncio.run(lagging(st, 12, lambda i: 1_100))  # 1.2 s of partition clock, over twice the idle time;
    # what is read was written long ago, and more keeps arriving: s's second chunk among it
    assert st.states[0]["s"].windows, "s was closed as idle while its records were still queued"
    assert st.counters.get("idle_closes") == 0 and st.counters.get("idle_closes_while_lagging") == 0
    off = st.next[ASR]
    asyncio.run(st._process({ASR: [chunk(off, 1, 300, log_ms=1_300, sid="s")]}))
    st.consumer.ends = {ASR: off + 1}  # read to the end: now a quiet stream is quiet for real

    async def caught_up(ticks: int) -> None:
        for _ in range(ticks):
            await asyncio.sleep(0.05)
            await st._tick()

    asyncio.run(caught_up(20))
    closed = {w["stream_id"]: w for w in sent(st, ".windows")}
    assert closed["s"]["text"] == "c0 c1" and closed["s"]["close_reason"] == "idle"
    assert not sent(st, "dlq")


def test_a_lagging_stage_closes_a_stream_whose_silence_the_log_itself_shows(tmp_path) -> None:
    """A stream that stopped (no end marker) still closes while its partition lags, once the records
    read were written an idle period after its last one: lagging delays the close, never cancels it."""
    st = stage(tmp_path)
    asyncio.run(st._process({ASR: [chunk(0, 0, 0, log_ms=1_000, sid="s")]}))
    asyncio.run(lagging(st, 24, lambda i: 1_000 + 100 * i))  # the log time read reaches 3.3 s: 2.3 s of silence from s, written in the log
    assert not st.states[0]["s"].windows
    assert st.counters.get("idle_closes") == 1 and st.counters.get("idle_closes_while_lagging") == 1


def test_idle_is_judged_on_log_time_while_records_are_unread() -> None:
    cfg = windowing.WindowConfig(idle_close_ms=10_000)
    st = windowing.new_state("s", 0, cfg)
    windowing.apply_chunk(st, {"seq": 0, "start_ms": 0, "end_ms": 1, "text": "a"}, cfg, clock=0.0)
    st.last_log_ms = 50_000
    assert windowing.idle_expired(st, 11.0, cfg)  # nothing unread: the clock decides
    assert not windowing.idle_expired(st, 11.0, cfg, read_until_ms=59_999)  # unread records may be its own
    assert windowing.idle_expired(st, 11.0, cfg, read_until_ms=60_000)  # what was read is 10 s newer
    assert not windowing.idle_expired(st, 9.0, cfg, read_until_ms=90_000)  # and the clock must agree
    assert not windowing.idle_expired(st, 99.0, cfg, read_until_ms=-1)  # nothing read since the assignment
    assert windowing.StreamState.from_dict(st.to_dict()).last_log_ms == 50_000
