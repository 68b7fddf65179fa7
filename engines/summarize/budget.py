"""Cut a long transcript to a token budget at sentence edges."""

from __future__ import annotations

from collections.abc import Callable

from engines.summarize.text import estimate_tokens, split_sentences

TokenCounter = Callable[[str], int]


def cut_to_budget(text: str, budget: int, count_tokens: TokenCounter = estimate_tokens) -> str:
    """Keep whole sentences, in order, while they fit ``budget`` tokens.

    A first sentence that alone is over budget is cut inside (by characters, shrinking until it
    fits) so that a window never becomes empty just because its speaker never paused.
    """
    if budget <= 0:
        return ""
    if count_tokens(text) <= budget:
        return text
    kept: list[str] = []
    used = 0
    for sentence in split_sentences(text):
        cost = count_tokens(sentence) + (1 if kept else 0)
        if used + cost > budget:
            break
        kept.append(sentence)
        used += cost
    if kept:
        return " ".join(kept)
    first = split_sentences(text)[0]
    return _hard_cut(first, budget, count_tokens)


def _hard_cut(sentence: str, budget: int, count_tokens: TokenCounter) -> str:
    lo, hi = 0, len(sentence)
    while lo < hi:  # largest prefix that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(sentence[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return sentence[:lo].rstrip()
