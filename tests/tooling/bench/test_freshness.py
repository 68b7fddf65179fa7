"""`ampere bench freshness` output: the knee as a load and a rate, the load average of every row."""

from __future__ import annotations

import json

from rich.console import Console

from streams.settings import Settings
from tooling.bench.freshness import knee_row, write_results


def row(streams: int, wps: float, p99: float, load: float) -> dict:
    return {"streams": streams, "realtime_streams": streams * 4, "batched": True, "windows": streams * 5,
            "windows_per_s": wps, "queryable_p50_s": p99 / 2, "queryable_p99_s": p99, "mean_stage_s": {"encode": 0.1},
            "load_avg_1m_end": load, "load_avg_5m_end": load + 1}


def test_the_knee_row_is_the_highest_load_within_the_bound_and_is_written(tmp_path) -> None:
    rows = [row(10, 1.3, 0.7, 1.5), row(50, 6.4, 1.9, 2.5), row(100, 12.9, 6.3, 3.5)]
    assert knee_row(rows)["streams"] == 50 and knee_row(rows[2:]) is None
    with open(tmp_path / "log", "w") as log:
        write_results(Settings(), rows, 4.0, tmp_path, Console(file=log))
    data = json.loads((tmp_path / "freshness.json").read_text())
    assert data["knee_realtime_streams"] == 200 and data["knee_windows_per_s"] == 6.4
    md = (tmp_path / "freshness.md").read_text()
    assert "200 real-time streams, 6.40 windows/s (p99 1.90 s)" in md
    assert "| 3.50 / 4.50 |" in md  # the load of the 100-stream row


def test_each_row_shows_the_cores_every_process_role_kept_busy(tmp_path) -> None:
    busy = row(100, 12.9, 6.3, 3.5) | {"cores_used": {"worker": 1.31, "weaviate": 0.42, "kafka": 0.1}}
    with open(tmp_path / "log", "w") as log:
        write_results(Settings(), [row(10, 1.3, 0.7, 1.5), busy], 4.0, tmp_path, Console(file=log))
    lines = (tmp_path / "freshness.md").read_text().splitlines()
    assert lines[4].endswith("| - |")  # a row measured before the reader existed says so, not 0
    assert lines[5].endswith("| 1.31 / 0.10 / 0.42 / 0.00 / 0.00 |")
