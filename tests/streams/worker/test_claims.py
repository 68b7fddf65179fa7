"""The claim rule: calibrated per-modality thresholds on the top score and its margin."""

from __future__ import annotations

import json

import pytest

from encoders.config import SHIPPED_MODEL_DIR, model_version
from encoders.scoring import SCORING_ID
from engines.store.weaviate_store import Hit
from streams.schemas import EmbeddingRecord
from streams.settings import Settings
from streams.worker import claims, stages
from streams.worker.claims import (
    ClaimFeatures,
    ClaimRule,
    ModelBinding,
    Thresholds,
    decide,
    features_of,
)

RULE = ClaimRule({"visual+text": Thresholds(0.6, 0.05), "visual": Thresholds(0.7, 0.1)})


def test_a_clear_winner_is_claimed() -> None:
    assert decide(ClaimFeatures((0.8, 0.6, 0.5), True, True), RULE) == (True, None)


def test_a_high_score_without_margin_is_not_claimed() -> None:
    claimed, reason = decide(ClaimFeatures((0.8, 0.78, 0.7), True, True), RULE)
    assert not claimed and "above the next product" in reason


def test_low_score_no_hits_and_uncalibrated_modality() -> None:
    assert decide(ClaimFeatures((0.55, 0.1), True, True), RULE)[1].startswith("top score 0.550 below 0.600")
    assert decide(ClaimFeatures((), True, True), RULE) == (False, "no catalog product found")
    assert decide(ClaimFeatures((0.99, 0.1), False, True), RULE) == (False, "no calibrated rule for a text window")


def test_thresholds_depend_on_the_modality() -> None:
    f = (0.65, 0.55)
    assert decide(ClaimFeatures(f, True, True), RULE)[0]
    assert not decide(ClaimFeatures(f, True, False), RULE)[0]


def test_summary_without_product_blocks_when_required() -> None:
    rule = ClaimRule(RULE.thresholds, require_has_product=True)
    assert not decide(ClaimFeatures((0.9, 0.1), True, True, has_product=False), rule)[0]
    assert decide(ClaimFeatures((0.9, 0.1), True, True, has_product=None), rule)[0]


def test_features_of_a_tag() -> None:
    f = features_of([0.7, 0.6], ["visual"], {"has_product": False})
    assert (f.modality, round(f.margin, 6), f.has_product) == ("visual", 0.1, False)
    assert features_of([0.4], [], None).margin == 0.4


def test_the_fixed_override_is_the_former_rule() -> None:
    rule = claims.rule_for(0.35)
    assert decide(ClaimFeatures((0.36, 0.359), False, True), rule)[0]
    assert not decide(ClaimFeatures((0.34, 0.0), True, True), rule)[0]
    assert claims.rule_for(0.0) is claims.shipped_rule()


def test_the_shipped_rule_round_trips_and_covers_every_modality() -> None:
    rule = claims.shipped_rule()
    assert set(rule.thresholds) == set(claims.MODALITIES)
    assert ClaimRule.from_json(rule.to_json()).thresholds == rule.thresholds


def _rec(branches: list[str]) -> EmbeddingRecord:
    return EmbeddingRecord(object_id="o", kind="live", stream_id="s", window=(0, 1), model_version="m", vector=[1.0],
                           indexed_at=1.0, branches={b: [1.0] for b in branches})


def test_a_flat_junk_search_is_not_claimed_by_default() -> None:
    """300 x "spam" found a camera at 0.53 with others just below: the former 0.35 floor claimed it."""
    hits = [Hit("a", 0.53, {"product_id": "p1", "title": "Camera"}), Hit("b", 0.525, {"product_id": "p2", "title": "Tripod"}),
            Hit("c", 0.52, {"product_id": "p3", "title": "Lens"})]
    out = stages.tag_record(_rec(["text"]), hits, claims.rule_for(Settings().tag_min_score), 2.0)
    assert not out.claimed and out.unclaimed_reason
    assert out.products[0]["product_id"] == "p1"


def test_lineup_thresholds_apply_to_lineup_tags_only_and_survive_the_json() -> None:
    from streams.worker.claims import ClaimRule, Thresholds

    rule = ClaimRule({"visual": Thresholds(0.8, 0.0)}, lineup_thresholds={"visual": Thresholds(0.6, 0.0)},
                     model=ModelBinding.of("m", "onnx", SCORING_ID))
    f = ClaimFeatures((0.7, 0.2), True, False)
    assert not decide(f, rule)[0] and decide(f, rule, "lineup")[0]
    assert ClaimRule.from_json(rule.to_json()) == rule
    only_catalog = ClaimRule({"visual": Thresholds(0.8, 0.0)})
    assert not decide(f, only_catalog, "lineup")[0]  # no lineup thresholds: the catalog's hold
    assert "lineup_thresholds" not in only_catalog.to_json()


def test_the_shipped_rule_has_lineup_thresholds_chosen_for_its_model() -> None:
    shipped = claims.shipped_rule()
    assert set(shipped.lineup_thresholds) == {"visual+text", "visual", "text"}
    assert shipped.lineup_source["model_version"] == shipped.source["model_version"]


# --- a rule tied to its model -------------------------------------------------------------------------

CLEAR = [Hit("a", 0.97, {"product_id": "p1", "title": "Camera"}), Hit("b", 0.2, {"product_id": "p2", "title": "Tripod"})]


def test_the_shipped_rule_is_bound_to_the_shipped_model_its_engines_and_the_scoring_rule() -> None:
    rule = claims.shipped_rule()
    assert rule.model is not None and rule.model.model_version == model_version(SHIPPED_MODEL_DIR)
    assert rule.model.model_version == rule.source["model_version"] == rule.lineup_source["model_version"]
    assert rule.mismatch(model_version(SHIPPED_MODEL_DIR), "onnx", SCORING_ID) is None
    assert rule.mismatch(engine="torch") is None  # the parity-tested twin
    assert ClaimRule.from_json(rule.to_json()) == rule


def test_a_tag_of_another_models_embedding_is_never_claimed_and_says_why() -> None:
    rule = claims.shipped_rule()
    ours = _rec(["visual", "text"]).model_copy(update={"model_version": rule.model.model_version})
    assert stages.tag_record(ours, CLEAR, rule, 2.0).claimed
    theirs = ours.model_copy(update={"model_version": "ampere-v1-000000000000"})
    out = stages.tag_record(theirs, CLEAR, rule, 2.0)
    assert not out.claimed
    assert out.unclaimed_reason == f"calibration is for model {rule.model.model_version}, not ampere-v1-000000000000"
    assert out.products[0]["product_id"] == "p1"  # the products are still shown


@pytest.mark.parametrize("engine", ["tensorrt", "onnx-int8"])
def test_an_engine_the_rule_was_not_checked_on_does_not_claim(engine: str) -> None:
    from streams.worker.agents.tag import uncalibrated_reason

    rule = claims.shipped_rule()
    reason = uncalibrated_reason(rule, engine)
    assert reason is not None and reason.startswith(f"calibration is for model {rule.model.model_version}")
    assert engine in reason
    ours = _rec(["visual"]).model_copy(update={"model_version": rule.model.model_version})
    assert not stages.tag_record(ours, CLEAR, rule, 2.0, uncalibrated=reason).claimed
    assert uncalibrated_reason(rule, "onnx") is None


def test_another_scoring_rule_does_not_hold_and_the_fixed_floor_holds_for_any_model() -> None:
    rule = claims.shipped_rule()
    assert "scored by" in (rule.mismatch(scoring="cosine-on-fused") or "")
    floor = ClaimRule.fixed(0.5)
    assert floor.mismatch("any-model", "tensorrt", "anything") is None
    assert stages.tag_record(_rec(["visual"]), CLEAR, floor, 2.0).claimed


def test_a_rule_file_that_names_no_model_is_refused() -> None:
    data = json.loads(claims.shipped_rule().to_json())
    del data["model"]
    with pytest.raises(ValueError, match="must name the encoder it was fitted for"):
        ClaimRule.from_json(json.dumps(data))
