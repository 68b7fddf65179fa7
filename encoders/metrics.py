"""Retrieval metrics on similarity matrices: ranks of the first relevant item, recall@k, rank stats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def first_relevant_ranks(similarity: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of the best-ranked relevant gallery item for each query.

    ``similarity`` is (queries, gallery); ``relevant`` is a boolean matrix of the same shape. Ties
    are counted pessimistically (an equal-scoring irrelevant item ranks ahead), so a constant
    embedding cannot look good. Queries without any relevant item get rank 0 and are skipped by
    :func:`retrieval_metrics`.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    rel = np.asarray(relevant, dtype=bool)
    if sim.shape != rel.shape:
        raise ValueError(f"similarity {sim.shape} and relevant {rel.shape} differ in shape")
    best = np.where(rel, sim, -np.inf).max(axis=1)
    ahead = ((sim >= best[:, None]) & ~rel).sum(axis=1)
    ranks = ahead + 1
    ranks[~rel.any(axis=1)] = 0
    return ranks.astype(np.int64)


def relevance(query_labels: Sequence[str], gallery_labels: Sequence[str]) -> np.ndarray:
    """Boolean (queries, gallery) matrix: True where the labels (e.g. product ids) match."""
    q = np.asarray(list(query_labels), dtype=object)[:, None]
    g = np.asarray(list(gallery_labels), dtype=object)[None, :]
    return q == g


def retrieval_metrics(ranks: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """R@k (share of queries whose first relevant item is in the top k), median and mean rank."""
    r = np.asarray(ranks)
    r = r[r > 0]
    if r.size == 0:
        return {"n": 0, **{f"R@{k}": float("nan") for k in ks}, "median_rank": float("nan"), "mean_rank": float("nan")}
    out: dict[str, float] = {"n": int(r.size)}
    for k in ks:
        out[f"R@{k}"] = float((r <= k).mean())
    out["median_rank"] = float(np.median(r))
    out["mean_rank"] = float(r.mean())
    return out


def cosine_similarity(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Cosine similarity of every query row with every gallery row (all-zero rows score 0)."""
    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, n, out=np.zeros_like(x), where=n > 0)

    return unit(queries) @ unit(gallery).T


def paired_bootstrap_delta(
    ranks_a: np.ndarray, ranks_b: np.ndarray, k: int = 1, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """R@k of ``b`` minus R@k of ``a`` on the same queries, with a 95 % paired-bootstrap interval.

    Queries without a relevant item (rank 0 in either) are left out.
    """
    a, b = np.asarray(ranks_a), np.asarray(ranks_b)
    if a.shape != b.shape:
        raise ValueError("paired comparison needs ranks of the same queries")
    keep = (a > 0) & (b > 0)
    diff = (b[keep] <= k).astype(np.float64) - (a[keep] <= k).astype(np.float64)
    if diff.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(lo), float(hi)
