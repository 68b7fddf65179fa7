"""Which products a live window is matched against: its stream's lineup first, the whole catalog else.

A seller declares the products of a show beforehand (the room's product list); the answer is almost
always one of them, and the look-alikes the seller does not show are then no competitors. The lineup
never promotes a product the window does not match best, though: a lineup tag is claimed only when the
best product of the *whole* catalog is in the lineup and the claim rule, with its lineup thresholds,
is sure of it against the other lineup products. Otherwise (a product shown off the lineup, a weak match) the tag is the catalog's,
judged against the whole catalog exactly as without a lineup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from engines.store.weaviate_store import Hit
from streams.worker.claims import ClaimRule, decide, features_of

Scope = Literal["lineup", "seller", "catalog"]


@dataclass(frozen=True)
class ScopedHits:
    """The products a tag shows, where they come from, and the lineup ids the catalog lacks."""

    hits: list[Hit]
    scope: Scope
    claimed: bool
    reason: str | None
    unknown: list[str] = field(default_factory=list)


def product_id(h: Hit) -> str | None:
    return h.properties.get("product_id")


def choose_scope(
    catalog: Sequence[Hit], in_lineup: Sequence[Hit] | None, lineup: Sequence[str] | None,
    branches: Sequence[str], summary: dict | None, rule: ClaimRule, limit: int, *, best_overall: bool = True,
) -> ScopedHits:
    """The tag of one window from its catalog search and, when it has a lineup, its lineup search
    (every lineup product the catalog holds, best first). ``best_overall=False`` drops the guard: the
    lineup answers whenever the rule is sure among its products (measured in ``tooling.bench.lineups``)."""
    claimed, reason = decide(features_of([h.score for h in catalog], branches, summary), rule)
    if not lineup or in_lineup is None:
        return ScopedHits(list(catalog[:limit]), "catalog", claimed, reason)
    found = {product_id(h) for h in in_lineup}
    unknown = [p for p in lineup if p not in found]
    if catalog and product_id(catalog[0]) in found:  # then it also leads the lineup, by a margin at least as wide
        lineup_claimed, lineup_reason = decide(features_of([h.score for h in in_lineup], branches, summary), rule, "lineup")
        return ScopedHits(list(in_lineup[:limit]), "lineup", lineup_claimed, lineup_reason, unknown)
    if not best_overall and in_lineup and not claimed:  # the lineup thresholds hold under the guard only
        lineup_claimed, lineup_reason = decide(features_of([h.score for h in in_lineup], branches, summary), rule)
        if lineup_claimed:
            return ScopedHits(list(in_lineup[:limit]), "lineup", True, None, unknown)
    if not claimed and catalog:
        reason = f"{reason}; the best match is not in the stream's lineup"
    return ScopedHits(list(catalog[:limit]), "catalog", claimed, reason, unknown)
