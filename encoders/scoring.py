"""Which vectors to compare: the one scoring rule of the tag agent, `ampere search` and `ampere eval`.

A query and a candidate are compared on their fused vectors only when both have images and text.
When either lacks a modality (a live window without speech, a product without a photo) they are
compared on the branch they share: visual when both have images, else text. So a missing modality
never drags a match below the single-modality score. With no shared branch (a text-only query
against an image-only candidate) the fused vectors are the only common space and are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

TARGETS = ("fused", "visual", "text")


@dataclass(frozen=True)
class Modalities:
    """What one side of a comparison has."""

    visual: bool
    text: bool


FULL = Modalities(visual=True, text=True)


def pair_target(query: Modalities, candidate: Modalities) -> str:
    """The named vector (fused | visual | text) on which ``query`` and ``candidate`` are compared."""
    if query == FULL and candidate == FULL:
        return "fused"
    if query.visual and candidate.visual:
        return "visual"
    if query.text and candidate.text:
        return "text"
    return "fused"


def search_target(has_visual: bool, has_text: bool) -> str:
    """The named vector to search a gallery of full items (catalog products: photo + text) with."""
    return pair_target(Modalities(has_visual, has_text), FULL)


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
    """Cosine similarity ``[queries, gallery]`` where each pair is scored on its :func:`pair_target`."""
    qv, qt = np.asarray(queries.visual_mask, bool), np.asarray(queries.text_mask, bool)
    gv, gt = np.asarray(gallery.visual_mask, bool), np.asarray(gallery.text_mask, bool)
    full = (qv & qt)[:, None] & (gv & gt)[None, :]
    both_visual = qv[:, None] & gv[None, :]
    both_text = qt[:, None] & gt[None, :]
    use_visual = ~full & both_visual
    use_text = ~full & ~both_visual & both_text
    use_fused = ~(use_visual | use_text)
    sims = {name: _unit(getattr(queries, name)) @ _unit(getattr(gallery, name)).T for name in TARGETS}
    return np.where(use_fused, sims["fused"], np.where(use_visual, sims["visual"], sims["text"]))


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
