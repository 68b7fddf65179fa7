"""Spoken attribute values: which of a catalog product's attribute values a window's speech says.

Near-duplicate products (a 120 GB and a 240 GB PC, a cactus and its XL size) share photos and
almost all of their text, so both embeddings score them alike; what tells them apart is the
attribute value the seller says. Text is reduced to *terms*: lower-case words, number words as
digits ("two hundred forty" -> "240"), a number glued to its unit ("240 gig" -> "240gb"), size words
as their letter ("extra large" -> "xl"); Chinese, Japanese and Korean text as character bigrams.
A value is *said* when all its terms occur in the window's terms. The scoring rule
(``encoders.scoring.with_attributes``) adds a small bonus per value said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
"""English number words 0-19 (index = value)."""
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
"""English tens words (index = value // 10; 0 and 1 have none)."""
_ONES = {w: i for i, w in enumerate(ONES)} | {w: 10 * i for i, w in enumerate(TENS) if w}
_SCALES = {"hundred": 100, "thousand": 1000}
_UNITS = {
    "tb": "tb", "terabyte": "tb", "terabytes": "tb", "gb": "gb", "gig": "gb", "gigs": "gb", "gigabyte": "gb",
    "gigabytes": "gb", "mb": "mb", "megabyte": "mb", "megabytes": "mb", "inch": "in", "inches": "in", "in": "in",
    "cm": "cm", "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm", "mm": "mm",
    "ml": "ml", "milliliter": "ml", "milliliters": "ml", "millilitre": "ml", "millilitres": "ml", "l": "l",
    "liter": "l", "liters": "l", "litre": "l", "litres": "l", "kg": "kg", "kilo": "kg", "kilos": "kg",
    "kilogram": "kg", "kilograms": "kg", "g": "g", "gram": "g", "grams": "g", "lb": "lb", "lbs": "lb",
    "pound": "lb", "pounds": "lb", "oz": "oz", "ounce": "oz", "ounces": "oz", "w": "w", "watt": "w", "watts": "w",
    "mah": "mah", "hz": "hz", "ghz": "ghz", "mp": "mp", "megapixel": "mp", "megapixels": "mp", "k": "k",
}
# Size words and letters -> one term each ("sz_xl"); bare s / m / l only right after "size" (else they
# are too often something else: "it's", "5 l").
_SIZES = (
    (r"extra[ -]extra[ -]large|xxl|2xl", "xxl"), (r"extra[ -]large|x[ -]large|xl", "xl"),
    (r"extra[ -]small|x[ -]small|xs", "xs"), (r"small|size s", "s"), (r"medium|size m", "m"), (r"large|size l", "l"),
)
_STOP = frozenset({"a", "an", "and", "or", "to", "the", "of", "with", "in", "size", "sizes", "color", "colour"})
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
_WORD = re.compile(r"sz_[a-z]+|\d+(?:\.\d+)?|[a-z]+")


def _numbers(words: list[str]) -> list[str]:
    """Runs of number words as one digit string ("two hundred forty" -> "240")."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] not in _ONES and words[i] not in _SCALES:
            out.append(words[i])
            i += 1
            continue
        total = current = 0
        j = i
        while j < len(words):
            w = words[j]
            if w in _ONES:
                current += _ONES[w]
            elif w == "hundred":
                current = max(current, 1) * 100
            elif w == "thousand":
                total += max(current, 1) * 1000
                current = 0
            elif w == "and" and j + 1 < len(words) and words[j + 1] in _ONES and j > i:
                pass
            else:
                break
            j += 1
        out.append(str(total + current))
        i = j
    return out


def _latin_terms(text: str) -> list[str]:
    text = text.lower()
    for pattern, letter in _SIZES:
        text = re.sub(rf"\b(?:{pattern})\b", f" sz_{letter} ", text)
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text).replace('"', " inch ")
    words = _numbers(_WORD.findall(text))
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w[:1].isdigit() and i + 1 < len(words) and words[i + 1] in _UNITS:
            out.append(w + _UNITS[words[i + 1]])
            i += 2
            continue
        out.append(w)
        i += 1
    return out


def _cjk_terms(text: str) -> list[str]:
    out: list[str] = []
    for run in _CJK.findall(text):
        out += [run] if len(run) == 1 else [run[k:k + 2] for k in range(len(run) - 1)]
    return out


def terms(text: str) -> list[str]:
    """The terms of a text, in order (duplicates kept)."""
    return _latin_terms(_CJK.sub(" ", text)) + _cjk_terms(text)


@lru_cache(maxsize=65536)
def value_terms(value: str) -> frozenset[str]:
    """The terms an attribute value needs to be said (stop words such as "size" or "and" dropped; a
    value that is one size letter, "S" / "M" / "L", is that size)."""
    bare = value.strip().lower()
    if bare in {"s", "m", "l"}:
        return frozenset({f"sz_{bare}"})
    return frozenset(t for t in terms(value) if t not in _STOP)


def said(values: Iterable[str], spoken: set[str] | frozenset[str]) -> int:
    """How many of ``values`` have all their terms in ``spoken`` (values without terms never count)."""
    return sum(1 for v in values if (need := value_terms(v)) and need <= spoken)


def attribute_values(attributes: Mapping[str, str] | None) -> list[str]:
    """A product's attribute values worth matching (non-empty strings)."""
    return [v.strip() for v in (attributes or {}).values() if isinstance(v, str) and v.strip()]


def said_matrix(spoken: Sequence[set[str] | frozenset[str] | None], values: Sequence[Sequence[str]]) -> list[list[int]]:
    """``[queries][products]`` counts of each product's values said in each query (None: no speech)."""
    return [[said(vs, s) if s else 0 for vs in values] for s in spoken]
