"""Is a summary faithful to its transcript? Measure it, and keep only what the speech supports.

A value (brand, category, colour, material, size, a spec, price) is *supported* when at least half
of its word tokens (CJK: characters) occur in the transcript; it is *foreign* when it is written in
another script than the window's language (Chinese characters in an English window, or a Latin-only
word in a Chinese one); it is of the *wrong kind* when a colour is no colour word, a size no size, a
price no price, a material no material (``engines.summarize.kinds``). ``ground`` blanks values
that are unsupported, foreign or of the wrong kind (these listed in ``rejected_fields``) and renders the
sentence for the text branch from the kept fields in one fixed order, so an invented colour or a
copied few-shot category never reaches the embedding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engines.summarize.kinds import of_kind
from engines.summarize.quality import tokens
from engines.summarize.schema import Attributes, Summary

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
SUPPORT = 0.5


def values(summary: Summary) -> dict[str, str]:
    """``field path -> value`` of every filled fact field (the sentence is not a fact field)."""
    a = summary.attributes
    out = {k: v for k, v in (("product_name", summary.product_name), ("brand", summary.brand),
                             ("category", summary.category), ("attributes.color", a.color),
                             ("attributes.material", a.material), ("attributes.size", a.size),
                             ("price_or_promo", summary.price_or_promo)) if v and v.strip()}
    out |= {f"attributes.specs[{i}]": s for i, s in enumerate(a.specs) if s and s.strip()}
    return out


def supported(value: str, transcript: str, share: float = SUPPORT) -> bool:
    """At least ``share`` of the value's tokens occur in the transcript (no tokens: supported)."""
    want = tokens(value)
    return not want or len(want & tokens(transcript)) / len(want) >= share


def foreign(value: str, language: str) -> bool:
    """The value is written in another script than ``language`` (en | zh) calls for."""
    if language == "zh":
        return bool(_LATIN.search(value)) and not _CJK.search(value)
    return bool(_CJK.search(value))


def ground(summary: Summary, transcript: str, kinds: bool = True) -> Summary:
    """The summary with unsupported or foreign fact fields blanked and its sentence re-rendered from
    the kept fields in fixed order. A foreign value stays only when the speech says it word for word
    (a Latin brand in a Chinese window); the product name, grounded at parse time, is only checked
    for its script, since the model may fix recognition errors in it. ``kinds=False``: without the
    kind checks (the gate as it was, for measurements)."""
    from engines.summarize.output import compose_sentence

    lang = summary.language
    rejected: list[str] = []

    def keep(v: str | None, field: str = "", kind: str = "") -> str | None:
        if not v or not supported(v, transcript):
            return None
        if foreign(v, lang) and not supported(v, transcript, 1.0):
            return None
        if kinds and kind and not of_kind(kind, v):
            rejected.append(field)
            return None
        return v

    a = summary.attributes
    name = summary.product_name
    out = summary.model_copy(update={
        "product_name": name if name and (not foreign(name, lang) or supported(name, transcript, 1.0)) else None,
        "brand": keep(summary.brand),
        "category": keep(summary.category),
        "price_or_promo": keep(summary.price_or_promo, "price_or_promo", "price"),
        "attributes": Attributes(color=keep(a.color, "attributes.color", "color"),
                                 material=keep(a.material, "attributes.material", "material"),
                                 size=keep(a.size, "attributes.size", "size"),
                                 specs=[s for s in a.specs if keep(s)]),
    })
    out = out.model_copy(update={"rejected_fields": [*summary.rejected_fields, *rejected]})
    if not out.has_product:
        return out
    if not values(out):
        return out.model_copy(update={"has_product": False, "sentence": ""})
    return out.model_copy(update={"sentence": compose_sentence(out)})


@dataclass(frozen=True)
class Faithfulness:
    """Shares over the filled fact fields of a set of summaries."""

    summaries: int
    values: int
    unsupported: float
    foreign: float
    foreign_sentences: float
    """Share of non-empty sentences written (partly) in another script than the window's language."""


def measure(summaries: Sequence[Summary], transcripts: Sequence[str]) -> Faithfulness:
    """Unsupported and foreign shares of the summaries' values against their transcripts."""
    n = unsup = forn = 0
    sentences = foreign_sent = 0
    for s, t in zip(summaries, transcripts, strict=True):
        for v in values(s).values():
            n += 1
            unsup += not supported(v, t)
            forn += foreign(v, s.language)
        if s.sentence.strip():
            sentences += 1
            foreign_sent += foreign(s.sentence, s.language)
    return Faithfulness(len(summaries), n, unsup / n if n else 0.0, forn / n if n else 0.0,
                        foreign_sent / sentences if sentences else 0.0)
