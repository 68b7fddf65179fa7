import json
import re
from dataclasses import replace

import pytest

from engines.summarize.output import parse_llm_output
from engines.summarize.prompt import PROMPTS_DIR, load_prompt


def test_prompt_v1_has_zh_and_en_examples_that_pass_validation():
    prompt = load_prompt("v1")
    assert {ex["language"] for ex in prompt.examples} == {"zh", "en"}
    for ex in prompt.examples:
        s = parse_llm_output(json.dumps(ex["output"]), transcript=ex["transcript"], language=ex["language"],
                             source="llamacpp", prompt_version="v1")
        assert s.has_product == ex["output"]["has_product"]


def test_messages_put_the_transcript_last_and_delimited():
    prompt = load_prompt("v1")
    msgs = prompt.messages("a <b> c", "zh")
    assert msgs[0]["role"] == "system" and msgs[-1]["role"] == "user"
    assert len(msgs) == 2 + 2 * sum(e["language"] == "zh" for e in prompt.examples)
    assert "<b>" not in msgs[-1]["content"] and "Chinese" in msgs[-1]["content"]


def test_few_shot_examples_are_in_the_window_language():
    prompt = load_prompt("v1")
    english = prompt.messages("this kettle is great", "en")
    shots = [m["content"] for m in english[1:-1] if m["role"] == "assistant"]
    assert shots and not any(re.search(r"[\u4e00-\u9fff]", s) for s in shots)
    assert len(prompt.messages("x", "fr")) == 2 + 2 * len(prompt.examples)  # no example in it: all of them


def test_unknown_version_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="v1"):
        load_prompt("v999")


def test_every_prompt_file_declares_its_own_version():
    for path in PROMPTS_DIR.glob("*.json"):
        assert json.loads(path.read_text())["version"] == path.stem



def test_lean_prompt_asks_for_no_sentence_and_its_examples_validate():
    full, lean = load_prompt("v1"), load_prompt("v1-lean")
    assert lean.version == "v1-lean" and lean.is_lean and not full.is_lean
    assert "sentence" in full.system and "sentence" not in lean.system
    assert "product_name" in lean.system and "price_or_promo" in lean.system
    assert len(lean.examples) == len(full.examples)
    for ex in lean.examples:
        assert "sentence" not in ex["output"]
        s = parse_llm_output(json.dumps(ex["output"]), transcript=ex["transcript"], language=ex["language"],
                             source="llamacpp", prompt_version=lean.version)
        assert s.sentence if s.has_product else not s.sentence
    assert "sentence" not in lean.messages("x", "en")[2]["content"]  # the first example's answer


def test_a_prompt_whose_sentence_request_cannot_be_removed_has_no_lean_form():
    odd = replace(load_prompt("v1"), system="Reply with JSON. Also write one sentence.")
    with pytest.raises(ValueError, match="no lean form"):
        odd.lean()
