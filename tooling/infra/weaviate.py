"""Weaviate: ``weaviate-server`` built once with ``go install`` at a pinned version, run on loopback,
alone or as a cluster of nodes on one host.

Binding, as of v1.39.3: REST and the raft, raft RPC and gossip ports follow ``--host`` and
``CLUSTER_BIND_ADDR`` (loopback here); the public gRPC port and the internal data port have no bind
setting and listen on every interface, so the data API (and the gRPC file replication service) are
closed with cluster basic auth, a random secret kept beside the data.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import urllib.error
import urllib.request
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from tooling.infra.build import run_logged
from tooling.infra.ports import LOOPBACK, free_port_block, parse_port_range
from tooling.infra.service import Service, ServiceError
from tooling.infra.state import load_or_create_text

GO_PACKAGE = "github.com/weaviate/weaviate/cmd/weaviate-server"
#: One block of consecutive ports per node, in this order: on one host Weaviate finds a peer's raft RPC
#: port at its raft port + 1.
CLUSTER_PORT_NAMES = ("gossip", "data", "raft", "raft_rpc")
CLUSTER_PORTS_FILE = "ampere-cluster-ports.json"
CLUSTER_SECRET_FILE = "ampere-cluster-secret"
CLUSTER_USER = "ampere"
NODE_NAME = "node1"
DEFAULT_INTERNAL_PORTS = "17000-17999"


@dataclass(frozen=True)
class Peer:
    """What every node of a cluster knows about one node: its name and where it gossips and votes."""

    name: str
    gossip_port: int
    raft_port: int


def cluster_env(node_name: str, peers: Sequence[Peer]) -> dict[str, str]:
    """The join settings of node ``node_name`` in a cluster of ``peers`` on one host (itself included)."""
    return {
        "CLUSTER_IN_LOCALHOST": "true",  # peers differ by port, not by address
        "CLUSTER_JOIN": ",".join(f"{LOOPBACK}:{p.gossip_port}" for p in peers if p.name != node_name),
        "RAFT_JOIN": ",".join(f"{p.name}:{p.raft_port}" for p in peers),
        "RAFT_BOOTSTRAP_EXPECT": str(len(peers)),
    }


def weaviate_env(
    data_dir: Path,
    grpc_port: int,
    cluster_ports: dict[str, int],
    api_key: str | None = None,
    query_defaults_limit: int = 25,
    *,
    node_name: str = NODE_NAME,
    peers: Sequence[Peer] = (),
    cluster_secret: str | None = None,
    backup_dir: Path | None = None,
    next_api_key: str | None = None,
) -> dict[str, str]:
    """Environment of a ``weaviate-server`` node: alone, or named ``node_name`` among ``peers``;
    anonymous unless ``api_key`` is given; the internal data API asks for ``cluster_secret`` if given;
    backups (the filesystem backend) go to ``backup_dir`` (default: ``weaviate-backups`` beside the data,
    shared by the nodes of a cluster); ``next_api_key`` is accepted beside ``api_key`` (two-key rotation)."""
    env = {
        "PERSISTENCE_DATA_PATH": str(data_dir),
        "CLUSTER_HOSTNAME": node_name,
        "CLUSTER_BIND_ADDR": LOOPBACK,  # gossip and raft stay on loopback
        "CLUSTER_ADVERTISE_ADDR": LOOPBACK,
        "CLUSTER_GOSSIP_BIND_PORT": str(cluster_ports["gossip"]),
        "CLUSTER_DATA_BIND_PORT": str(cluster_ports["data"]),
        "RAFT_PORT": str(cluster_ports["raft"]),
        "RAFT_INTERNAL_RPC_PORT": str(cluster_ports["raft_rpc"]),
        "RAFT_JOIN": f"{node_name}:{cluster_ports['raft_rpc']}",
        "RAFT_BOOTSTRAP_EXPECT": "1",
        "GRPC_PORT": str(grpc_port),
        "DEFAULT_VECTORIZER_MODULE": "none",
        "ENABLE_MODULES": "backup-filesystem",
        "BACKUP_FILESYSTEM_PATH": str(backup_dir or data_dir.parent / "weaviate-backups"),
        "DISABLE_TELEMETRY": "true",
        "GO_PROFILING_DISABLE": "true",
        "QUERY_DEFAULTS_LIMIT": str(query_defaults_limit),
        "LOG_LEVEL": "info",
    }
    if len(peers) > 1:
        env |= cluster_env(node_name, peers)
    if cluster_secret:
        env |= {"CLUSTER_BASIC_AUTH_USERNAME": CLUSTER_USER, "CLUSTER_BASIC_AUTH_PASSWORD": cluster_secret}
    if api_key:
        env |= {
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
            "AUTHENTICATION_APIKEY_ENABLED": "true",
            "AUTHENTICATION_APIKEY_ALLOWED_KEYS": f"{api_key},{next_api_key}" if next_api_key else api_key,
            "AUTHENTICATION_APIKEY_USERS": "ampere,ampere" if next_api_key else "ampere",
        }
    else:
        env |= {"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true", "AUTHENTICATION_APIKEY_ENABLED": "false"}
    return env


def load_or_pick_cluster_ports(
    data_dir: Path, port_range: str = DEFAULT_INTERNAL_PORTS, avoid: Collection[int] = ()
) -> dict[str, int]:
    """The internal ports stored beside the data (so a restart on the same data keeps them), else a new
    block of free consecutive ports from ``port_range`` ("LOW-HIGH") outside ``avoid``."""
    path = data_dir / CLUSTER_PORTS_FILE
    try:
        ports = json.loads(path.read_text())
        if set(ports) == set(CLUSTER_PORT_NAMES):
            return {name: int(port) for name, port in ports.items()}
    except (OSError, ValueError):
        pass
    block = free_port_block(len(CLUSTER_PORT_NAMES), parse_port_range(port_range), avoid)
    ports = dict(zip(CLUSTER_PORT_NAMES, block, strict=True))
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports))
    return ports


def new_secret() -> str:
    """A random URL-safe secret (cluster basic auth)."""
    return secrets.token_urlsafe(24)


class WeaviateService(Service):
    """One local Weaviate node with persistence in ``data_dir`` (alone, or a node of :func:`weaviate_cluster`)."""

    name = "weaviate"

    def __init__(
        self,
        home: Path,
        http_port: int,
        grpc_port: int,
        data_dir: Path | None = None,
        api_key: str | None = None,
        *,
        next_api_key: str | None = None,
        version: str = "v1.39.3",
        internal_ports: str = DEFAULT_INTERNAL_PORTS,
        node_name: str = NODE_NAME,
        name: str = "weaviate",
    ) -> None:
        home = Path(home)
        super().__init__(home, Path(data_dir) if data_dir else home / "data" / "weaviate")
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.api_key = api_key
        self.next_api_key = next_api_key
        self.version = version if version.startswith("v") else f"v{version}"
        self.internal_ports = internal_ports
        self.node_name = node_name
        self.name = name
        self.cluster_ports: dict[str, int] = {}
        self.peers: tuple[Peer, ...] = ()
        self.cluster_secret: str | None = None

    # --- install --------------------------------------------------------------------------
    @property
    def binary(self) -> Path:
        return self.home / "bin" / f"weaviate-server-{self.version}"

    def is_installed(self) -> bool:
        return self.binary.is_file() and os.access(self.binary, os.X_OK)

    def ensure_installed(self, console: Console | None = None) -> None:
        """``go install`` weaviate-server at the pinned version into the cache (once; minutes on 2 cores)."""
        if self.is_installed():
            return
        if shutil.which("go") is None:
            raise ServiceError("`go` not found on PATH: building weaviate-server needs a Go toolchain")
        gobin = self.home / "bin" / f".build-weaviate-{self.version}-{os.getpid()}"  # one per concurrent install
        shutil.rmtree(gobin, ignore_errors=True)
        gobin.mkdir(parents=True)
        env = dict(os.environ, GOBIN=str(gobin), CGO_ENABLED="0")
        run_logged(
            ["go", "install", f"{GO_PACKAGE}@{self.version}"],
            self.home / "logs" / f"weaviate-{self.version}-build.log",
            f"Building weaviate-server {self.version} with go install (first time only, takes minutes)",
            env=env, console=console,
        )
        (gobin / "weaviate-server").replace(self.binary)
        shutil.rmtree(gobin, ignore_errors=True)

    # --- run ------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def marker(self) -> str:
        return f"weaviate-server-{self.version}"

    def ports(self) -> dict[str, int]:
        return {"http": self.http_port, "grpc": self.grpc_port, **self.cluster_ports}

    def prepare(self) -> None:
        """Internal ports and the cluster secret, kept beside the data unless a cluster assigned them."""
        if not self.cluster_ports:
            self.cluster_ports = load_or_pick_cluster_ports(self.data_dir, self.internal_ports)
        if self.cluster_secret is None:
            self.cluster_secret = load_or_create_text(self.data_dir / CLUSTER_SECRET_FILE, new_secret)

    def environment(self) -> dict[str, str]:
        return os.environ | weaviate_env(
            self.data_dir, self.grpc_port, self.cluster_ports, self.api_key,
            node_name=self.node_name, peers=self.peers, cluster_secret=self.cluster_secret,
            next_api_key=self.next_api_key,
        )

    def command(self) -> list[str]:
        return [str(self.binary), "--host", LOOPBACK, "--port", str(self.http_port), "--scheme", "http"]

    def probe(self) -> bool:
        """Ready, and in a cluster every node seen healthy from this one."""
        if not weaviate_ready(self.http_url):
            return False
        return len(self.peers) <= 1 or healthy_nodes(self.http_url, self.api_key) >= len(self.peers)


def weaviate_cluster(
    home: Path,
    data_root: Path,
    http_ports: Sequence[int],
    grpc_ports: Sequence[int],
    *,
    internal_ports: str = DEFAULT_INTERNAL_PORTS,
    **options: object,
) -> list[WeaviateService]:
    """Nodes ``node1``..``noden`` of one Weaviate cluster on loopback: node i serves REST on
    ``http_ports[i-1]`` and gRPC on ``grpc_ports[i-1]``, keeps its data in ``data_root/node<i>`` with its
    internal ports (a block from ``internal_ports``); every node shares the secret kept in
    ``data_root``. ``options`` go to each :class:`WeaviateService` (version, api_key)."""
    if len(http_ports) != len(grpc_ports) or not http_ports:
        raise ServiceError("a Weaviate cluster needs one REST and one gRPC port per node")
    if len({*http_ports, *grpc_ports}) != 2 * len(http_ports):
        raise ServiceError(f"Weaviate ports clash: REST {list(http_ports)}, gRPC {list(grpc_ports)}")
    secret = load_or_create_text(Path(data_root) / CLUSTER_SECRET_FILE, new_secret)
    nodes = [
        WeaviateService(
            home, http_port, grpc_port, Path(data_root) / f"node{i}", internal_ports=internal_ports,
            node_name=f"node{i}", name=f"weaviate-{i}", **options,  # type: ignore[arg-type]
        )
        for i, (http_port, grpc_port) in enumerate(zip(http_ports, grpc_ports, strict=True), start=1)
    ]
    taken = set(http_ports) | set(grpc_ports)
    for node in nodes:
        node.cluster_ports = load_or_pick_cluster_ports(node.data_dir, internal_ports, avoid=taken)
        taken |= set(node.cluster_ports.values())
        node.cluster_secret = secret
    peers = tuple(Peer(n.node_name, n.cluster_ports["gossip"], n.cluster_ports["raft"]) for n in nodes)
    for node in nodes:
        node.peers = peers
    return nodes


def healthy_nodes(http_url: str, api_key: str | None = None, timeout_s: float = 2.0) -> int:
    """How many nodes ``GET /v1/nodes`` reports HEALTHY (0 when it does not answer)."""
    request = urllib.request.Request(f"{http_url}/v1/nodes")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            nodes = json.loads(response.read()).get("nodes") or []
    except (urllib.error.URLError, OSError, ValueError):
        return 0
    return sum(1 for node in nodes if node.get("status") == "HEALTHY")


def weaviate_ready(http_url: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET /v1/.well-known/ready`` answers 2xx."""
    try:
        with urllib.request.urlopen(f"{http_url}/v1/.well-known/ready", timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
