from pathlib import Path

from tooling.infra.weaviate import (
    CLUSTER_PORT_NAMES,
    WeaviateService,
    load_or_pick_cluster_ports,
    weaviate_env,
)

PORTS = {"gossip": 1, "data": 2, "raft": 3, "raft_rpc": 4}


def test_env_is_anonymous_without_api_key(tmp_path: Path) -> None:
    env = weaviate_env(tmp_path, 50051, PORTS)
    assert env["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "true"
    assert env["AUTHENTICATION_APIKEY_ENABLED"] == "false"
    assert env["PERSISTENCE_DATA_PATH"] == str(tmp_path)
    assert env["GRPC_PORT"] == "50051"
    assert (env["CLUSTER_GOSSIP_BIND_PORT"], env["CLUSTER_DATA_BIND_PORT"]) == ("1", "2")
    assert (env["RAFT_PORT"], env["RAFT_INTERNAL_RPC_PORT"]) == ("3", "4")
    assert env["RAFT_BOOTSTRAP_EXPECT"] == "1"
    assert env["CLUSTER_BIND_ADDR"] == env["CLUSTER_ADVERTISE_ADDR"] == "127.0.0.1"
    assert env["DEFAULT_VECTORIZER_MODULE"] == "none"
    assert env["ENABLE_MODULES"] == "backup-filesystem"
    assert env["BACKUP_FILESYSTEM_PATH"] == str(tmp_path.parent / "weaviate-backups")
    assert env["DISABLE_TELEMETRY"] == "true"


def test_api_key_turns_anonymous_access_off(tmp_path: Path) -> None:
    env = weaviate_env(tmp_path, 50051, PORTS, api_key="secret")
    assert env["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "false"
    assert env["AUTHENTICATION_APIKEY_ENABLED"] == "true"
    assert env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == "secret"
    assert env["AUTHENTICATION_APIKEY_USERS"]


def test_cluster_ports_are_kept_beside_the_data(tmp_path: Path) -> None:
    first = load_or_pick_cluster_ports(tmp_path)
    assert set(first) == set(CLUSTER_PORT_NAMES)
    assert len(set(first.values())) == len(CLUSTER_PORT_NAMES)
    assert load_or_pick_cluster_ports(tmp_path) == first


def test_binary_is_versioned_in_the_cache(tmp_path: Path) -> None:
    service = WeaviateService(tmp_path, 8080, 50051, version="1.39.3")
    assert service.binary == tmp_path / "bin" / "weaviate-server-v1.39.3"
    assert service.data_dir == tmp_path / "data" / "weaviate"
    assert not service.is_installed()
    assert service.command()[1:] == ["--host", "127.0.0.1", "--port", "8080", "--scheme", "http"]
    assert service.http_url == "http://127.0.0.1:8080"
