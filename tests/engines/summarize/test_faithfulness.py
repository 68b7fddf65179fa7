"""Faithfulness: unsupported and foreign values are measured and blanked; the sentence is re-rendered."""

from engines.summarize.faithfulness import foreign, ground, measure, supported, values
from engines.summarize.output import parse_llm_output
from engines.summarize.schema import Attributes, Summary

EN = "okay guys this turquoise paint is water based and dries in one hour, only nine ninety nine today"


def _invented() -> Summary:
    return Summary(has_product=True, product_name="turquoise paint", brand="Turtle", category="服装",
                   attributes=Attributes(color="black", material="water based", specs=["dries in one hour", "白色、黑色"]),
                   price_or_promo="nine ninety nine", sentence="Turtle black turquoise paint 服装.", language="en",
                   source="llamacpp")


def test_support_and_script() -> None:
    assert supported("water based", EN) and not supported("Turtle", EN)
    assert foreign("白色", "en") and not foreign("white", "en")
    assert foreign("Nike", "zh") and not foreign("耐克 Nike", "zh")


def test_measure_counts_invented_and_foreign_values() -> None:
    f = measure([_invented()], [EN])
    # name, brand, category, colour, material, 2 specs, price = 8 values; Turtle, 服装, black, 白色、黑色 unsupported
    assert f.values == 8 and f.unsupported == 4 / 8 and f.foreign == 2 / 8 and f.foreign_sentences == 1.0


def test_ground_blanks_unsupported_fields_and_renders_a_fixed_order_sentence() -> None:
    g = ground(_invented(), EN)
    assert g.brand is None and g.category is None and g.attributes.color is None
    assert g.attributes.specs == ["dries in one hour"] and g.attributes.material == "water based"
    # a bare number is no price (no currency, no promo): blanked as of the wrong kind
    assert g.price_or_promo is None and g.rejected_fields == ["price_or_promo"]
    assert g.sentence == "turquoise paint, water based, dries in one hour."
    assert measure([g], [EN]).unsupported == 0.0


def test_latin_brand_said_in_a_chinese_window_is_kept() -> None:
    zh = "宝子们 这个 Nike 的跑鞋 白色 四十二码"
    s = Summary(has_product=True, product_name="跑鞋", brand="Nike", attributes=Attributes(color="白色", size="42码"),
                language="zh", source="llamacpp")
    g = ground(s, zh)
    assert g.brand == "Nike" and g.attributes.color == "白色"


def test_nothing_left_means_no_product() -> None:
    s = Summary(has_product=True, brand="Turtle", category="服装", sentence="x", language="en", source="llamacpp")
    g = ground(s, EN)
    assert not g.has_product and g.is_empty and values(g) == {}


def test_llm_replies_are_grounded_at_parse_time() -> None:
    reply = ('{"has_product": true, "product_name": "turquoise paint", "brand": "Turtle", "category": "服装", '
             '"attributes": {"color": "black", "material": "", "size": "", "specs": []}, "price_or_promo": "", '
             '"sentence": "Turtle turquoise paint in black."}')
    s = parse_llm_output(reply, transcript=EN, language="en", source="llamacpp", prompt_version="v1")
    assert s.brand is None and s.category is None and s.attributes.color is None
    assert s.sentence == "turquoise paint."


def test_values_of_the_wrong_kind_are_blanked_and_listed() -> None:
    said = "this bucket in black, four sizes s m l xl xxl, thirty dollars, leather handle"
    s = Summary(has_product=True, product_name="bucket", attributes=Attributes(
        color="black bucket", material="s m l xl xxl", size="thirty dollars", specs=["leather handle"]),
        price_or_promo="thirty dollars")
    out = ground(s, said)
    assert (out.attributes.color, out.attributes.material, out.attributes.size) == (None, None, None)
    assert out.price_or_promo == "thirty dollars" and out.attributes.specs == ["leather handle"]
    assert out.rejected_fields == ["attributes.color", "attributes.material", "attributes.size"]
    right = ground(s.model_copy(update={"attributes": Attributes(color="black", material="leather", size="xl")}), said)
    assert (right.attributes.color, right.attributes.material, right.attributes.size) == ("black", "leather", "xl")
    assert right.rejected_fields == []
