"""Jump-forward key forcing: the forced text is exactly what the schema's answer has next."""

from __future__ import annotations

import json
import random

import pytest

from engines.summarize.jump_forward import KeyForcer, key_tree
from engines.summarize.output import LEAN_OUTPUT_SCHEMA, LLM_OUTPUT_SCHEMA

ANSWER = {
    "has_product": True,
    "product_name": 'Orla "linen", shirt: {relaxed}',  # quotes, commas, colons and braces inside strings
    "brand": "Orla",
    "category": "shirts",
    "attributes": {"color": "white, sand", "material": "linen", "size": "S-XL", "specs": ["relaxed fit", "a, b"]},
    "price_or_promo": "39 dollars",
}


def replay(schema: dict, answer: dict, seed: int) -> tuple[str, int]:
    """Generate ``answer`` in random chunks, taking every forced text the forcer offers."""
    text = json.dumps(answer, ensure_ascii=False)
    rng = random.Random(seed)
    forcer = KeyForcer(key_tree(schema))
    pos, forced = 0, 0
    due = ""
    while pos < len(text):
        if due:
            assert text[pos:pos + len(due)] == due, (text[:pos], due)
            pos += len(due)
            forced += len(due)
            due = forcer.feed(due)
            continue
        step = rng.randint(1, 3)
        due = forcer.feed(text[pos:pos + step])
        pos += step
    return text, forced


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("schema", [LEAN_OUTPUT_SCHEMA, LLM_OUTPUT_SCHEMA], ids=["lean", "full"])
def test_forced_text_is_what_the_answer_has_next(schema: dict, seed: int) -> None:
    answer = ANSWER | ({"sentence": "Orla linen shirt."} if "sentence" in schema["properties"] else {})
    _, forced = replay(schema, answer, seed)
    keys = [*answer, *answer["attributes"]]
    assert 0 < forced <= sum(len(k) + 4 for k in keys)  # only key text is ever forced


def test_every_key_is_forced_when_values_end_on_token_boundaries() -> None:
    text = json.dumps(ANSWER, ensure_ascii=False)
    forcer = KeyForcer(key_tree(LEAN_OUTPUT_SCHEMA))
    forced = []
    due = forcer.feed("{")
    pos = 1
    while pos < len(text):
        if due:
            forced.append(due)
            pos += len(due)
            due = forcer.feed(due)
            continue
        due = forcer.feed(text[pos])
        pos += 1
    assert forced == ['"has_product":', ' "product_name":', ' "brand":', ' "category":', ' "attributes":', '"color":',
                      ' "material":', ' "size":', ' "specs":', ' "price_or_promo":']


def test_nothing_is_forced_inside_strings_arrays_or_after_the_last_key() -> None:
    forcer = KeyForcer(key_tree(LEAN_OUTPUT_SCHEMA))
    assert forcer.feed("{") == '"has_product":'
    assert forcer.feed('"has_product": true, "product_name": "a, b') == ""  # a comma inside a string
    assert forcer.feed('", "brand": "", "category": "", "attributes": {"color": "", "material": "", "size": "", '
                       '"specs": ["x", "y"') == ""  # a comma inside an array
    assert forcer.feed("]") == ""
    assert forcer.feed("}, ") == '"price_or_promo":'  # the space after the comma is already there
    assert forcer.feed('"price_or_promo": ""') == ""  # the last key: nothing more to force


def test_a_key_the_model_starts_itself_is_completed() -> None:
    forcer = KeyForcer(key_tree(LEAN_OUTPUT_SCHEMA))
    forcer.feed("{")
    assert forcer.feed('"has_product": false, "pro') == 'duct_name":'
