"""``ampere tail`` prints one JSON line per record with every vector shortened."""

from __future__ import annotations

import json

from tooling.consume import tail_line


def test_tail_line_is_one_line_with_short_vectors() -> None:
    rec = {"kind": "live", "vector": [0.1] * 256, "branches": {"visual": [0.2] * 256, "text": [0.3] * 3},
           "summary": {"sentence": "line one\nline two"}}
    line = tail_line(rec)
    assert "\n" not in line
    out = json.loads(line)
    assert out["vector"] == [0.1] * 4 + ["..."]
    assert out["branches"] == {"visual": [0.2] * 4 + ["..."], "text": [0.3] * 3}
    assert out["summary"] == rec["summary"] and len(rec["vector"]) == 256  # the record itself is untouched
