"""Small text helpers shared by the summarizers: language guess, sentences, hostile lines."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_WORDISH = re.compile(r"[\u3400-\u9fff]|[A-Za-z0-9]+")
# Sentence ends: CJK and Latin terminal punctuation, or a line break.
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…])\s*|(?<=[.])\s+|\n+")

# Lines that try to steer the model instead of describing a product. Generic phrasings only.
_HOSTILE = re.compile(
    r"ignore (all |any |the )?(previous|prior|above|earlier|preceding) (instructions|prompts?|rules)"
    r"|disregard (all |the )?(previous|prior|above|earlier) "
    r"|forget (all |your |the )?(previous |prior )?instructions"
    r"|(system|developer) prompt|you are now |act as |new instructions?:|jailbreak"
    r"|respond (only )?with|output (only )?the (word|text)|print (the )?(word|text)"
    r"|忽略(之前|以上|前面|上面|先前|所有)|无视(之前|以上|前面|上面|所有)"
    r"|(系统|开发者)提示|你现在是|扮演|新的指令|请(只)?(输出|回复|回答)",
    re.IGNORECASE,
)


def detect_language(text: str) -> str:
    """"zh" when CJK characters outweigh Latin words, else "en"."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    return "zh" if cjk and cjk >= latin else "en"


def content_units(text: str) -> int:
    """Rough count of meaningful units: CJK characters plus Latin/number words."""
    return len(_WORDISH.findall(text))


def split_sentences(text: str) -> list[str]:
    """Split a transcript at sentence edges, keeping the punctuation with its sentence."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def is_hostile(sentence: str) -> bool:
    """True for lines that read as instructions to the model (prompt injection)."""
    return bool(_HOSTILE.search(sentence))


def strip_hostile(sentence: str, payload_words: int = 8) -> str:
    """``sentence`` without its instruction-like spans: each trigger plus its payload.

    The payload is the rest of the CJK run after a Chinese trigger, or the next ``payload_words`` words
    after a Latin one. Unpunctuated ASR often joins a hostile line with product speech in one
    "sentence"; this keeps the product speech around it instead of dropping it all.
    """
    out = sentence
    while (m := _HOSTILE.search(out)) is not None:
        rest = out[m.end():]
        if _CJK.match(rest[:1]) or (m.group(0) and _CJK.search(m.group(0)[-1])):
            tail = re.match(r"\S*", rest)
        else:
            tail = re.match(rf"(?:\s*\S+){{0,{payload_words}}}", rest)
        end = m.end() + (tail.end() if tail else 0)
        out = (out[: m.start()] + " " + out[end:]).strip()
    return out


def estimate_tokens(text: str) -> int:
    """Conservative token estimate without a tokenizer: 1 per CJK char, 1 per 3 other chars."""
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return cjk + (other + 2) // 3
