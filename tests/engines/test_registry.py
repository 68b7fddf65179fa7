"""Engine registries: one name → factory table per engine kind, one error for an unknown name."""

from __future__ import annotations

import pytest

from engines.registry import EngineRegistry, UnknownEngine


def test_a_registry_builds_by_name_after_its_prepare_step() -> None:
    reg: EngineRegistry[tuple] = EngineRegistry("widget")
    seen: list[str] = []

    @reg.register("plain")
    def _plain(**options):
        return ("plain", options)

    @reg.register("fetched", model=lambda o: o["path"].upper(),
                  prepare=lambda o, log: (log("fetching"), {**o, "path": o.get("path") or "cache/w.bin"})[1])
    def _fetched(**options):
        return ("fetched", options)

    assert reg.names() == ("plain", "fetched")
    assert reg.build("plain", size=2) == ("plain", {"size": 2})
    assert reg.build("fetched", log=seen.append) == ("fetched", {"path": "cache/w.bin"}) and seen == ["fetching"]
    assert reg.model_id("fetched", {"path": "a"}) == "A" and reg.model_id("plain", {}) == ""
    with pytest.raises(UnknownEngine, match=r"unknown widget 'other'; choose one of plain, fetched"):
        reg.build("other")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("plain")(_plain)


def test_every_builder_of_an_engine_goes_through_its_registry() -> None:
    from engines.encode import ENCODERS, load_encoder
    from engines.summarize import SUMMARIZERS, build_summarizer

    with pytest.raises(UnknownEngine, match=r"unknown encoder engine 'cuda'; choose one of torch, onnx, onnx-int8, tensorrt"):
        load_encoder("cuda")
    with pytest.raises(UnknownEngine, match=r"unknown summarizer 'gpt'; choose one of llamacpp, openai, vllm, extractive"):
        build_summarizer("gpt")
    assert build_summarizer("extractive").name == "extractive"
    assert SUMMARIZERS.model_id("openai", {"model": "m"}) == "m" and ENCODERS.check("onnx") == "onnx"
