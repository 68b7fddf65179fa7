"""Product segments: the consecutive windows of one product on one stream, and the claim their evidence makes.

A segment is opened by a product switch or a lineup change (the windower stamps each window with the
start of its segment, ``segment_start_ms``) or by the stream's first window. Every window tag of the
segment adds evidence; the segment's product is the one its windows score best *on average*, so a
segment can be claimed when no single window could, and it is revised (same id, next revision) as
windows arrive or are refined.

The claim, from the window tags alone (nothing is fitted here):

- windows that were claimed for different products: not claimed (the segment holds two products, or one
  of them is wrong); a window claim that the segment's average contradicts: not claimed either;
- a window claimed for the segment's best product: claimed (its precision is the window rule's);
- else the window rule's thresholds, applied to the *mean* scores of the segment's windows of one scope
  and modality (the most numerous): the top-1 floor unchanged (an off-catalog product scores low on
  average too), the margin floor divided by √n (the noise of a mean of n windows shrinks by √n).

The replay contract: a segment is a pure function of the latest revision of each of its windows' tags,
so a re-delivered or replayed tag changes nothing (``fold`` says so) and a segment read back from the
store after a restart continues exactly where it was. ``product_hint`` (the broadcaster's word) is
reported beside the evidence and never decides a claim: a wrong hint cannot force a wrong one.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from streams.schemas import TagRecord
from streams.worker.claims import ClaimFeatures, ClaimRule, Thresholds

MAX_WINDOWS = 720
"""Windows of evidence one segment keeps (the newest; an hour of 5-second hops)."""
MAX_PRODUCTS = 50
"""Products of one tag kept as evidence (the tag stage lists ``AMPERE_TAG_TOP_K``)."""
SEGMENT_NAMESPACE = uuid.UUID("5e9a1f0c-3d2b-4c6a-9b8e-7f1d2c3b4a50")


def segment_id(stream_id: str, segment_start_ms: int | None) -> str:
    """The deterministic id of a stream's segment (the same on every worker and after every restart)."""
    return str(uuid.uuid5(SEGMENT_NAMESPACE, f"{stream_id}\x00{segment_start_ms if segment_start_ms is not None else 0}"))


def _usable(p: object) -> bool:
    """A listed product the evidence can count: a non-empty string id and a finite number as its score."""
    if not isinstance(p, Mapping) or not isinstance(p.get("product_id"), str) or not p["product_id"]:
        return False
    score = p.get("score")
    return isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score)


@dataclass(frozen=True)
class WindowEvidence:
    """What one window tag says, as the segment keeps it."""

    object_id: str
    window: tuple[int, int]
    revision: int
    scores: dict[str, float]
    """Product id -> score of the products the tag lists (an unlisted product scored at most ``floor``)."""
    scope: str
    modality: str
    claimed: str | None
    """The product the window tag claimed (None: not claimed)."""
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def floor(self) -> float:
        return min(self.scores.values()) if self.scores else 0.0

    @classmethod
    def of(cls, tag: TagRecord) -> WindowEvidence:
        """The evidence of one tag; a listed product without a string id and a finite score counts as absent."""
        listed = [p for p in tag.products if _usable(p)][:MAX_PRODUCTS]
        scores = {str(p["product_id"]): float(p["score"]) for p in listed}
        titles = {str(p["product_id"]): str(p.get("title") or "")[:500] for p in listed}
        first = str(tag.products[0]["product_id"]) if tag.products and _usable(tag.products[0]) else None
        return cls(tag.object_id, (int(tag.window[0]), int(tag.window[1])), tag.revision, scores, tag.scope,
                   tag.modality or "none", first if tag.claimed else None, titles)

    @classmethod
    def from_dict(cls, d: Mapping) -> WindowEvidence:
        return cls(str(d["object_id"]), (int(d["window"][0]), int(d["window"][1])), int(d["revision"]),
                   {str(k): float(v) for k, v in d["scores"].items()}, str(d["scope"]), str(d["modality"]),
                   d.get("claimed"), {str(k): str(v) for k, v in d.get("titles", {}).items()})


@dataclass(frozen=True)
class Verdict:
    """A segment's product and whether it is claimed (with the reason when not)."""

    product_id: str | None
    title: str
    score: float
    claimed: bool
    reason: str | None
    basis: str
    """"window" (a window claim carries it), "evidence" (the mean scores clear the rule) or "none"."""


@dataclass
class SegmentState:
    """One segment's evidence: its windows' latest tags, by object id, and the revision last published."""

    segment_id: str
    stream_id: str
    segment_start_ms: int | None
    product_hint: str | None = None
    windows: dict[str, WindowEvidence] = field(default_factory=dict)
    revision: int = 0
    seller_id: str | None = None

    def fold(self, tag: TagRecord) -> bool:
        """Add a window tag; True when it changes the evidence (a new window, or a newer revision of one)."""
        old = self.windows.get(tag.object_id)
        if old is not None and old.revision >= tag.revision:
            return False
        self.windows[tag.object_id] = WindowEvidence.of(tag)
        if tag.product_hint is not None:
            self.product_hint = tag.product_hint
        if len(self.windows) > MAX_WINDOWS:
            for oid in sorted(self.windows, key=lambda o: self.windows[o].window)[: len(self.windows) - MAX_WINDOWS]:
                del self.windows[oid]
        return True

    @property
    def start_ms(self) -> int:
        return min(w.window[0] for w in self.windows.values()) if self.windows else (self.segment_start_ms or 0)

    @property
    def end_ms(self) -> int:
        return max(w.window[1] for w in self.windows.values()) if self.windows else (self.segment_start_ms or 0)

    def evidence_json(self) -> list[dict]:
        """The windows' evidence as plain data (stored with the segment, read back by ``from_evidence``)."""
        return [asdict(w) | {"window": list(w.window)} for w in sorted(self.windows.values(), key=lambda w: w.window)]

    @classmethod
    def from_evidence(cls, segment_id_: str, stream_id: str, segment_start_ms: int | None, product_hint: str | None,
                      evidence: Sequence[Mapping], revision: int) -> SegmentState:
        ws = [WindowEvidence.from_dict(d) for d in evidence]
        return cls(segment_id_, stream_id, segment_start_ms, product_hint, {w.object_id: w for w in ws}, revision)


def mean_scores(windows: Sequence[WindowEvidence]) -> list[tuple[str, float]]:
    """Every listed product's mean score over ``windows``, best first (a window that does not list a
    product counts its lowest listed score: an upper bound on that product's score there)."""
    products = {p for w in windows for p in w.scores}
    means = {p: sum(w.scores.get(p, w.floor) for w in windows) / len(windows) for p in products}
    return sorted(means.items(), key=lambda kv: (-kv[1], kv[0]))


def thresholds_for(rule: ClaimRule, scope: str, modality: str) -> Thresholds | None:
    return (rule.lineup_thresholds.get(modality) if scope == "lineup" else None) or rule.thresholds.get(modality)


def decide(state: SegmentState, rule: ClaimRule, uncalibrated: str | None = None) -> Verdict:
    """The segment's product and claim from its windows' evidence (see the module doc)."""
    ws = list(state.windows.values())
    if not ws:
        return Verdict(None, "", 0.0, False, "no window yet", "none")
    group_of = Counter((w.scope, w.modality) for w in ws)
    (scope, modality), _ = max(group_of.items(), key=lambda kv: (kv[1], kv[0][0] == "lineup", kv[0][1]))
    group = [w for w in ws if (w.scope, w.modality) == (scope, modality)]
    ranked = mean_scores(group)
    if not ranked:
        return Verdict(None, "", 0.0, False, "no catalog product found", "none")
    best, best_score = ranked[0]
    title = next((w.titles.get(best, "") for w in ws if w.titles.get(best)), "")

    def verdict(claimed: bool, reason: str | None, basis: str) -> Verdict:
        return Verdict(best, title, round(best_score, 4), claimed, reason, basis)

    if uncalibrated:
        return verdict(False, uncalibrated, "none")
    claimed = Counter(w.claimed for w in ws if w.claimed)
    if len(claimed) > 1:
        names = ", ".join(f"{p!r} ({n})" for p, n in claimed.most_common(3))
        return verdict(False, f"its windows claim different products: {names}", "none")
    if claimed:
        (product, n), = claimed.items()
        if product != best:
            return verdict(False, f"{n} window(s) claim {product!r}, but the segment's windows score {best!r} best", "none")
        return verdict(True, None, "window")
    n = len(group)
    t = thresholds_for(rule, scope, modality)
    if t is None:
        return verdict(False, f"no calibrated rule for a {modality} window", "none")
    if n < 2:
        if len(ws) == 1:
            return verdict(False, "one window so far, and it is not claimed", "none")
        kinds = ", ".join(sorted(f"{sc} {mo}" for sc, mo in group_of))
        return verdict(False, f"its {len(ws)} windows are of different kinds ({kinds}) and none is claimed", "none")
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    feats = ClaimFeatures((best_score, runner_up), "visual" in modality, "text" in modality)
    min_margin = t.min_margin / math.sqrt(n)
    if feats.top1 < t.min_top1:
        return verdict(False, f"mean top score {feats.top1:.3f} of {n} windows below {t.min_top1:.3f}", "none")
    if feats.margin < min_margin:
        return verdict(False, f"mean top score {feats.top1:.3f} of {n} windows only {feats.margin:.3f} above the next "
                       f"product (needs {min_margin:.3f})", "none")
    return verdict(True, None, "evidence")
