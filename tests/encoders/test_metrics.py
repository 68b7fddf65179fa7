import math

import numpy as np
import pytest

from encoders.metrics import cosine_similarity, first_relevant_ranks, relevance, retrieval_metrics


def test_ranks_hand_computed():
    sim = np.array([
        [0.9, 0.1, 0.5],   # truth at 0 → rank 1
        [0.9, 0.1, 0.5],   # truth at 1 → rank 3
        [0.2, 0.8, 0.4],   # truth at 2 → rank 2
    ])
    rel = np.eye(3, dtype=bool)
    assert first_relevant_ranks(sim, rel).tolist() == [1, 3, 2]


def test_best_of_several_relevant_items_counts():
    sim = np.array([[0.1, 0.9, 0.5, 0.7]])
    rel = np.array([[True, False, False, True]])
    assert first_relevant_ranks(sim, rel).tolist() == [2]


def test_ties_are_pessimistic_and_constant_embeddings_rank_last():
    sim = np.zeros((2, 4))
    rel = np.eye(2, 4, dtype=bool)
    assert first_relevant_ranks(sim, rel).tolist() == [4, 4]


def test_query_without_relevant_item_is_skipped():
    sim = np.array([[0.3, 0.2], [0.1, 0.9]])
    rel = np.array([[False, False], [False, True]])
    ranks = first_relevant_ranks(sim, rel)
    assert ranks.tolist() == [0, 1]
    assert retrieval_metrics(ranks)["n"] == 1


def test_metrics_hand_computed():
    m = retrieval_metrics(np.array([1, 3, 2, 12]))
    assert m["n"] == 4
    assert m["R@1"] == 0.25 and m["R@5"] == 0.75 and m["R@10"] == 0.75
    assert m["median_rank"] == 2.5 and m["mean_rank"] == 4.5


def test_empty_metrics_are_nan():
    m = retrieval_metrics(np.array([], dtype=int))
    assert m["n"] == 0 and math.isnan(m["R@1"])


def test_relevance_and_cosine():
    assert relevance(["a", "b"], ["b", "a", "a"]).tolist() == [[False, True, True], [True, False, False]]
    sim = cosine_similarity(np.array([[3.0, 0.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [0.0, 2.0]]))
    assert sim[0, 0] == pytest.approx(2 ** -0.5) and sim[0, 1] == 0.0
    assert (sim[1] == 0).all()


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        first_relevant_ranks(np.zeros((2, 3)), np.zeros((3, 2), bool))


def test_paired_bootstrap_delta():
    from encoders.metrics import paired_bootstrap_delta

    a = np.array([1, 2, 3, 1, 0])
    b = np.array([1, 1, 1, 1, 4])  # last query has no relevant item in a: left out
    delta, lo, hi = paired_bootstrap_delta(a, b)
    assert delta == pytest.approx(0.5)
    assert 0.0 <= lo <= delta <= hi <= 1.0
    same = paired_bootstrap_delta(a, a)
    assert same == (0.0, 0.0, 0.0)
