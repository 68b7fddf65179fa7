"""Kafka's own tools (consumer groups, console producer / consumer) against the real local broker."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from streams.settings import Settings
from tooling.infra.kafka import TOOLS, KafkaService

pytestmark = pytest.mark.integration


def _run(kafka: KafkaService, tool: str, *args: str, stdin: str | None = None) -> str:
    cmd = kafka.tool_command(tool, *args)
    out = subprocess.run(cmd, check=False, input=stdin, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_console_producer_consumer_and_consumer_groups_run(kafka_bootstrap: str) -> None:
    s = Settings()
    kafka = KafkaService(s.home, 0, 0, version=s.kafka_version)
    kafka.ensure_installed()
    kafka.ensure_tools()
    assert kafka.tools_installed()
    topic, group = f"tools-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    bs = ["--bootstrap-server", kafka_bootstrap]
    _run(kafka, "topics", *bs, "--create", "--topic", topic, "--partitions", "2")
    _run(kafka, "console-producer", *bs, "--topic", topic, "--property", "parse.key=true",
         "--property", "key.separator=:", stdin="k1:one\nk2:two\nk3:three\n")
    got = _run(kafka, "console-consumer", *bs, "--topic", topic, "--group", group, "--from-beginning",
               "--max-messages", "3", "--timeout-ms", "30000")
    assert sorted(got.split()) == ["one", "three", "two"]
    desc = _run(kafka, "consumer-groups", *bs, "--describe", "--group", group)
    rows = [line.split() for line in desc.splitlines() if line.startswith(group)]
    assert len(rows) == 2 and all(r[1] == topic and r[5] == "0" for r in rows)  # LAG column: all consumed
    assert group in _run(kafka, "consumer-groups", *bs, "--list").split()


def test_unknown_tool_is_refused(tmp_path) -> None:
    from tooling.infra.service import ServiceError

    with pytest.raises(ServiceError):
        KafkaService(tmp_path, 1, 2).tool_command("kafka-server-start")
    assert set(TOOLS) >= {"consumer-groups", "console-consumer", "console-producer"}


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(tmp_path) -> None:
    """A stored cluster id starting with ``-`` (one draw in 64 before ids were redrawn) still formats."""
    s = Settings()
    kafka = KafkaService(s.home, 0, 0, tmp_path / "data", version=s.kafka_version,
                         cluster_id="-AbCdEfGhIjKlMnOpQrStQ")
    kafka.ensure_installed()
    kafka.prepare()
    meta = (tmp_path / "data" / "kraft" / "meta.properties").read_text()
    assert "cluster.id=-AbCdEfGhIjKlMnOpQrStQ" in meta
