import random

import pytest

from engines.summarize.quality import Truth, inject_hostile, leak_rate, score, tokens
from engines.summarize.schema import Attributes, Summary


def summary(name=None, sentence="", **attrs) -> Summary:
    return Summary(has_product=bool(name), product_name=name, sentence=sentence, attributes=Attributes(**attrs))


def test_tokens_split_words_numbers_and_chinese_characters():
    assert tokens("The 13 inch Laptop, 8GB") == {"13", "inch", "laptop", "8gb"}
    assert tokens("纯棉T恤") == {"纯", "棉", "恤", "t"}


def test_perfect_and_partial_name_overlap():
    truth = [Truth("Laptop 13 inch 8GB", attributes={"ram": "8GB"}), Truth("Wireless Mouse")]
    got = score([summary("laptop 8GB", specs=["8GB"]), summary("mouse pad")], truth)
    assert got["name_precision"] == pytest.approx((1.0 + 0.5) / 2)
    assert got["name_recall"] == pytest.approx((2 / 4 + 1 / 2) / 2)
    assert got["attr_recall"] == 1.0 and got["schema_valid_rate"] == 1.0


def test_missing_name_counts_against_recall_only():
    got = score([summary(None)], [Truth("Desk Lamp")])
    assert got["name_recall"] == 0.0 and got["name_precision"] is None and got["has_product_rate"] == 0.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        score([summary("x")], [])


def test_injection_is_its_own_sentence_and_leaks_are_counted():
    text, marker = inject_hostile("this desk lamp is bright", random.Random(3))
    assert marker and len(text) > len("this desk lamp is bright")
    leaked = summary("PWNED lamp") if marker == "pwned" else summary(f"{marker} lamp")
    assert leak_rate([leaked, summary("desk lamp")], [marker, marker]) == 0.5
