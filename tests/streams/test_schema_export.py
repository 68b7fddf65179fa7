"""The published JSON Schemas (docs/schemas) must match the record models."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from streams import schemas
from streams.cli import app
from streams.schema_export import RECORD_TYPES, render_all, stale

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_checked_in_schemas_match_the_models() -> None:
    assert stale(DOCS) == [], "a record model changed: run `ampere schema export` and commit docs/schemas"


def test_every_record_model_is_exported() -> None:
    models = {
        obj for obj in vars(schemas).values()
        if isinstance(obj, type) and issubclass(obj, schemas._Record) and obj is not schemas._Record
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
