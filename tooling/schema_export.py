"""Published JSON Schemas of every record type, generated from the pydantic models in ``streams.schemas``.

``ampere schema export`` writes them to ``docs/schemas/v<SCHEMA_VERSION>/``; a test regenerates them and
fails when a model changed without its schema being exported again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from streams import schemas
from streams.schemas import SCHEMA_VERSION


@dataclass(frozen=True)
class RecordType:
    """One record type: its model, the topic suffix (after the prefix) it travels on, who writes it."""

    name: str
    model: type[BaseModel]
    topic: str
    key: str
    audience: str  # "input" (broadcasters, catalog), "output" (subscribers) or "internal"


RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType("asr_chunk", schemas.AsrChunkRecord, "asr.chunks", "stream_id", "input"),
    RecordType("keyframe", schemas.KeyframeRecord, "keyframes", "stream_id", "input"),
    RecordType("stream_event", schemas.StreamEventRecord, "stream.events", "stream_id", "input"),
    RecordType("product", schemas.ProductRecordMsg, "products", "product_id", "input"),
    RecordType("embedding", schemas.EmbeddingRecord, "embeddings", "stream_id or product_id", "output"),
    RecordType("tag", schemas.TagRecord, "tags", "stream_id", "output"),
    RecordType("segment", schemas.SegmentRecord, "segments", "stream_id", "output"),
    RecordType("dead_letter", schemas.DeadLetter, "dlq", "key of the failed message", "output"),
    RecordType("window", schemas.WindowRecord, "windows", "stream_id", "internal"),
    RecordType("summary", schemas.SummaryRecordMsg, "summaries", "stream_id", "internal"),
)


def schema_of(rt: RecordType, version: int = SCHEMA_VERSION) -> dict:
    """The JSON Schema (draft 2020-12) of one record type, with where it travels."""
    body = rt.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"ampere-stream/schemas/v{version}/{rt.name}.schema.json",
        **body,
        "x-ampere-topic": f"<prefix>.{rt.topic}",
        "x-ampere-key": rt.key,
        "x-ampere-audience": rt.audience,
        "x-ampere-schema-version": version,
    }


def render_all(version: int = SCHEMA_VERSION) -> dict[str, str]:
    """File name → text of every schema file of ``version`` plus its ``index.json``."""
    files = {f"{rt.name}.schema.json": _dump(schema_of(rt, version)) for rt in RECORD_TYPES}
    index = {
        "schema_version": version,
        "records": [
            {"name": rt.name, "file": f"{rt.name}.schema.json", "topic": f"<prefix>.{rt.topic}", "key": rt.key,
             "audience": rt.audience, "model": rt.model.__name__}
            for rt in RECORD_TYPES
        ],
    }
    files["index.json"] = _dump(index)
    return files


def export(root: Path, version: int = SCHEMA_VERSION) -> list[Path]:
    """Write every schema of ``version`` into ``root/v<version>/``; return the paths written."""
    out = root / f"v{version}"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all(version).items():
        p = out / name
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written


def stale(root: Path, version: int = SCHEMA_VERSION) -> list[str]:
    """Names of the files under ``root/v<version>/`` that are missing or differ from the models."""
    out = root / f"v{version}"
    return [
        name for name, text in render_all(version).items()
        if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
    ]


def _dump(obj: dict) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
