from engines.summarize.cache import SummaryCache, cache_key
from engines.summarize.schema import Summary


def test_key_depends_on_text_prompt_and_engine_not_whitespace():
    k = cache_key("red  dress\n", "v1", "llamacpp")
    assert k == cache_key("red dress", "v1", "llamacpp")
    assert k != cache_key("red dress", "v2", "llamacpp") != cache_key("red dress", "v1", "openai")


def test_lru_evicts_oldest_and_returns_copies():
    cache = SummaryCache(max_items=2)
    for i in range(3):
        cache.put(str(i), Summary(has_product=True, sentence=f"s{i}"))
    assert cache.get("0") is None and cache.get("2").sentence == "s2"
    got = cache.get("1")
    got.sentence = "changed"
    assert cache.get("1").sentence == "s1"


def test_disk_cache_survives_a_new_instance(tmp_path):
    SummaryCache(disk_dir=tmp_path).put("k", Summary(has_product=True, sentence="kept"))
    assert SummaryCache(disk_dir=tmp_path).get("k").sentence == "kept"
    (tmp_path / "bad.json").write_text("{broken")
    assert SummaryCache(disk_dir=tmp_path).get("bad") is None
