"""Kind validators: a colour is a colour word, a size a size, a price a price, a material a material."""

import pytest

from engines.summarize.kinds import of_kind


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("color", "black"), ("color", "Navy Blue"), ("color", "rose gold"), ("color", "dark slate gray"),
        ("color", "white and pink"), ("color", "黑色白色灰色"), ("color", "藏青和卡其"), ("color", "墨绿色"),
        ("size", "s m l xl xxl"), ("size", "28 cm"), ("size", "size 40 to 46"), ("size", "thirteen inch"),
        ("size", "eu 42"), ("size", "46"), ("size", "30x40 cm"), ("size", "large"), ("size", "二十八厘米"), ("size", "S到XXL"),
        ("price", "$30"), ("price", "nine hundred thirty one dollars"), ("price", "ten percent off"),
        ("price", "今天九十九元包邮"), ("price", "买一送一"),
        ("material", "leather"), ("material", "brown bonded leather"), ("material", "100% cotton"),
        ("material", "polycotton"), ("material", "stainless steel"), ("material", "TPE材质"), ("material", "纯棉"),
    ],
)
def test_values_of_the_right_kind_pass(kind: str, value: str) -> None:
    assert of_kind(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("color", "four"), ("color", "black bucket"), ("color", "green hanging"), ("color", "四"),
        ("color", "1 terabyte"), ("material", "s m l xl xxl"), ("material", "hard drive"), ("material", "large"),
        ("size", "thirty dollars"), ("size", "four"), ("size", "2700"), ("size", "black"), ("size", "四"),
        ("price", "black"), ("price", "large"), ("price", "leather"),
    ],
)
def test_values_of_another_kind_fail(kind: str, value: str) -> None:
    assert not of_kind(kind, value)


@pytest.mark.parametrize("value", ["$30", "99", "#5", "it", "us", "free", "size", "eu", "2 TB", "5000 mAh", "65 W", "12 MP",
                                   "thirty dollars", "120"])
def test_what_passed_as_a_size_before_is_no_size(value: str) -> None:
    """Round 4: a price, a large bare number, a number sign, a region or "free" alone, and capacity or
    power (a spec) all passed as a size."""
    assert not of_kind("size", value)


@pytest.mark.parametrize("value", ["free size", "one size", "one size fits all", "us 9", "it 42", "eu 38-40", "500 ml",
                                   "2 kg", "xl", "42", "150 cm", "size 10", "free size 均码"])
def test_sizes_stay_sizes(value: str) -> None:
    assert of_kind("size", value)


@pytest.mark.parametrize("value", ["only", "price", "gift", "code", "special offer", "limited", "deal", "价", "送"])
def test_a_promo_word_alone_is_no_price(value: str) -> None:
    assert not of_kind("price", value)


@pytest.mark.parametrize("value", ["only 9.99", "20% off", "save 10", "free shipping", "half price", "code SAVE20 for 20 percent off",
                                   "打八折", "第二件半价", "包邮"])
def test_prices_and_promos_stay_prices(value: str) -> None:
    assert of_kind("price", value)
