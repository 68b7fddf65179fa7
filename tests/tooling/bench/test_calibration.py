"""The claim calibration: thresholds chosen on validation never claim junk and meet the precision target."""

from __future__ import annotations

import numpy as np

from streams.worker.claims import ClaimFeatures, ClaimRule, Thresholds
from tooling.bench.calibration import (
    Scored,
    Window,
    claims,
    fit_modality,
    half,
    junk_windows,
    summary,
)


def _scored(rows: list[tuple[str, tuple[float, ...], bool]]) -> Scored:
    """(set, scores, correct) rows of visual + text windows; junk has no right answer."""
    windows = [Window(s, "val", None if s == "junk" else "p", [], "x") for s, _, _ in rows]
    feats = [ClaimFeatures(sc, True, True) for _, sc, _ in rows]
    correct = np.array([c for _, _, c in rows])
    return Scored(windows, feats, correct, np.array([s != "junk" for s, _, _ in rows]), np.zeros(len(rows), bool))


def test_fit_excludes_junk_that_scores_high_with_no_margin() -> None:
    rows = [("sim", (0.8, 0.5), True), ("sim", (0.7, 0.45), True), ("sim", (0.6, 0.58), False),
            ("junk", (0.9, 0.88), False), ("sim", (0.55, 0.3), True)]
    s = _scored(rows)
    t = fit_modality(s, "visual+text", 0.95)
    c = claims(s, ClaimRule({"visual+text": t}))
    assert not c[3], "the junk window is claimed"
    assert c[[0, 1, 4]].all() and not c[2]
    assert summary(s, c)["precision"] == 1.0


def test_fit_never_claims_when_the_target_is_out_of_reach() -> None:
    s = _scored([("sim", (0.8, 0.5), False), ("junk", (0.9, 0.2), False)])
    t = fit_modality(s, "visual+text", 0.95)
    assert t == Thresholds(float("inf"), float("inf"))


def test_junk_windows_are_seeded_and_have_no_right_answer() -> None:
    a, b = junk_windows("val", 1, 10, []), junk_windows("val", 1, 10, [])
    assert [w.text for w in a] == [w.text for w in b] and len(a) == 30
    assert all(w.truth is None for w in a)
    assert {w.split for w in a} == {"val"}
    assert half("group-a") in ("val", "test")
