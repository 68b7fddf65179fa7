"""When a tag is claimed: a calibrated rule over what is known at tag time.

A wrong shopper-facing tag costs more than none, so a tag is claimed only when the evidence clears
the rule for the window's modalities: the top-1 score and its margin over the runner-up (a junk or
off-catalog window scores high on *some* product but rarely far above the next one). Scores of a
text-only, a visual-only and a visual + text query live on different scales (``encoders.scoring``
averages the cosines of the shared branches), so each modality has its own thresholds.

The thresholds are data (``claims.json`` beside this module), chosen on a validation split by
``python -m tooling.bench.calibration`` and reported on a separate test split (docs/RESULTS.md,
"Calibrated claims"). ``AMPERE_TAG_MIN_SCORE`` > 0 overrides them with one fixed floor on the
top-1 score (the former rule), for deployments that calibrate on their own catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

RULE_FILE = Path(__file__).with_name("claims.json")
MODALITIES = ("visual+text", "visual", "text")


@dataclass(frozen=True)
class ClaimFeatures:
    """What the tag stage knows of one window's search."""

    scores: tuple[float, ...]
    """Scores of the returned products, best first (after the attribute re-rank)."""
    has_visual: bool
    has_text: bool
    has_product: bool | None = None
    """The window summary's ``has_product`` (None: no summary)."""

    @property
    def modality(self) -> str:
        """"visual+text", "visual", "text" or "none"."""
        if self.has_visual and self.has_text:
            return "visual+text"
        return "visual" if self.has_visual else "text" if self.has_text else "none"

    @property
    def top1(self) -> float:
        return self.scores[0] if self.scores else float("-inf")

    @property
    def margin(self) -> float:
        """Top-1 minus top-2 (the top-1 score itself when there is no runner-up)."""
        if not self.scores:
            return float("-inf")
        return self.scores[0] - (self.scores[1] if len(self.scores) > 1 else 0.0)


@dataclass(frozen=True)
class Thresholds:
    """Claim when ``top1 >= min_top1`` and ``margin >= min_margin``."""

    min_top1: float
    min_margin: float


@dataclass(frozen=True)
class ClaimRule:
    """Per-modality thresholds (a modality not listed is never claimed)."""

    thresholds: Mapping[str, Thresholds]
    require_has_product: bool = False
    """A window whose summary says it shows no product is never claimed."""
    source: dict = field(default_factory=dict)
    """Where the thresholds came from (dataset, split, target) — documentation only."""
    lineup_thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    """Per modality, for a lineup tag (the catalog's best product is in the stream's lineup and is judged
    against the other lineup products, ``streams.worker.tag_scope``); a modality not listed uses
    ``thresholds``. Chosen by ``python -m tooling.bench.lineups --fit``."""
    lineup_source: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data = {"thresholds": {m: asdict(t) for m, t in self.thresholds.items()},
                "require_has_product": self.require_has_product, "source": self.source}
        if self.lineup_thresholds:
            data |= {"lineup_thresholds": {m: asdict(t) for m, t in self.lineup_thresholds.items()},
                     "lineup_source": self.lineup_source}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClaimRule:
        data = json.loads(text)
        return cls({m: Thresholds(**t) for m, t in data["thresholds"].items()},
                   bool(data.get("require_has_product", False)), data.get("source", {}),
                   {m: Thresholds(**t) for m, t in data.get("lineup_thresholds", {}).items()},
                   data.get("lineup_source", {}))

    @classmethod
    def fixed(cls, min_score: float) -> ClaimRule:
        """The former rule: one floor on the top-1 score, whatever the modality or margin."""
        t = Thresholds(min_score, float("-inf"))
        return cls({m: t for m in (*MODALITIES, "none")}, source={"override": f"AMPERE_TAG_MIN_SCORE={min_score}"})


@lru_cache(maxsize=1)
def shipped_rule() -> ClaimRule:
    """The calibrated rule shipped with the worker (``claims.json``)."""
    return ClaimRule.from_json(RULE_FILE.read_text(encoding="utf-8"))


def rule_for(min_score_override: float) -> ClaimRule:
    """The shipped rule, or the fixed floor when ``AMPERE_TAG_MIN_SCORE`` sets one (> 0)."""
    return ClaimRule.fixed(min_score_override) if min_score_override > 0 else shipped_rule()


def decide(features: ClaimFeatures, rule: ClaimRule, scope: str = "catalog") -> tuple[bool, str | None]:
    """``(claimed, reason)``: the reason says why a tag is not claimed (None when claimed); ``scope``
    "lineup" takes the rule's lineup thresholds where it has them."""
    if not features.scores:
        return False, "no catalog product found"
    t = (rule.lineup_thresholds.get(features.modality) if scope == "lineup" else None) or rule.thresholds.get(features.modality)
    if t is None:
        return False, f"no calibrated rule for a {features.modality} window"
    if rule.require_has_product and features.has_product is False:
        return False, "the summary says the window shows no product"
    if features.top1 < t.min_top1:
        return False, f"top score {features.top1:.3f} below {t.min_top1:.3f} ({features.modality} window)"
    if features.margin < t.min_margin:
        return False, (f"top score {features.top1:.3f} only {features.margin:.3f} above the next product "
                       f"(needs {t.min_margin:.3f}, {features.modality} window)")
    return True, None


def features_of(scores: Sequence[float], branches: Sequence[str], summary: Mapping | None) -> ClaimFeatures:
    """Features of one tag: the hits' scores, the window's branches and its summary (a dict)."""
    has_product = None if not summary else summary.get("has_product")
    return ClaimFeatures(tuple(float(s) for s in scores), "visual" in branches, "text" in branches,
                         None if has_product is None else bool(has_product))
