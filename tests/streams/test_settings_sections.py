"""Settings by concern: typed section views over the flat AMPERE_* fields, engine names checked against
their registries when the settings are read, and the generated reference in docs/SETTINGS.md."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams import settings as settings_module
from streams.kafka.config import KafkaConfig
from streams.settings import SECTIONS, Settings, reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "SETTINGS.md"


def test_every_flat_setting_belongs_to_a_section_and_sections_name_only_real_fields() -> None:
    listed = {flat for spec in SECTIONS.values() for flat in spec.fields.values()}
    assert sorted(set(Settings.model_fields) - listed) == [], "add the new setting to a section in SECTIONS"
    assert sorted(listed - set(Settings.model_fields)) == []


def test_every_setting_has_a_default_a_one_line_doc_and_a_range() -> None:
    for name, info in Settings.model_fields.items():
        assert not info.is_required(), name
        assert info.description and "\n" not in info.description, name
        if info.annotation in (int, float):
            bounds = {type(m).__name__ for m in info.metadata}
            assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, f"{name} has no validated range"
    with pytest.raises(ValidationError):
        Settings(window_ms=0)
    with pytest.raises(ValidationError):
        Settings(batch_size=100_000)


def test_sections_are_typed_views_of_the_flat_settings(monkeypatch) -> None:
    monkeypatch.setenv("AMPERE_WINDOW_MS", "12000")
    monkeypatch.setenv("AMPERE_INGEST_PORT", "18555")
    s = Settings(topic_prefix="sec", summarizer="openai", openai_model="m1")
    assert s.window_ms == 12_000 and s.window.length_ms == 12_000  # the flat name and the section agree
    assert s.gateway.port == 18_555 and s.topics.prefix == "sec"
    assert s.summarize.engine == "openai" and s.openai.model == "m1"
    assert isinstance(s.kafka, KafkaConfig) and s.kafka.bootstrap == s.kafka_bootstrap
    assert type(s.window).model_fields["length_ms"].description == Settings.model_fields["window_ms"].description
    with pytest.raises(ValidationError):  # a view is read-only: change the settings, not the view
        s.window.length_ms = 1
    moved = s.model_copy(update={"window_ms": 20_000})
    assert moved.window.length_ms == 20_000 and s.window.length_ms == 12_000


def test_an_unknown_engine_is_refused_when_the_settings_are_read(monkeypatch) -> None:
    with pytest.raises(ValidationError, match=r"unknown summarizer 'gpt'; choose one of llamacpp, openai, vllm, extractive"):
        Settings(summarizer="gpt")
    monkeypatch.setenv("AMPERE_ENCODER_ENGINE", "cuda")
    with pytest.raises(ValidationError, match=r"unknown encoder engine 'cuda'; choose one of torch, onnx, onnx-int8, tensorrt"):
        Settings()


def test_summarizer_options_come_from_the_engine_section() -> None:
    s = Settings(llm_threads=3, openai_base_url="http://h:1/v1", vllm_model="q")
    common = {"prompt_version", "token_budget", "cache_size", "cache_dir"}
    assert set(s.summarizer_options("openai")) == common | {
        "base_url", "model", "api_key", "timeout_s", "max_concurrency", "retries"}
    assert s.summarizer_options("openai")["base_url"] == "http://h:1/v1"
    assert s.summarizer_options("vllm") == {**s.llm.model_dump(), "model": "q"}
    assert s.summarizer_options("llamacpp")["threads"] == 3
    assert s.summarizer_options("extractive") == {}


def test_the_summary_fingerprint_follows_engine_model_and_prompt() -> None:
    from streams.worker.wiring import summarizer_fingerprint

    base = Settings(summarizer="openai", openai_model="a")
    assert summarizer_fingerprint(base) == summarizer_fingerprint(Settings(summarizer="openai", openai_model="a"))
    assert summarizer_fingerprint(base) != summarizer_fingerprint(Settings(summarizer="openai", openai_model="b"))
    assert summarizer_fingerprint(base) != summarizer_fingerprint(base, "vllm")
    llama = Settings(llm_model_path=Path("x/model-q4.gguf"))
    assert summarizer_fingerprint(llama, "llamacpp") != summarizer_fingerprint(
        llama.model_copy(update={"llm_model_path": Path("x/other.gguf")}), "llamacpp")
    # the extractive engine has no model: its prompt version does not change its summaries
    assert summarizer_fingerprint(Settings(summary_prompt_version="v1"), "extractive") == summarizer_fingerprint(
        Settings(summary_prompt_version="v2"), "extractive")


def test_the_settings_reference_is_generated_by_section() -> None:
    text = reference_markdown()
    assert DOC.read_text(encoding="utf-8") == text, "regenerate: python -m streams.settings > docs/SETTINGS.md"
    headings = [line[4:-1] for line in text.splitlines() if line.startswith("## `")]
    assert headings == list(SECTIONS)
    for name in Settings.model_fields:
        assert text.count(f"| `AMPERE_{name.upper()}` |") == 1, name
    assert "| `AMPERE_WINDOW_MS` | `length_ms` | `30000` | ≥ 100, ≤ 3 600 000 |" in text


def test_engine_names_have_one_source() -> None:
    from engines.encode import ENCODERS
    from engines.summarize import SUMMARIZERS

    assert typing.get_origin(Settings.model_fields["summarizer"].annotation) is None  # no second list of names
    assert ENCODERS.names() == ("torch", "onnx", "onnx-int8", "tensorrt")
    assert SUMMARIZERS.names() == ("llamacpp", "openai", "vllm", "extractive")
    for engine in SUMMARIZERS.names():
        assert Settings(summarizer=engine).summarize.engine == engine
    assert settings_module.section_of("llm_timeout_s") == "llamacpp"
