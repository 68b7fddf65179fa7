"""Weaviate: ``weaviate-server`` built once with ``go install`` at a pinned version, run on loopback."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from rich.console import Console

from tooling.infra.build import run_logged
from tooling.infra.ports import LOOPBACK, free_ports
from tooling.infra.service import Service, ServiceError

GO_PACKAGE = "github.com/weaviate/weaviate/cmd/weaviate-server"
CLUSTER_PORT_NAMES = ("gossip", "data", "raft", "raft_rpc")
CLUSTER_PORTS_FILE = "ampere-cluster-ports.json"
NODE_NAME = "node1"


def weaviate_env(
    data_dir: Path,
    grpc_port: int,
    cluster_ports: dict[str, int],
    api_key: str | None = None,
    query_defaults_limit: int = 25,
) -> dict[str, str]:
    """Environment of a single-node ``weaviate-server``; anonymous unless ``api_key`` is given."""
    env = {
        "PERSISTENCE_DATA_PATH": str(data_dir),
        "CLUSTER_HOSTNAME": NODE_NAME,
        "CLUSTER_BIND_ADDR": LOOPBACK,  # gossip and raft stay on loopback
        "CLUSTER_ADVERTISE_ADDR": LOOPBACK,
        "CLUSTER_GOSSIP_BIND_PORT": str(cluster_ports["gossip"]),
        "CLUSTER_DATA_BIND_PORT": str(cluster_ports["data"]),
        "RAFT_PORT": str(cluster_ports["raft"]),
        "RAFT_INTERNAL_RPC_PORT": str(cluster_ports["raft_rpc"]),
        "RAFT_JOIN": f"{NODE_NAME}:{cluster_ports['raft_rpc']}",
        "RAFT_BOOTSTRAP_EXPECT": "1",
        "GRPC_PORT": str(grpc_port),
        "DEFAULT_VECTORIZER_MODULE": "none",
        "ENABLE_MODULES": "",
        "DISABLE_TELEMETRY": "true",
        "GO_PROFILING_DISABLE": "true",
        "QUERY_DEFAULTS_LIMIT": str(query_defaults_limit),
        "LOG_LEVEL": "info",
    }
    if api_key:
        env |= {
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
            "AUTHENTICATION_APIKEY_ENABLED": "true",
            "AUTHENTICATION_APIKEY_ALLOWED_KEYS": api_key,
            "AUTHENTICATION_APIKEY_USERS": "ampere",
        }
    else:
        env |= {"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true", "AUTHENTICATION_APIKEY_ENABLED": "false"}
    return env


def load_or_pick_cluster_ports(data_dir: Path) -> dict[str, int]:
    """The internal ports stored beside the data (so a restart on the same data keeps them), else new free ones."""
    path = data_dir / CLUSTER_PORTS_FILE
    try:
        ports = json.loads(path.read_text())
        if set(ports) == set(CLUSTER_PORT_NAMES):
            return {name: int(port) for name, port in ports.items()}
    except (OSError, ValueError):
        pass
    ports = dict(zip(CLUSTER_PORT_NAMES, free_ports(len(CLUSTER_PORT_NAMES)), strict=True))
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports))
    return ports


class WeaviateService(Service):
    """One local Weaviate node with persistence in ``data_dir``."""

    name = "weaviate"

    def __init__(
        self,
        home: Path,
        http_port: int,
        grpc_port: int,
        data_dir: Path | None = None,
        api_key: str | None = None,
        *,
        version: str = "v1.39.0",
    ) -> None:
        home = Path(home)
        super().__init__(home, Path(data_dir) if data_dir else home / "data" / "weaviate")
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.api_key = api_key
        self.version = version if version.startswith("v") else f"v{version}"
        self.cluster_ports: dict[str, int] = {}

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
        gobin = self.home / "bin" / f".build-weaviate-{self.version}"
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
        self.cluster_ports = load_or_pick_cluster_ports(self.data_dir)

    def environment(self) -> dict[str, str]:
        return os.environ | weaviate_env(self.data_dir, self.grpc_port, self.cluster_ports, self.api_key)

    def command(self) -> list[str]:
        return [str(self.binary), "--host", LOOPBACK, "--port", str(self.http_port), "--scheme", "http"]

    def probe(self) -> bool:
        return weaviate_ready(self.http_url)


def weaviate_ready(http_url: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET /v1/.well-known/ready`` answers 2xx."""
    try:
        with urllib.request.urlopen(f"{http_url}/v1/.well-known/ready", timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
