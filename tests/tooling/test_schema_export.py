"""The published JSON Schemas (docs/schemas) must match the record models."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from streams import schemas
from tooling.cli import app
from tooling.schema_export import RECORD_TYPES, render_all, stale

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_checked_in_schemas_match_the_models() -> None:
    assert stale(DOCS) == [], "a record model changed: run `ampere schema export` and commit docs/schemas"


def test_every_record_model_is_exported() -> None:
    models = {
        obj for name, obj in vars(schemas).items()
        if isinstance(obj, type) and issubclass(obj, schemas._Record) and not name.startswith("_")
    }
    assert models == {rt.model for rt in RECORD_TYPES}


def test_a_changed_model_is_detected(tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["schema", "export", "--out", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["schema", "export", "--out", str(tmp_path), "--check"]).exit_code == 0
    rendered = render_all()
    tampered = json.loads(rendered["tag.schema.json"])
    tampered["properties"].pop("claimed")
    (tmp_path / f"v{schemas.SCHEMA_VERSION}" / "tag.schema.json").write_text(json.dumps(tampered))
    res = runner.invoke(app, ["schema", "export", "--out", str(tmp_path), "--check"])
    assert res.exit_code == 1 and "stale: tag.schema.json" in res.output


def test_schema_states_topic_key_and_version() -> None:
    s = json.loads(render_all()["asr_chunk.schema.json"])
    assert s["x-ampere-topic"] == "<prefix>.asr.chunks" and s["x-ampere-key"] == "stream_id"
    assert s["x-ampere-schema-version"] == schemas.SCHEMA_VERSION
    assert {"stream_id", "seq", "start_ms", "end_ms", "text"} <= set(s["required"])


def _validator(name: str):
    from jsonschema import Draft202012Validator

    schema = json.loads((DOCS / f"v{schemas.SCHEMA_VERSION}" / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_what_producers_send_validates_against_the_published_schemas(tmp_path: Path) -> None:
    """A client in any language can check its messages with the files in docs/schemas."""
    from streams.kafka.topics import TopicNames
    from streams.sdk.publish import product_message, stream_messages
    from tests.streams.mini_dataset import make_mini_dataset

    topics = TopicNames("x")
    by_topic = {topics.asr: "asr_chunk", topics.keyframes: "keyframe", topics.events: "stream_event",
                topics.products: "product"}
    ds = make_mini_dataset(tmp_path)
    msgs = stream_messages(ds, "live-0", ds.streams()["live-0"], topics) + [product_message(ds, ds.products[0], topics)]
    assert {m.topic for m in msgs} == set(by_topic)
    for m in msgs:
        _validator(by_topic[m.topic]).validate(json.loads(m.value))


def test_the_published_schemas_refuse_what_the_models_refuse() -> None:
    v = _validator("asr_chunk")
    good = {"v": 1, "stream_id": "s", "seq": 0, "start_ms": 0, "end_ms": 10, "text": "hi"}
    v.validate(good)
    for bad in ({**good, "stream_id": ""}, {**good, "seq": -1}, {k: x for k, x in good.items() if k != "text"}):
        assert list(v.iter_errors(bad)), bad
