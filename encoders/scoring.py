"""How a query and a candidate are scored: the one rule of the tag agent, `ampere search` and `ampere eval`.

Score = the mean cosine similarity over the branches (visual, text) that both sides have. A live
window without speech is thus compared with a catalog product on the visual branch alone, and a
product without a photo on the text branch alone: a missing modality never drags a match below the
single-modality score. Only when the two sides share no branch (a text-only query against an
image-only candidate) are their fused vectors compared, the only common space left.

Per-branch fusion was chosen by measurement over cosine on the fused vector (docs/RESULTS.md).

Spoken attribute values (``encoders.attributes``) then re-rank the nearest candidates: each of a
product's attribute values the window's speech says adds ``ATTRIBUTE_BONUS`` to that product's
score, among the ``RERANK_DEPTH`` best by the vector rule (what a vector search returns first).
Near-duplicates score alike on both branches; the said value ("240 gig", "XL") separates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

BRANCHES = ("visual", "text")
ATTRIBUTE_BONUS = 0.05
"""Score added per attribute value said: a fixed prior, not fitted (R@1 moves little over 0.02-0.2, docs/RETRIEVAL.md)."""
RERANK_DEPTH = 20
"""Candidates per query that spoken attribute values may re-rank."""
SCORING_ID = f"mean-shared-branch-cosine+attributes({ATTRIBUTE_BONUS},{RERANK_DEPTH})"
"""Names this rule, so a claim rule fitted on its scores can tell when the scores mean something else."""


@dataclass(frozen=True)
class Modalities:
    """What one side of a comparison has."""

    visual: bool
    text: bool


FULL = Modalities(visual=True, text=True)


def shared_branches(query: Modalities, candidate: Modalities) -> tuple[str, ...]:
    """The named vectors on which ``query`` and ``candidate`` are compared (their cosines averaged)."""
    shared = tuple(b for b in BRANCHES if getattr(query, b) and getattr(candidate, b))
    return shared or ("fused",)


def search_targets(has_visual: bool, has_text: bool) -> tuple[str, ...]:
    """The named vectors to search a gallery of full items (catalog products: photo + text) with."""
    return shared_branches(Modalities(has_visual, has_text), FULL)


class BranchVectors(Protocol):
    """Rows of L2-normalized fused / visual / text vectors with the masks of the branches present."""

    fused: np.ndarray
    visual: np.ndarray
    text: np.ndarray
    visual_mask: np.ndarray
    text_mask: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def similarity(queries: BranchVectors, gallery: BranchVectors) -> np.ndarray:
    """Scores ``[queries, gallery]`` by the rule: mean cosine over shared branches, else fused cosine."""
    total = np.zeros((len(queries.fused), len(gallery.fused)))
    count = np.zeros_like(total)
    for b in BRANCHES:
        both = np.asarray(getattr(queries, f"{b}_mask"), bool)[:, None] & np.asarray(getattr(gallery, f"{b}_mask"), bool)[None, :]
        if both.any():  # a branch neither side has may come as placeholder rows of another width
            total += np.where(both, _cosines(getattr(queries, b), getattr(gallery, b), b), 0.0)
            count += both
    if (count > 0).all():
        return total / count
    fused = _cosines(queries.fused, gallery.fused, "fused")
    return np.where(count > 0, total / np.maximum(count, 1), fused)


def _cosines(q: np.ndarray, g: np.ndarray, branch: str) -> np.ndarray:
    q, g = _unit(q), _unit(g)
    if q.shape[1] != g.shape[1]:
        if not q.any() or not g.any():  # one side has no such vectors at all: nothing is similar
            return np.zeros((len(q), len(g)))
        raise ValueError(f"{branch} vectors of width {q.shape[1]} and {g.shape[1]} cannot be compared")
    return q @ g.T


@dataclass
class Branches:
    """A concrete :class:`BranchVectors` (rows of an evaluation; zero rows where a branch is absent)."""

    fused: np.ndarray
    visual: np.ndarray
    text: np.ndarray
    visual_mask: np.ndarray
    text_mask: np.ndarray

    def take(self, rows: list[int] | np.ndarray) -> Branches:
        """The given rows, in that order."""
        return Branches(self.fused[rows], self.visual[rows], self.text[rows], self.visual_mask[rows], self.text_mask[rows])


def with_attributes(scores: np.ndarray, said: np.ndarray, depth: int = RERANK_DEPTH,
                    bonus: float = ATTRIBUTE_BONUS) -> np.ndarray:
    """``scores [queries, gallery]`` plus ``bonus`` × the values said (``said``, same shape) for each
    row's ``depth`` best candidates by ``scores``; other entries unchanged."""
    scores = np.asarray(scores, dtype=np.float64)
    said = np.asarray(said, dtype=np.float64)
    if scores.size == 0 or not said.any():
        return scores.copy()
    k = min(depth, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    near = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(near, top, True, axis=1)
    return scores + np.where(near, bonus * said, 0.0)

