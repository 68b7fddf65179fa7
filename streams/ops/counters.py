"""The worker's one counter registry: what the window stage and the agents count, by declared name
(offsets skipped, late input by kind, budget closes, refinements shed, failed batches, ...).

One process-wide instance (:data:`COUNTERS`): the worker logs it and writes it beside its state, the
demo sums the files, and ``/metrics`` exports every name as ``ampere_events_total{event}``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

NAMES = {
    "records_applied": "input records applied to a stream's window state",
    "records_replayed": "input records skipped because their stream's state had already applied them",
    "dead_letters": "input records sent to the DLQ (malformed, late, internal event types)",
    "late_asr": "ASR chunks that arrived after their window closed (sent to the DLQ)",
    "late_keyframes": "keyframes that arrived after their window closed (sent to the DLQ)",
    "late_product_switch": "product switches inside a window that already closed (sent to the DLQ)",
    "offset_gaps_sought_back": "offset jumps in a fetched partition that made the consumer seek back",
    "offsets_skipped": "input offsets never processed because the log itself has a hole there (error logged)",
    "windows_closed": "windows closed and sent to the windows topic",
    "idle_closes": "windows closed because their stream went quiet",
    "idle_closes_while_lagging": "idle closes decided while the stream's partition had unread input (allowed only when "
                                 "that input was written an idle period after the stream's last record)",
    "windows_reopened": "windows closed on quiet that late content reopened (re-sent under the same id)",
    "commits_failed": "offset commits the broker refused (a rebalance; the records are replayed, never skipped)",
    "rebalances": "partition assignments received",
    "over_budget": "input records refused because their window or stream was at its state budget (sent to the DLQ)",
    "budget_closes": "windows closed early because their stream had too many open windows (reason budget)",
    "state_sheds": "stream states over the record limit whose windows were all closed early (error logged)",
    "undeliverable": "output records the broker refused for good (too large, invalid), replaced by a dead letter",
    "refine_shed": "refinements not run because the window waited longer than AMPERE_SUMMARY_MAX_LAG_MS",
    "refine_fallback": "refinements whose LLM call failed or overran (the provisional version stays)",
    "stale_skipped": "index writes skipped because a newer revision of the object is stored",
    "batch_errors": "agent batches that failed as a whole (their records went to the DLQ)",
    "unexpected_errors": "records or windows dead-lettered by an internal error, not the input's fault (a bug: alerted on)",
    "lineup_unknown_products": "lineup product ids the catalog does not hold (each lineup reported once to the DLQ)",
    "segments_revised": "product segments written and published (a new segment or a new revision of one)",
    "field_kind_rejected": "summary fact fields blanked because the value was not of the field's kind (a colour that is no colour)",
}


class LossCounters:
    """Thread-safe named counters; unknown names are refused so a typo cannot hide a count."""

    def __init__(self) -> None:
        self._c: Counter[str] = Counter({n: 0 for n in NAMES})
        self._lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        if name not in NAMES:
            raise KeyError(f"unknown counter {name!r}")
        with self._lock:
            self._c[name] += n

    def get(self, name: str) -> int:
        return self._c[name]

    def __getitem__(self, name: str) -> int:
        return self.get(name)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._c)

    def write(self, path: Path) -> None:
        """Write the snapshot as JSON (atomically: write then rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=1, sort_keys=True))
        tmp.replace(path)


COUNTERS = LossCounters()


def read(path: Path) -> dict[str, int]:
    """Counters written by a worker ({} when it wrote none)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_all(folder: Path, since: float = 0.0) -> dict[str, int]:
    """Sum of the counters written into ``folder`` (one file per worker process) after ``since``."""
    total: Counter[str] = Counter()
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if f.stat().st_mtime >= since:
            total.update(read(f))
    return dict(total)
