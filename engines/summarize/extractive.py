"""Deterministic extractive summarizer: the fallback when the LLM is down, slow or wrong.

It drops greetings, fillers, calls to action and instruction-like lines, then keeps what reads as
product facts: product nouns with their modifiers, brand-like names, colors, materials, sizes,
numbers with units and price or promo mentions, and builds one sentence from them (zh or en).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from engines.summarize import lexicon as lx
from engines.summarize.base import SyncSummarizerMixin
from engines.summarize.schema import Attributes, FallbackClass, Summary, SummaryRequest
from engines.summarize.text import (
    content_units,
    detect_language,
    is_hostile,
    split_sentences,
    strip_hostile,
)

MIN_CONTENT_UNITS = 3  # fewer meaningful units than this (after fillers) = nothing to summarize

_ZH_NUM = "零一二两三四五六七八九十百千万"
_PRICE_ZH = re.compile(
    rf"[¥￥]\s?\d+(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:元|块钱|块|rmb)|[{_ZH_NUM}]+(?:块钱|块|元)"
    rf"|\d+(?:\.\d+)?折|打[{_ZH_NUM}\d]+折|包邮|买[{_ZH_NUM}\d]+送[{_ZH_NUM}\d]+|领券|优惠券|满\d+减\d+"
    rf"|秒杀|限时(?:优惠|折扣|特价)?|半价|(?:立减|直降|只要|到手价?|仅需)\s*\d+(?:\.\d+)?\s*(?:元|块)?|第二件半价",
    re.IGNORECASE,
)
_PRICE_EN = re.compile(
    r"[$€£¥]\s?\d+(?:[.,]\d+)?|\b\d+(?:\.\d+)?\s?(?:dollars|bucks|usd|euros?|pounds|yuan|rmb)\b"
    r"|\b\d{1,2}\s?%\s?off\b|\bbuy one,? get one(?: free)?\b|\bbogo\b|\bfree shipping\b|\bcoupon(?: code)?\b"
    r"|\bhalf price\b|\bflash sale\b|\blimited[- ]time (?:offer|deal|discount)\b|\bdiscount(?:ed)?\b",
    re.IGNORECASE,
)
_UNIT = (
    r"ml|l|g|kg|mg|oz|lbs?|cm|mm|inch(?:es)?|gb|tb|mah|w|v|hz|mp|k|毫升|升|克|千克|公斤|斤|厘米|毫米|米|英寸|寸|"
    r"瓦|伏|毫安时?|片|支|瓶|件|双|个|包|袋|盒|粒|色号"
)
_SPEC = re.compile(rf"\d+(?:\.\d+)?\s?(?:{_UNIT})(?![A-Za-z])", re.IGNORECASE)
_SIZE_EN = re.compile(
    r"\bsizes? (?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{1,2}(?:\.5)?)(?:\s?(?:to|-|through)\s?(?:xs|s|m|l|xl|xxl|xxxl|\d{1,2}))?\b"
    r"|\b(?:one|free|plus) size\b|\b(?:small|medium|large|extra large) size\b",
    re.IGNORECASE,
)
_SIZE_ZH = re.compile(r"(?:XXXL|XXL|XL|XS|S|M|L)码|\d{2}(?:\.5)?码|均码|大码|小码|[大中小]号|加大码|[SMLX]{1,4}到[SMLX]{1,4}")
_COLOR_ZH = re.compile(lx.COLOR_ZH_PATTERN)
_LATIN_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9&'\-]*[A-Za-z0-9]|[A-Za-z]")
_ZH_NAME_STOP = set("这那款个件条双只是就的了呢吧啊嗯我你他她们给有在和也都很超非常特别再还买要看试穿用说来去哦呀")


def empty_summary(request: SummaryRequest, prompt_version: str | None = None) -> Summary:
    """The masked summary of a window with nothing to say (no LLM call)."""
    return Summary(
        has_product=False,
        sentence="",
        language=request_language(request),
        source="empty",
        prompt_version=prompt_version,
    )


def is_near_empty(text: str) -> bool:
    """True when, without fillers, the transcript has fewer than ``MIN_CONTENT_UNITS`` units."""
    return content_units(_strip_fillers(text)) < MIN_CONTENT_UNITS


class ExtractiveSummarizer(SyncSummarizerMixin):
    """Rule-based summaries; deterministic, fast, no model."""

    name = "extractive"

    def summarize(self, batch: Sequence[SummaryRequest]) -> list[Summary]:
        """One summary per request, in order."""
        return [self.summarize_one(r) for r in batch]

    def summarize_one(
        self,
        request: SummaryRequest,
        *,
        fallback_reason: str | None = None,
        fallback_class: FallbackClass | None = None,
        prompt_version: str | None = None,
    ) -> Summary:
        """Summarize one window; ``fallback_reason`` (text) and ``fallback_class`` (bounded) mark a summary
        made for a failed LLM call."""
        if is_near_empty(request.text):
            empty = empty_summary(request, prompt_version)
            return empty.model_copy(update={"fallback_reason": fallback_reason, "fallback_class": fallback_class})
        lang = request_language(request)
        facts = _extract(_clean_sentences(request.text), lang)
        return Summary(
            has_product=facts["has_product"],
            product_name=facts["product_name"],
            brand=facts["brand"],
            category=facts["category"],
            attributes=Attributes(
                color=facts["color"], material=facts["material"], size=facts["size"], specs=facts["specs"]
            ),
            price_or_promo=facts["price"],
            sentence=_sentence(facts, lang) if facts["has_product"] else "",
            language=lang,
            source="extractive",
            prompt_version=prompt_version,
            fallback_reason=fallback_reason,
            fallback_class=fallback_class,
        )


def request_language(request: SummaryRequest) -> str:
    """zh or en: the request's hint when it names one of them, else a guess from the text."""
    if request.lang:
        code = request.lang.lower().split("-")[0].split("_")[0]
        if code in ("zh", "en"):
            return code
    return detect_language(request.text)


def _strip_fillers(text: str) -> str:
    out = text
    for word in sorted(lx.FILLERS_ZH, key=len, reverse=True):
        out = out.replace(word, " ")
    pattern = r"\b(?:" + "|".join(re.escape(w) for w in sorted(lx.FILLERS_EN, key=len, reverse=True)) + r")\b"
    return re.sub(pattern, " ", out, flags=re.IGNORECASE)


def _clean_sentences(text: str) -> list[str]:
    """Sentences without hostile lines; fillers removed; pure banter dropped."""
    kept = []
    for sentence in split_sentences(text):
        if is_hostile(sentence):
            sentence = strip_hostile(sentence)
        stripped = " ".join(_strip_fillers(sentence).split())
        if content_units(stripped) == 0:
            continue
        lower = stripped.lower()
        banter = any(b in stripped for b in lx.BANTER_ZH) or any(b in lower for b in lx.BANTER_EN)
        if banter and not _has_signal(stripped):
            continue
        kept.append(stripped)
    return kept


def _has_signal(sentence: str) -> bool:
    lower = sentence.lower()
    return bool(
        _PRICE_ZH.search(sentence) or _PRICE_EN.search(sentence) or _SPEC.search(sentence)
        or _COLOR_ZH.search(sentence) or _find_nouns_zh(sentence) or _find_nouns_en(lower)
    )


def _first_unique(matches: list[str], limit: int) -> list[str]:
    out: list[str] = []
    for m in matches:
        m = " ".join(m.split())
        if m and m.lower() not in (o.lower() for o in out):
            out.append(m)
        if len(out) == limit:
            break
    return out


def _heads_only(found: list[tuple[int, str]], text: str) -> list[tuple[int, str]]:
    """Drop nouns used as modifiers of the next noun ("coffee mug" -> "mug")."""
    starts = {pos for pos, _ in found}
    heads = []
    for pos, noun in found:
        end = pos + len(noun)
        rest = re.match(r"(?:e?s)?\s*", text[end:]) if text[end:end + 1].isascii() else None
        nxt = end + (rest.end() if rest else 0)
        if nxt not in starts:
            heads.append((pos, noun))
    return heads


def _find_nouns_en(lower: str) -> list[tuple[int, str]]:
    found = []
    for noun in sorted(lx.PRODUCT_NOUNS_EN, key=len, reverse=True):
        for m in re.finditer(rf"\b{re.escape(noun)}(?:e?s)?\b", lower):
            if not any(s <= m.start() < s + len(n) for s, n in found):
                found.append((m.start(), noun))
    return _heads_only(found, lower)


def _find_nouns_zh(sentence: str) -> list[tuple[int, str]]:
    found = []
    for noun in sorted(lx.PRODUCT_NOUNS_ZH, key=len, reverse=True):
        start = sentence.find(noun)
        while start != -1:
            if not any(s <= start < s + len(n) for s, n in found):
                found.append((start, noun))
            start = sentence.find(noun, start + 1)
    return _heads_only(found, sentence)


def _name_en(sentences: list[str]) -> tuple[str | None, str | None, str | None]:
    """(product name, brand, category) from the most mentioned product noun."""
    counts: Counter[str] = Counter()
    first_hit: dict[str, tuple[str, int]] = {}
    for s in sentences:
        for pos, noun in _find_nouns_en(s.lower()):
            counts[noun] += 1
            first_hit.setdefault(noun, (s, pos))
    if not counts:
        return None, _brand_en(sentences, None), None
    noun = max(counts, key=lambda n: (counts[n], -sentences.index(first_hit[n][0])))
    sentence, pos = first_hit[noun]
    words = sentence[:pos].split()
    modifiers: list[str] = []
    for w in reversed(words[-3:]):
        clean = w.strip(",.;:!?\"'()")
        if not clean or clean.lower() in lx.NOT_BRANDS_EN or clean.lower() in lx.FILLERS_EN:
            break
        if any(ch.isdigit() for ch in clean) and not _SPEC.fullmatch(clean):
            break
        modifiers.insert(0, clean)
        if w.endswith((",", ".", ";", ":")):
            break
    head_end = pos + len(noun)
    tail = re.match(r"(?:e?s)?\b", sentence.lower()[head_end:])
    head = sentence[pos: head_end + (tail.end() if tail else 0)]
    brand = _brand_en(sentences, modifiers)
    name = " ".join([*(m for m in modifiers if m != brand), head])
    return name, brand, lx.PRODUCT_NOUNS_EN[noun]


def _brand_en(sentences: list[str], modifiers: list[str] | None) -> str | None:
    if modifiers:
        for m in modifiers:
            if m[:1].isupper() and m.lower() not in lx.NOT_BRANDS_EN:
                return m
    counts: Counter[str] = Counter()
    for s in sentences:
        tokens = s.split()
        for i, tok in enumerate(tokens[1:], 1):  # skip the sentence-initial capital
            clean = tok.strip(",.;:!?\"'()")
            capitalized = len(clean) > 1 and clean[:1].isupper() and clean.lower() not in lx.NOT_BRANDS_EN
            if capitalized and not tokens[i - 1].endswith((".", "!", "?")):
                counts[clean] += 1
    return counts.most_common(1)[0][0] if counts else None


def _name_zh(sentences: list[str]) -> tuple[str | None, str | None, str | None]:
    counts: Counter[str] = Counter()
    first_hit: dict[str, tuple[str, int]] = {}
    for s in sentences:
        for pos, noun in _find_nouns_zh(s):
            counts[noun] += 1
            first_hit.setdefault(noun, (s, pos))
    brand = _brand_zh(sentences)
    if not counts:
        return None, brand, None
    noun = max(counts, key=lambda n: (counts[n], len(n), -sentences.index(first_hit[n][0])))
    sentence, pos = first_hit[noun]
    start = pos
    while start > 0 and pos - start < 6:
        ch = sentence[start - 1]
        if ch in _ZH_NAME_STOP or not ("\u4e00" <= ch <= "\u9fff"):
            break
        start -= 1
    name = sentence[start: pos + len(noun)]
    if brand and brand in name:
        name = name.replace(brand, "").strip() or name
    return name, brand, lx.PRODUCT_NOUNS_ZH[noun]


def _brand_zh(sentences: list[str]) -> str | None:
    counts: Counter[str] = Counter()
    for s in sentences:
        for m in re.finditer(r"([\u4e00-\u9fff]{2,4})(?:牌|品牌|旗舰店)", s):
            counts[m.group(1)] += 2
        for tok in _LATIN_TOKEN.findall(s):
            if len(tok) >= 2 and tok.lower() not in lx.NOT_BRANDS_LATIN and tok.lower() not in lx.FILLERS_EN:
                counts[tok] += 1
    return counts.most_common(1)[0][0] if counts else None


def _extract(sentences: list[str], lang: str) -> dict:
    text = " ".join(sentences)
    lower = text.lower()
    if lang == "zh":
        name, brand, category = _name_zh(sentences)
        prices = _first_unique(_PRICE_ZH.findall(text) + _PRICE_EN.findall(text), 2)
        colors = _first_unique(_COLOR_ZH.findall(text), 2)
        materials = _first_unique([m for m in lx.MATERIALS_ZH if m in text], 1)
        sizes = _first_unique(_SIZE_ZH.findall(text), 2)
    else:
        name, brand, category = _name_en(sentences)
        prices = _first_unique(_PRICE_EN.findall(text), 2)
        colors = _first_unique([c for c in lx.COLORS_EN if re.search(rf"\b{re.escape(c)}\b", lower)], 2)
        materials = _first_unique([m for m in lx.MATERIALS_EN if re.search(rf"\b{re.escape(m)}\b", lower)], 1)
        sizes = _first_unique(_SIZE_EN.findall(text), 2)
    sep = "、" if lang == "zh" else ", "
    price_spans = " ".join(prices)
    specs = [s for s in _first_unique(_SPEC.findall(text), 4) if s not in price_spans]
    signals = sum(bool(x) for x in (prices, colors, materials, sizes, specs))
    return {
        "has_product": bool(name) or signals >= 2,
        "product_name": name,
        "brand": brand if (name or signals) else None,
        "category": category,
        "color": sep.join(colors) or None,
        "material": materials[0] if materials else None,
        "size": sep.join(sizes) or None,
        "specs": specs,
        "price": ("; " if lang != "zh" else "，").join(prices) or None,
    }


def _sentence(facts: dict, lang: str) -> str:
    name = facts["product_name"] or ("商品" if lang == "zh" else "product")
    head = f"{facts['brand']} {name}" if facts["brand"] and facts["brand"] not in name else name
    details = [facts["color"], facts["material"], facts["size"], *facts["specs"]]
    details = [d for d in details if d and d.lower() not in head.lower()]
    if lang == "zh":
        out = head + ("，" + "，".join(details) if details else "")
        if facts["price"]:
            out += "，" + facts["price"]
        return out + "。"
    out = head[:1].upper() + head[1:]
    if details:
        out += ", " + ", ".join(details)
    if facts["price"]:
        out += "; " + facts["price"]
    return out + "."
