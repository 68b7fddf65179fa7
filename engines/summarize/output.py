"""What the LLM must return (a JSON schema for constrained decoding) and its validation into a Summary."""

from __future__ import annotations

import json
import re
from typing import Any

from engines.summarize.faithfulness import ground
from engines.summarize.schema import Attributes, Summary, SummarySource
from engines.summarize.text import is_hostile

MAX_FIELD_CHARS = 80
MAX_SENTENCE_CHARS = 240
MAX_SPECS = 6


def _text(max_len: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_len}


# Strings (empty = unknown) keep the grammar small and fast for a small model; order = generation order.
LLM_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "has_product": {"type": "boolean"},
        "product_name": _text(MAX_FIELD_CHARS),
        "brand": _text(MAX_FIELD_CHARS),
        "category": _text(MAX_FIELD_CHARS),
        "attributes": {
            "type": "object",
            "properties": {
                "color": _text(MAX_FIELD_CHARS),
                "material": _text(MAX_FIELD_CHARS),
                "size": _text(MAX_FIELD_CHARS),
                "specs": {"type": "array", "items": _text(MAX_FIELD_CHARS), "maxItems": MAX_SPECS},
            },
            "required": ["color", "material", "size", "specs"],
            "additionalProperties": False,
        },
        "price_or_promo": _text(MAX_FIELD_CHARS),
        "sentence": _text(MAX_SENTENCE_CHARS),
    },
    "required": [
        "has_product", "product_name", "brand", "category", "attributes", "price_or_promo", "sentence"
    ],
    "additionalProperties": False,
}

# The lean form leaves out ``sentence`` (it repeats the other fields, about a third of the tokens
# generated); ``parse_llm_output`` then composes the sentence from the fields in a fixed order.
LEAN_OUTPUT_SCHEMA: dict[str, Any] = {
    **LLM_OUTPUT_SCHEMA,
    "properties": {k: v for k, v in LLM_OUTPUT_SCHEMA["properties"].items() if k != "sentence"},
    "required": [k for k in LLM_OUTPUT_SCHEMA["required"] if k != "sentence"],
}


def output_schema(lean: bool) -> dict[str, Any]:
    """The JSON schema the LLM answers in: lean (no ``sentence``) or full."""
    return LEAN_OUTPUT_SCHEMA if lean else LLM_OUTPUT_SCHEMA


class InvalidOutput(ValueError):
    """The LLM reply is not a usable summary."""


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]{3,}")


def _json_object(raw: str) -> dict:
    text = _FENCE.sub("", raw.strip())
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        raise InvalidOutput("no JSON object in the reply")
    try:
        value = json.loads(text[start: end + 1])
    except json.JSONDecodeError as exc:
        raise InvalidOutput(f"invalid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise InvalidOutput("the reply is not a JSON object")
    return value


def _opt_str(value: Any, field: str, limit: int = MAX_FIELD_CHARS) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidOutput(f"{field} must be a string")
    value = " ".join(value.split())[:limit]
    if value.lower() in ("", "none", "null", "n/a", "unknown", "无", "未知"):
        return None
    if is_hostile(value):
        raise InvalidOutput(f"{field} reads as an instruction, not a product fact")
    return value


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidOutput("has_product must be a boolean")


def _grounded(name: str, transcript: str) -> bool:
    """The name shares at least one CJK character or 3+-letter word with the transcript."""
    low_t, low_n = transcript.lower(), name.lower()
    if set(_CJK.findall(low_n)) & set(_CJK.findall(low_t)):
        return True
    return bool(set(_WORD.findall(low_n)) & set(_WORD.findall(low_t)))


def parse_llm_output(
    raw: str,
    *,
    transcript: str,
    language: str,
    source: SummarySource,
    prompt_version: str,
    gate: bool = True,
) -> Summary:
    """Validate one LLM reply into a Summary or raise ``InvalidOutput`` (message says why); with
    ``gate``, blank what the transcript does not support (``engines.summarize.faithfulness``)."""
    data = _json_object(raw)
    attrs = data.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise InvalidOutput("attributes must be an object")
    specs_raw = attrs.get("specs") or []
    if isinstance(specs_raw, str):
        specs_raw = [s for s in re.split(r"[,;，；、]", specs_raw)]
    if not isinstance(specs_raw, list):
        raise InvalidOutput("attributes.specs must be a list")
    specs = [s for s in (_opt_str(x, "specs") for x in specs_raw[:MAX_SPECS]) if s]
    has_product = _bool(data.get("has_product"))
    name = _opt_str(data.get("product_name"), "product_name")
    sentence = _opt_str(data.get("sentence"), "sentence", MAX_SENTENCE_CHARS) or ""
    if has_product and name and not _grounded(name, transcript):
        raise InvalidOutput("product_name does not occur in the transcript")
    summary = Summary(
        has_product=has_product,
        product_name=name,
        brand=_opt_str(data.get("brand"), "brand"),
        category=_opt_str(data.get("category"), "category"),
        attributes=Attributes(
            color=_opt_str(attrs.get("color"), "color"),
            material=_opt_str(attrs.get("material"), "material"),
            size=_opt_str(attrs.get("size"), "size"),
            specs=specs,
        ),
        price_or_promo=_opt_str(data.get("price_or_promo"), "price_or_promo"),
        sentence=sentence,
        language=language,
        source=source,
        prompt_version=prompt_version,
    )
    if has_product and not (name or sentence or ("sentence" not in data and _has_facts(summary))):
        raise InvalidOutput("has_product is true but neither product_name nor sentence is given")
    if has_product and (not sentence or (language == "en" and _CJK.search(sentence))):
        summary.sentence = compose_sentence(summary)  # missing, or in the wrong language
    return ground(summary, transcript) if gate and has_product else summary


def _has_facts(summary: Summary) -> bool:
    a = summary.attributes
    return any((summary.brand, summary.category, summary.price_or_promo, a.color, a.material, a.size, a.specs))


def compose_sentence(summary: Summary) -> str:
    """A plain sentence from the fields in a fixed order: brand, name (else category), color, material,
    size, specs, price. The sentence of lean replies, and of replies that gave facts but no sentence."""
    zh = summary.language == "zh"
    name = summary.product_name or summary.category
    head = " ".join(x for x in (summary.brand, name) if x) or ("商品" if zh else "Product")
    a = summary.attributes
    details = [d for d in (a.color, a.material, a.size, *a.specs) if d and d.lower() not in head.lower()]
    sep = "，" if zh else ", "
    out = head + (sep + sep.join(details) if details else "")
    if summary.price_or_promo:
        out += sep + summary.price_or_promo
    return out + ("。" if zh else ".")
