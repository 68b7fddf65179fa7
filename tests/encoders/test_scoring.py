"""The one scoring rule: mean cosine over the branches both sides have, fused when they share none."""

import numpy as np
import pytest

from encoders.scoring import FULL, Branches, Modalities, search_targets, shared_branches, similarity

VISUAL_ONLY, TEXT_ONLY, NOTHING = Modalities(True, False), Modalities(False, True), Modalities(False, False)


@pytest.mark.parametrize(
    ("query", "candidate", "branches"),
    [
        (FULL, FULL, ("visual", "text")),
        (VISUAL_ONLY, FULL, ("visual",)),
        (FULL, VISUAL_ONLY, ("visual",)),
        (TEXT_ONLY, FULL, ("text",)),
        (FULL, TEXT_ONLY, ("text",)),
        (TEXT_ONLY, VISUAL_ONLY, ("fused",)),
        (NOTHING, FULL, ("fused",)),
    ],
)
def test_shared_branches(query: Modalities, candidate: Modalities, branches: tuple[str, ...]) -> None:
    assert shared_branches(query, candidate) == branches


def test_search_targets_are_against_full_products() -> None:
    assert search_targets(True, True) == ("visual", "text")
    assert search_targets(True, False) == ("visual",)
    assert search_targets(False, True) == ("text",)


def _rows(fused, visual, text) -> Branches:
    v, t = np.asarray(visual, float), np.asarray(text, float)
    return Branches(np.asarray(fused, float), v, t, np.abs(v).sum(1) > 0, np.abs(t).sum(1) > 0)


def test_missing_text_is_scored_on_the_visual_branch_alone() -> None:
    # product 0 looks like the query; product 1's fused vector happens to equal the query's
    gallery = _rows([[0.6, 0.8], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]])
    silent = _rows([[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]])
    sims = similarity(silent, gallery)
    assert sims[0].tolist() == pytest.approx([1.0, 0.0])
    spoken = _rows([[1.0, 0.0]], [[1.0, 0.0]], [[1.0, 0.0]])
    assert similarity(spoken, gallery)[0].tolist() == pytest.approx([0.5, 0.5])  # mean of visual and text


def test_no_shared_branch_falls_back_to_fused() -> None:
    text_only = _rows([[0.0, 1.0]], [[0.0, 0.0]], [[0.0, 1.0]])
    photo_only = _rows([[0.6, 0.8]], [[1.0, 0.0]], [[0.0, 0.0]])
    assert similarity(text_only, photo_only)[0, 0] == pytest.approx(0.8)


def test_take_keeps_rows_in_order() -> None:
    b = _rows(np.eye(3), np.eye(3), np.zeros((3, 3)))
    assert np.array_equal(b.take([2, 0]).visual, np.eye(3)[[2, 0]])
