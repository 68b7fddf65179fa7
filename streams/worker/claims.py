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

Thresholds hold only for the score scale they were fitted on: a rule names its model version, the
encoder engine it was fitted with (and the engines whose outputs are tested to agree with it) and the
scoring rule (``ModelBinding``). A tag whose embedding comes from another model, or a worker whose
engine or scoring differs, never claims ("calibration is for model X"): it says so, and counts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

RULE_FILE = Path(__file__).with_name("claims.json")
UNCALIBRATED = "calibration is for"
"""How every reason starts that says a rule does not hold for an encoder (``ModelBinding.mismatch``)."""
MODALITIES = ("visual+text", "visual", "text")
PARITY_ENGINES = {"onnx": ("onnx", "torch"), "torch": ("torch", "onnx")}
"""Engines whose embeddings agree with the fitting engine's to within the parity test
(tests/engines/encode/test_onnx_parity.py); TensorRT fp16 is not checked on CPU, so it is not listed."""


@dataclass(frozen=True)
class ModelBinding:
    """The encoder a rule's thresholds were fitted for."""

    model_version: str
    engines: tuple[str, ...]
    """The engine the rule was fitted with first, then the engines tested to agree with it."""
    scoring: str
    """``encoders.scoring.SCORING_ID`` at fitting time."""

    @classmethod
    def of(cls, model_version: str, engine: str, scoring: str) -> ModelBinding:
        return cls(model_version, PARITY_ENGINES.get(engine, (engine,)), scoring)

    def mismatch(self, model_version: str | None = None, engine: str | None = None,
                 scoring: str | None = None) -> str | None:
        """Why a rule bound here does not hold for this encoder (None: it holds; None arguments are not checked)."""
        if model_version is not None and model_version != self.model_version:
            return f"{UNCALIBRATED} model {self.model_version}, not {model_version}"
        if engine is not None and engine not in self.engines:
            return (f"{UNCALIBRATED} model {self.model_version} on the {'/'.join(self.engines)} engine, "
                    f"not {engine} (run `ampere calibrate`)")
        if scoring is not None and scoring != self.scoring:
            return f"{UNCALIBRATED} model {self.model_version} scored by {self.scoring}, not {scoring}"
        return None


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
    model: ModelBinding | None = None
    """The encoder the thresholds hold for; None: any (the fixed floor, a rule built in code). A rule
    read from JSON always names one."""

    def mismatch(self, model_version: str | None = None, engine: str | None = None,
                 scoring: str | None = None) -> str | None:
        """Why this rule does not hold for an encoder (None: it holds)."""
        return None if self.model is None else self.model.mismatch(model_version, engine, scoring)

    def to_json(self) -> str:
        data: dict = {"model": asdict(self.model)} if self.model else {}
        data |= {"thresholds": {m: asdict(t) for m, t in self.thresholds.items()},
                 "require_has_product": self.require_has_product, "source": self.source}
        if self.lineup_thresholds:
            data |= {"lineup_thresholds": {m: asdict(t) for m, t in self.lineup_thresholds.items()},
                     "lineup_source": self.lineup_source}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClaimRule:
        data = json.loads(text)
        model = data.get("model")
        if not isinstance(model, dict) or not {"model_version", "engines", "scoring"} <= model.keys():
            raise ValueError('a claim rule must name the encoder it was fitted for: "model": {"model_version", '
                             '"engines", "scoring"} (regenerate it with python -m tooling.bench.calibration)')
        return cls({m: Thresholds(**t) for m, t in data["thresholds"].items()},
                   bool(data.get("require_has_product", False)), data.get("source", {}),
                   {m: Thresholds(**t) for m, t in data.get("lineup_thresholds", {}).items()},
                   data.get("lineup_source", {}),
                   ModelBinding(str(model["model_version"]), tuple(model["engines"]), str(model["scoring"])))

    def bound_to(self, binding: ModelBinding) -> ClaimRule:
        """This rule for ``binding``'s encoder."""
        return replace(self, model=binding)

    @classmethod
    def fixed(cls, min_score: float) -> ClaimRule:
        """The former rule: one floor on the top-1 score, whatever the modality or margin."""
        t = Thresholds(min_score, float("-inf"))
        return cls({m: t for m in (*MODALITIES, "none")}, source={"override": f"AMPERE_TAG_MIN_SCORE={min_score}"})


@lru_cache(maxsize=1)
def shipped_rule() -> ClaimRule:
    """The calibrated rule shipped with the worker (``claims.json``)."""
    return ClaimRule.from_json(RULE_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def rule_file(path: str) -> ClaimRule:
    """A rule file of ``ampere calibrate``; a clear error when it cannot be read."""
    try:
        return ClaimRule.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"AMPERE_TAG_CLAIM_RULE={path}: not a claim rule ({type(exc).__name__}: {exc})") from exc


def rule_for(min_score_override: float, path: str = "") -> ClaimRule:
    """The fixed floor when ``AMPERE_TAG_MIN_SCORE`` sets one (> 0), else the rule of
    ``AMPERE_TAG_CLAIM_RULE`` when set, else the shipped rule."""
    if min_score_override > 0:
        return ClaimRule.fixed(min_score_override)
    return rule_file(path) if path else shipped_rule()


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
