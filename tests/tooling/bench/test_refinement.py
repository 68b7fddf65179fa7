"""Revision 2's text candidates: the fields query is built from the summary's facts only."""

from __future__ import annotations

from engines.summarize.schema import Attributes, Summary
from tooling.bench.refinement import fields_text


def test_fields_text_joins_the_facts_not_the_sentence() -> None:
    s = Summary(has_product=True, product_name="Road Bike", brand="Acme", category="bikes",
                attributes=Attributes(color="red", size="large", specs=["21 speed"]), sentence="A red bike.")
    assert fields_text(s) == "Road Bike Acme bikes red large 21 speed"
    assert fields_text(Summary(has_product=False)) == ""
