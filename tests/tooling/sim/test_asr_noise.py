import itertools
import random

from tooling.sim.asr_noise import LIVE_NOISE, VIDEO_NOISE, NoiseLevel, chunk_words, corrupt

TEXT = ("next up we have the apple laptop it comes in fifteen inch and the price is great for "
        "you right now so buy it there is a sale on the white one") * 3


def _error_rate(level: NoiseLevel) -> float:
    words = TEXT.split()
    out = corrupt(TEXT, random.Random(1), level)
    changed = sum(a != b for a, b in zip(words, out)) + abs(len(words) - len(out))
    return changed / len(words)


def test_noise_is_applied_and_live_is_noisier_than_video():
    assert corrupt(TEXT, random.Random(1), LIVE_NOISE) != TEXT.split()
    assert _error_rate(LIVE_NOISE) > _error_rate(VIDEO_NOISE) > 0


def test_noise_free_level_keeps_the_words():
    clean = NoiseLevel(0, 0, 0, 0, 0)
    assert corrupt(TEXT, random.Random(3), clean) == TEXT.split()


def test_same_seed_same_words():
    assert corrupt(TEXT, random.Random(5), LIVE_NOISE) == corrupt(TEXT, random.Random(5), LIVE_NOISE)


def test_chunks_are_ordered_non_overlapping_and_lowercase():
    lines = [corrupt(line, random.Random(i), LIVE_NOISE) for i, line in enumerate(TEXT.split(" so "))]
    chunks, end = chunk_words(lines, 10_000, random.Random(2))
    assert chunks[0].start_ms >= 10_000 and end >= chunks[-1].end_ms
    for a, b in itertools.pairwise(chunks):
        assert a.start_ms < a.end_ms <= b.start_ms
    assert all(c.text == c.text.lower() and "." not in c.text for c in chunks)
    assert all(1 <= len(c.text.split()) <= 14 for c in chunks)
