"""Speech-recognizer errors: dropped and misheard words, character slips, fillers, timed chunks."""

from __future__ import annotations

import random
from dataclasses import dataclass

from encoders.dataset import AsrChunk

# Function words recognizers swap both ways.
_SYMMETRIC = [
    ("there", "their"), ("for", "four"), ("to", "two"), ("new", "knew"), ("buy", "by"), ("right", "write"),
    ("wear", "where"), ("one", "won"), ("eight", "ate"), ("sale", "sail"), ("great", "grate"), ("see", "sea"),
    ("you", "u"), ("are", "our"), ("its", "it's"), ("this", "these"), ("the", "a"), ("and", "in"),
]
# Product words misheard as near-homophones (one way: everyday words are not heard as product words).
_MISHEARD = [
    ("size", "sighs"), ("black", "block"), ("white", "wide"), ("red", "read"), ("blue", "blew"),
    ("chair", "share"), ("camera", "camra"), ("inch", "inches"), ("shoe", "shoo"), ("ball", "bowl"),
    ("light", "lite"), ("gigs", "gig"), ("plant", "plan"), ("sofa", "so far"), ("green", "grin"),
    ("table", "cable"), ("cable", "table"), ("mouse", "mouth"), ("lens", "lends"), ("bike", "bite"),
    ("pink", "think"), ("purple", "people"), ("orange", "arrange"), ("large", "larch"), ("mini", "many"),
]
CONFUSIONS: dict[str, list[str]] = {}
for _a, _b in _SYMMETRIC:
    CONFUSIONS.setdefault(_a, []).append(_b)
    CONFUSIONS.setdefault(_b, []).append(_a)
for _a, _b in _MISHEARD:
    CONFUSIONS.setdefault(_a, []).append(_b)

FILLERS = ["uh", "um", "like", "you know", "so", "yeah", "okay", "right", "i mean"]


@dataclass(frozen=True)
class NoiseLevel:
    """Per-word error rates of one recognizer/setting."""

    drop: float
    confuse: float
    char_slip: float
    filler: float
    repeat: float


LIVE_NOISE = NoiseLevel(drop=0.08, confuse=0.35, char_slip=0.06, filler=0.08, repeat=0.03)
VIDEO_NOISE = NoiseLevel(drop=0.02, confuse=0.1, char_slip=0.015, filler=0.01, repeat=0.0)


def char_slip(word: str, rng: random.Random) -> str:
    """Drop, double or swap a character (a partly misheard word)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.4:
        return word[:i] + word[i + 1 :]
    if op < 0.7:
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def corrupt(text: str, rng: random.Random, level: NoiseLevel) -> list[str]:
    """The words a recognizer writes for clean spoken ``text``."""
    out: list[str] = []
    for word in text.split():
        if rng.random() < level.filler:
            out.extend(rng.choice(FILLERS).split())
        if rng.random() < level.drop:
            continue
        if word in CONFUSIONS and rng.random() < level.confuse:
            word = rng.choice(CONFUSIONS[word])
        elif rng.random() < level.char_slip:
            word = char_slip(word, rng)
        out.extend(word.split())
        if rng.random() < level.repeat:
            out.append(word)
    return out


def chunk_words(
    lines: list[list[str]], start_ms: int, rng: random.Random, lang: str = "en"
) -> tuple[list[AsrChunk], int]:
    """Cut recognized words into chunks of a few seconds; returns the chunks and the end time.

    Each line is spoken at 2.4–3.6 words per second with a pause after it; a chunk closes after
    6–14 words or at a long pause, as streaming recognizers emit them.
    """
    chunks: list[AsrChunk] = []
    t = start_ms
    buf: list[str] = []
    buf_start = t
    for words in lines:
        ms_per_word = rng.uniform(280, 420)
        for w in words:
            if not buf:
                buf_start = t
            buf.append(w)
            t += int(ms_per_word)
            if len(buf) >= rng.randint(6, 14):
                chunks.append(AsrChunk(buf_start, t, " ".join(buf), lang))
                buf = []
        pause = rng.randint(150, 1200)
        if buf and pause > 700:
            chunks.append(AsrChunk(buf_start, t, " ".join(buf), lang))
            buf = []
        t += pause
    if buf:
        chunks.append(AsrChunk(buf_start, t, " ".join(buf), lang))
    return chunks, t
