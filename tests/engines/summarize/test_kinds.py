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
