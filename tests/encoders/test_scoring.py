"""The one scoring rule: fused when both sides have both modalities, else the shared branch."""

import numpy as np
import pytest

from encoders.scoring import FULL, Branches, Modalities, pair_target, search_target, similarity

VISUAL_ONLY, TEXT_ONLY, NOTHING = Modalities(True, False), Modalities(False, True), Modalities(False, False)


@pytest.mark.parametrize(
    ("query", "candidate", "target"),
    [
        (FULL, FULL, "fused"),
        (VISUAL_ONLY, FULL, "visual"),
        (FULL, VISUAL_ONLY, "visual"),
        (TEXT_ONLY, FULL, "text"),
        (FULL, TEXT_ONLY, "text"),
        (VISUAL_ONLY, VISUAL_ONLY, "visual"),
        (TEXT_ONLY, VISUAL_ONLY, "fused"),
        (NOTHING, FULL, "fused"),
    ],
)
def test_pair_target(query: Modalities, candidate: Modalities, target: str) -> None:
    assert pair_target(query, candidate) == target


def test_search_target_is_against_full_products() -> None:
    assert search_target(True, True) == "fused"
    assert search_target(True, False) == "visual"
    assert search_target(False, True) == "text"


def _rows(fused, visual, text) -> Branches:
    v, t = np.asarray(visual, float), np.asarray(text, float)
    return Branches(np.asarray(fused, float), v, t, np.abs(v).sum(1) > 0, np.abs(t).sum(1) > 0)


def test_silent_query_is_scored_on_the_visual_branch() -> None:
    # product 0 looks like the query; product 1's fused vector happens to be closer to the query's
    gallery = _rows([[0.6, 0.8], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]])
    query = _rows([[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]])
    sims = similarity(query, gallery)
    assert sims.argmax() == 0 and sims[0, 0] == pytest.approx(1.0)
    full_query = _rows([[1.0, 0.0]], [[1.0, 0.0]], [[1.0, 0.0]])
    assert similarity(full_query, gallery).argmax() == 1  # with speech: fused vectors decide


def test_take_keeps_rows_in_order() -> None:
    b = _rows(np.eye(3), np.eye(3), np.zeros((3, 3)))
    assert np.array_equal(b.take([2, 0]).visual, np.eye(3)[[2, 0]])
