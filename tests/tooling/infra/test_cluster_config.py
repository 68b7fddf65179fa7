"""Generated configs of local clusters (3 KRaft nodes, 3 Weaviate nodes), checked without starting anything."""

import os
import socket
from pathlib import Path

import pytest
from rich.console import Console

from streams.settings import Settings
from tooling.infra import stack
from tooling.infra.kafka import (
    bootstrap_of,
    durability,
    kafka_cluster,
    quorum_voters,
    server_properties,
)
from tooling.infra.ports import PortRangeError, free_port_block, parse_port_range
from tooling.infra.service import ServiceError
from tooling.infra.state import ServiceState, load_state, recorded_states, save_state
from tooling.infra.weaviate import CLUSTER_PORTS_FILE, Peer, weaviate_cluster, weaviate_env


def _parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_durability_is_three_replicas_two_in_sync_from_three_brokers() -> None:
    assert durability(1) == (1, 1)
    assert durability(2) == (2, 1)
    assert durability(3) == (3, 2)
    assert durability(5) == (3, 2)


def test_cluster_node_properties_name_every_controller_and_replicate_internal_topics(tmp_path: Path) -> None:
    voters = quorum_voters([29093, 29103, 29113])
    assert voters == "1@127.0.0.1:29093,2@127.0.0.1:29103,3@127.0.0.1:29113"
    props = _parse(server_properties(2, 29102, 29103, tmp_path, voters=voters, brokers=3))
    assert props["node.id"] == "2" and props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == voters
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29102,CONTROLLER://127.0.0.1:29103"
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor", "share.coordinator.state.topic.replication.factor"):
        assert props[key] == "3", key
    for key in ("min.insync.replicas", "transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr"):
        assert props[key] == "2", key


def test_kafka_cluster_nodes_share_one_cluster_id_kept_beside_the_data(tmp_path: Path) -> None:
    nodes = kafka_cluster(tmp_path / "home", tmp_path / "c", [1001, 1011, 1021], [1002, 1012, 1022], version="3.9.1")
    assert [n.name for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert [n.node_id for n in nodes] == [1, 2, 3]
    assert [n.data_dir for n in nodes] == [tmp_path / "c" / f"node{i}" for i in (1, 2, 3)]
    assert len({n.cluster_id for n in nodes}) == 1 and len({n.marker for n in nodes}) == 3
    assert all(n.brokers == 3 and n.voters == quorum_voters([1002, 1012, 1022]) for n in nodes)
    assert bootstrap_of(nodes) == "127.0.0.1:1001,127.0.0.1:1011,127.0.0.1:1021"
    again = kafka_cluster(tmp_path / "home", tmp_path / "c", [1001, 1011, 1021], [1002, 1012, 1022])
    assert again[0].cluster_id == nodes[0].cluster_id


def test_kafka_cluster_refuses_clashing_ports(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="clash"):
        kafka_cluster(tmp_path, tmp_path / "c", [1001, 1002], [1002, 1003])


def test_port_range_parsing() -> None:
    assert parse_port_range("17000-17999") == range(17000, 18000)
    for bad in ("17000", "a-b", "18000-17000", "80-90", "60000-70000"):
        with pytest.raises(PortRangeError):
            parse_port_range(bad)


def _bind_below_ephemeral(sock: socket.socket) -> int:
    """Bind ``sock`` to the first port of a free block of 8 between 20000 and 30000; its number."""
    for base in range(20_000, 30_000, 8):
        try:
            for port in range(base + 1, base + 8):  # the rest of the block is free right now
                with socket.socket() as probe:
                    probe.bind(("", port))
            sock.bind(("", base))
            return base
        except OSError:
            continue
    pytest.fail("no free block of 8 ports between 20000 and 30000")


def test_port_block_is_consecutive_free_and_skips_taken_ports() -> None:
    """The ports held are below the ephemeral range, where the clients and services of a running test
    session do not take the ports next to them (an ephemeral base made this fail once in CI)."""
    with socket.socket() as held:
        taken = _bind_below_ephemeral(held)
        block = free_port_block(4, range(taken, taken + 8), avoid={taken + 1})
    assert block == list(range(block[0], block[0] + 4))
    assert taken not in block and taken + 1 not in block
    with pytest.raises(PortRangeError, match="no 4 consecutive"):
        free_port_block(4, range(taken, taken + 3))
    with pytest.raises(PortRangeError, match="no 4 consecutive"):
        free_port_block(4, range(taken + 1, taken + 6), avoid={taken + 3})


def test_weaviate_cluster_env_joins_the_other_nodes() -> None:
    peers = [Peer("node1", 17000, 17002), Peer("node2", 17004, 17006), Peer("node3", 17008, 17010)]
    ports = {"gossip": 17004, "data": 17005, "raft": 17006, "raft_rpc": 17007}
    env = weaviate_env(Path("d"), 18061, ports, node_name="node2", peers=peers, cluster_secret="s3")
    assert env["CLUSTER_HOSTNAME"] == "node2"
    assert env["CLUSTER_IN_LOCALHOST"] == "true"
    assert env["CLUSTER_JOIN"] == "127.0.0.1:17000,127.0.0.1:17008"
    assert env["RAFT_JOIN"] == "node1:17002,node2:17006,node3:17010"
    assert env["RAFT_BOOTSTRAP_EXPECT"] == "3"
    assert env["CLUSTER_BIND_ADDR"] == env["CLUSTER_ADVERTISE_ADDR"] == "127.0.0.1"
    assert env["CLUSTER_BASIC_AUTH_PASSWORD"] == "s3" and env["CLUSTER_BASIC_AUTH_USERNAME"]
    single = weaviate_env(Path("d"), 18051, ports)
    assert "CLUSTER_IN_LOCALHOST" not in single and "CLUSTER_JOIN" not in single
    assert single["RAFT_BOOTSTRAP_EXPECT"] == "1"


def test_weaviate_cluster_nodes_get_port_blocks_from_the_range_and_one_secret(tmp_path: Path) -> None:
    nodes = weaviate_cluster(tmp_path, tmp_path / "w", [28080, 28090, 28100], [28051, 28061, 28071],
                             internal_ports="17000-17999", version="v1.39.3")
    assert [n.name for n in nodes] == ["weaviate-1", "weaviate-2", "weaviate-3"]
    assert [n.node_name for n in nodes] == ["node1", "node2", "node3"]
    used = [port for n in nodes for port in n.cluster_ports.values()]
    assert len(set(used)) == 12 and all(17000 <= port <= 17999 for port in used)
    for node in nodes:
        ports = node.cluster_ports
        assert ports["raft_rpc"] == ports["raft"] + 1  # how a node on one host finds a peer's raft RPC port
        assert (node.data_dir / CLUSTER_PORTS_FILE).exists()
        assert node.peers == nodes[0].peers and len(node.peers) == 3
    assert len({n.cluster_secret for n in nodes}) == 1 and nodes[0].cluster_secret
    again = weaviate_cluster(tmp_path, tmp_path / "w", [28080, 28090, 28100], [28051, 28061, 28071])
    assert [n.cluster_ports for n in again] == [n.cluster_ports for n in nodes]
    env = nodes[2].environment()
    assert env["RAFT_JOIN"] == ",".join(f"node{i + 1}:{n.cluster_ports['raft']}" for i, n in enumerate(nodes))


def test_stack_builds_clusters_on_stepped_ports(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka_broker_port=29092, kafka_controller_port=29093,
                        weaviate_url="http://127.0.0.1:28080", weaviate_grpc_port=28051)
    services = stack.build_services(settings, brokers=3, weaviate_nodes=3)
    assert [s.name for s in services] == ["kafka-1", "kafka-2", "kafka-3", "weaviate-1", "weaviate-2", "weaviate-3"]
    assert [s.ports()["broker"] for s in services[:3]] == [29092, 29102, 29112]
    assert [s.ports()["controller"] for s in services[:3]] == [29093, 29103, 29113]
    assert [s.ports()["http"] for s in services[3:]] == [28080, 28090, 28100]
    assert [s.ports()["grpc"] for s in services[3:]] == [28051, 28061, 28071]
    assert services[0].data_dir == tmp_path / "data" / "kafka-cluster-3" / "node1"
    assert [s.name for s in stack.build_services(settings)] == ["kafka", "weaviate"]
    env_counts = Settings(home=tmp_path, kafka_brokers=3, weaviate_nodes=3)
    assert len(stack.build_services(env_counts)) == 6


def _record(settings: Settings, name: str, ports: dict[str, int], pid: int = 2**22 + 4321, marker: str = "x") -> None:
    save_state(stack.run_dir(settings), ServiceState(
        name=name, pid=pid, ports=ports, data_dir="d", log_path="l", marker=marker, started_at=0.0))


def test_client_env_names_every_broker_and_the_replication_to_use(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    for i in (1, 2, 3):
        _record(settings, f"kafka-{i}", {"broker": 29082 + 10 * i, "controller": 29083 + 10 * i})
        _record(settings, f"weaviate-{i}", {"http": 28070 + 10 * i, "grpc": 28041 + 10 * i})
    assert [s.name for s in recorded_states(stack.run_dir(settings), "kafka")] == ["kafka-1", "kafka-2", "kafka-3"]
    env = stack.client_env(settings)
    assert env["AMPERE_KAFKA_BOOTSTRAP"] == "127.0.0.1:29092,127.0.0.1:29102,127.0.0.1:29112"
    assert env["AMPERE_TOPIC_REPLICATION_FACTOR"] == "3" and env["AMPERE_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
    assert env["AMPERE_WEAVIATE_URL"] == "http://127.0.0.1:28080" and env["AMPERE_WEAVIATE_GRPC_PORT"] == "28051"
    assert env["AMPERE_WEAVIATE_REPLICATION_FACTOR"] == "3" and env["AMPERE_WEAVIATE_CONSISTENCY"] == "QUORUM"
    parsed = Settings(home=tmp_path, **{k.removeprefix("AMPERE_").lower(): v for k, v in env.items()})
    assert parsed.kafka_brokers == 3 and parsed.weaviate_replication_factor == 3
    stack.down(settings, list(stack.SERVICE_NAMES), Console(quiet=True))
    assert not recorded_states(stack.run_dir(settings), "kafka") and stack.client_env(settings) == {}


def test_up_refuses_another_node_count_while_one_runs(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    _record(settings, "kafka", {"broker": 1, "controller": 2}, pid=os.getpid(), marker="")  # a live pid
    assert load_state(stack.run_dir(settings), "kafka") is not None
    with pytest.raises(ServiceError, match="already runs as kafka"):
        stack.up(settings, stack.build_services(settings, ["kafka"], brokers=3), Console(quiet=True))
