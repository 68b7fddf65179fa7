"""Spoken attribute values: terms, values and what counts as said."""

from __future__ import annotations

import numpy as np
import pytest

from encoders.attributes import attribute_values, said, said_matrix, terms, value_terms
from encoders.scoring import with_attributes


@pytest.mark.parametrize(
    ("speech", "expected"),
    [
        ("two hundred forty gig ssd", {"240gb", "ssd"}),
        ("one hundred and twenty gb", {"120gb"}),
        ("eight thousand seven hundred", {"8700"}),
        ("13 inch screen and a 32\" monitor", {"13in", "32in"}),
        ("4GB of ram, 1 terabytes", {"4gb", "1tb"}),
        ("our extra large one, size M, it's XL", {"sz_xl", "sz_m"}),
        ("500 ml bottle", {"500ml"}),
        ("颜色有墨绿和奶白", {"墨绿", "奶白"}),
    ],
)
def test_terms(speech: str, expected: set[str]) -> None:
    assert expected <= set(terms(speech))


def test_a_bare_s_is_not_a_size() -> None:
    assert "sz_s" not in terms("it's here, what's new")
    assert value_terms("S") == {"sz_s"} and value_terms("small") == {"sz_s"}


def test_values_count_when_every_term_is_said() -> None:
    spoken = set(terms("the blue and pink one, sizes forty to forty six, 240 gig"))
    assert said(["blue and pink", "size 40 to 46", "240GB"], spoken) == 3
    assert said(["blue and green"], spoken) == 0  # one term missing
    assert said(["", "and"], spoken) == 0  # values without terms never count
    assert said(["墨绿色"], set(terms("这款是墨绿色的"))) == 1
    assert said(["墨绿色"], set(terms("这款是绿色的"))) == 0


def test_attribute_values_and_matrix() -> None:
    assert attribute_values({"color": " red ", "size": "", "n": 3}) == ["red"]  # type: ignore[dict-item]
    m = said_matrix([set(terms("red xl")), None], [["red"], ["xl", "red"], []])
    assert m == [[1, 2, 0], [0, 0, 0]]


def test_with_attributes_reranks_only_the_nearest_candidates() -> None:
    scores = np.array([[0.9, 0.89, 0.1, 0.5]])
    said_ = np.array([[0, 1, 3, 0]])
    out = with_attributes(scores, said_, depth=2, bonus=0.05)
    assert out[0].tolist() == pytest.approx([0.9, 0.94, 0.1, 0.5])  # index 2 is beyond the depth
    assert with_attributes(scores, np.zeros_like(said_)).tolist() == scores.tolist()


def test_spoken_numbers_read_back_as_digits() -> None:
    """The simulator's number words (which share the word lists) parse back to the number."""
    from tooling.sim.speech import number_words

    for n in [*range(130), 240, 999, 1000, 2700, 8700, 12345, 999_999]:
        assert terms(number_words(n)) == [str(n)], (n, number_words(n))


def test_any_text_gives_terms_and_a_bounded_term_list() -> None:
    """Worst inputs of the tag path: lone surrogates, control characters, huge CJK or digit runs."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from streams.worker.stages import MAX_SPOKEN_TERMS, spoken_terms

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=2000))
    def check(text: str) -> None:
        assert all(isinstance(t, str) and t for t in terms(text))
        said(["240GB", text[:50]], set(terms(text)))

    check()
    huge = "".join(chr(0x4E00 + i) for i in range(20_000)) + " ".join(map(str, range(50_000))) + " \ud83d two hundred forty gig"
    out = spoken_terms(huge)
    assert len(out) == MAX_SPOKEN_TERMS and out == sorted(set(out))
