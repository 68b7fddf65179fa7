from engines.summarize.budget import cut_to_budget
from engines.summarize.text import estimate_tokens, split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_short_text_is_untouched():
    assert cut_to_budget("one two. three.", 10, words) == "one two. three."


def test_cut_happens_at_sentence_edges():
    text = "a b c. d e f. g h i."
    out = cut_to_budget(text, 7, words)
    assert out == "a b c. d e f."
    assert all(s.endswith(".") for s in split_sentences(out))


def test_chinese_sentence_edges():
    text = "这款是纯棉的。颜色有白色和黑色！今天八折？还有赠品。"
    out = cut_to_budget(text, 17, estimate_tokens)  # 7 + 1 (join) + 9
    assert out == "这款是纯棉的。 颜色有白色和黑色！"
    assert estimate_tokens(out) <= 17


def test_one_overlong_sentence_is_cut_inside_not_dropped():
    out = cut_to_budget("x" * 300, 10, estimate_tokens)
    assert out and estimate_tokens(out) <= 10


def test_estimate_is_conservative_for_chinese():
    assert estimate_tokens("连衣裙") == 3 and estimate_tokens("abcdef") == 2
