import base64
import uuid
from pathlib import Path

from tooling.infra.kafka import KafkaService, log4j_properties, new_cluster_id, server_properties


def _parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_cluster_id_is_16_bytes_url_safe_base64() -> None:
    cluster_id = new_cluster_id()
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert new_cluster_id() != cluster_id


def test_server_properties_single_node_kraft_on_loopback(tmp_path: Path) -> None:
    props = _parse(server_properties(1, 19092, 19093, tmp_path / "kraft", default_partitions=4))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["log.dirs"] == str(tmp_path / "kraft")
    assert props["num.partitions"] == "4"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr"):
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_log4j_writes_only_to_the_file(tmp_path: Path) -> None:
    props = _parse(log4j_properties(tmp_path / "server.log"))
    assert props["log4j.rootLogger"] == "INFO, file"
    assert props["log4j.appender.file.File"] == str(tmp_path / "server.log")
    assert "ConsoleAppender" not in "".join(props.values())


def test_service_layout_and_not_installed_in_empty_home(tmp_path: Path) -> None:
    service = KafkaService(tmp_path, 1234, 1235, version="3.9.1")
    assert service.libs_dir == tmp_path / "kafka-3.9.1" / "libs"
    assert service.data_dir == tmp_path / "data" / "kafka"
    assert service.bootstrap == "127.0.0.1:1234"
    assert service.ports() == {"broker": 1234, "controller": 1235}
    assert not service.is_installed()
    assert not service.is_running()
    command = service.command()
    assert command[0] == "java" and "kafka.Kafka" in command
    assert f"{service.libs_dir}/*" in command


def test_tools_count_as_installed_only_with_the_tools_jar(tmp_path: Path) -> None:
    service = KafkaService(tmp_path, 1234, 1235, version="3.9.1")
    service.libs_dir.mkdir(parents=True)
    (service.libs_dir / "kafka-tools-api-3.9.1.jar").touch()  # the broker's own dependency, not the tools
    assert not service.tools_installed()
    service.tools_dir.mkdir()
    (service.tools_dir / "kafka-tools-3.9.1.jar").touch()
    assert service.tools_installed()
    cmd = service.tool_command("consumer-groups", "--list")
    assert "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand" in cmd and cmd[-1] == "--list"


def test_message_size_limit_and_scram_listener(tmp_path: Path) -> None:
    from tooling.infra.kafka import server_properties

    props = server_properties(1, 9092, 9093, tmp_path, message_max_bytes=5_000_000, sasl_port=9094)
    assert "message.max.bytes=5000000\n" in props and "replica.fetch.max.bytes=5000000\n" in props
    assert "SASL_PLAINTEXT://127.0.0.1:9094" in props and "sasl.enabled.mechanisms=SCRAM-SHA-512\n" in props
    assert "SASL" not in server_properties(1, 9092, 9093, tmp_path)


def test_cluster_id_never_starts_with_a_dash(monkeypatch) -> None:
    """The storage tool would read ``-t -abc…`` as an option: such a draw is thrown away."""
    dash = uuid.UUID(bytes=base64.urlsafe_b64decode("-AbCdEfGhIjKlMnOpQrStQ=="))
    fine = uuid.UUID(bytes=base64.urlsafe_b64decode("AAbCdEfGhIjKlMnOpQrStQ=="))
    draws = iter([dash, dash, fine])
    monkeypatch.setattr("tooling.infra.kafka.uuid.uuid4", lambda: next(draws))
    assert new_cluster_id() == "AAbCdEfGhIjKlMnOpQrStQ"
