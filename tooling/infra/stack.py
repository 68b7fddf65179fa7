"""The local stack as configured by Settings: install, bring up, tear down, report (used by `ampere infra`).

One node per service by default; ``AMPERE_KAFKA_BROKERS`` / ``AMPERE_WEAVIATE_NODES`` (or ``ampere infra
up --brokers N --weaviate-nodes N``) start a cluster instead: node i listens on the configured port +
``NODE_PORT_STEP`` x (i - 1), keeps its data in ``<home>/data/<service>-cluster-<n>/node<i>`` and is
recorded as ``<service>-<i>``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from rich.console import Console

from streams.kafka.config import BATCH_OVERHEAD_BYTES
from streams.settings import Settings
from tooling.infra.kafka import KafkaService, broker_answers, durability, kafka_cluster
from tooling.infra.ports import LOOPBACK, port_is_open
from tooling.infra.process import pid_alive, stop_pid
from tooling.infra.service import Service, ServiceError, start_together, stop_together
from tooling.infra.state import ServiceState, clear_state, load_state, recorded_states, save_state
from tooling.infra.weaviate import WeaviateService, weaviate_cluster, weaviate_ready

SERVICE_NAMES = ("kafka", "weaviate")
NODE_PORT_STEP = 10


def run_dir(settings: Settings) -> Path:
    """Folder of the state files of services started by `ampere infra up`."""
    return settings.home / "run"


def port_of(url: str) -> int:
    """The port of an http(s) URL (default 80/443)."""
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


def node_ports(first: int, nodes: int) -> list[int]:
    """The port of each of ``nodes`` nodes: ``first``, then steps of ``NODE_PORT_STEP``."""
    return [first + NODE_PORT_STEP * i for i in range(nodes)]


def cluster_dir(settings: Settings, service: str, nodes: int) -> Path:
    """Data folder of a ``nodes``-node cluster (one per size: a KRaft quorum is fixed at format time)."""
    return settings.home / "data" / f"{service}-cluster-{nodes}"


def build_services(
    settings: Settings,
    names: tuple[str, ...] | list[str] = SERVICE_NAMES,
    *,
    brokers: int | None = None,
    weaviate_nodes: int | None = None,
) -> list[Service]:
    """The services named (in start order) configured from ``settings``; ``brokers`` and
    ``weaviate_nodes`` override the settings' node counts."""
    unknown = sorted(set(names) - set(SERVICE_NAMES))
    if unknown:
        raise ServiceError(f"unknown service(s) {unknown}; choose from {list(SERVICE_NAMES)}")
    brokers = brokers or settings.kafka_brokers
    weaviate_nodes = weaviate_nodes or settings.weaviate_nodes
    services: list[Service] = []
    if "kafka" in names:
        options = {
            "version": settings.kafka_version, "default_partitions": settings.topic_partitions,
            "message_max_bytes": settings.max_message_bytes + BATCH_OVERHEAD_BYTES,
        }
        if brokers == 1:
            services.append(KafkaService(
                settings.home, settings.kafka_broker_port, settings.kafka_controller_port, **options,
            ))
        else:
            services.extend(kafka_cluster(
                settings.home, cluster_dir(settings, "kafka", brokers),
                node_ports(settings.kafka_broker_port, brokers),
                node_ports(settings.kafka_controller_port, brokers), **options,
            ))
    if "weaviate" in names:
        options = {"api_key": settings.weaviate_api_key, "next_api_key": settings.weaviate_api_key_next,
                   "version": settings.weaviate_version}
        if weaviate_nodes == 1:
            services.append(WeaviateService(
                settings.home, port_of(settings.weaviate_url), settings.weaviate_grpc_port,
                internal_ports=settings.weaviate_internal_ports, **options,
            ))
        else:
            services.extend(weaviate_cluster(
                settings.home, cluster_dir(settings, "weaviate", weaviate_nodes),
                node_ports(port_of(settings.weaviate_url), weaviate_nodes),
                node_ports(settings.weaviate_grpc_port, weaviate_nodes),
                internal_ports=settings.weaviate_internal_ports, **options,
            ))
    return services


def running_pid(settings: Settings, name: str) -> int | None:
    """The pid recorded for ``name`` if that process still runs."""
    state = load_state(run_dir(settings), name)
    if state is not None and pid_alive(state.pid, state.marker):
        return state.pid
    return None


def install(services: list[Service], console: Console) -> None:
    """Fetch/build every service that is not in the cache yet."""
    for service in services:
        if service.is_installed():
            console.print(f"[green]✓[/] {service.name} already installed")
        else:
            service.ensure_installed(console)


def up(settings: Settings, services: list[Service], console: Console, timeout_s: float = 120.0) -> None:
    """Start each service that is not running yet (idempotent), all at once (a cluster's nodes wait for
    each other), and wait until every one is ready; on failure the ones started here are stopped."""
    refuse_other_topology(settings, services)
    pending: list[Service] = []
    for service in services:
        pid = running_pid(settings, service.name)
        if pid is not None:
            console.print(f"[green]✓[/] {service.name} already running (pid {pid})")
            continue
        busy = [f"{name}={port}" for name, port in service.ports().items() if port_is_open(port)]
        if busy:
            raise ServiceError(
                f"{service.name}: port(s) {', '.join(busy)} already in use by another process; "
                "stop it or choose other ports with AMPERE_* settings"
            )
        service.ensure_installed(console)
        pending.append(service)
    if not pending:
        return
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        with console.status(f"Starting {', '.join(s.name for s in pending)} (logs: {pending[0].log_path.parent})"):
            start_together(pending)
            for service in pending:
                save_state(run_dir(settings), service.state())
            for service in pending:
                service.wait_ready(max(1.0, deadline - time.monotonic()))
                save_state(run_dir(settings), service.state())
                console.print(
                    f"[green]✓[/] {service.name} ready in {time.monotonic() - started:.1f}s "
                    f"(pid {service.pid}, ports {service.ports()})"
                )
    except BaseException:
        stop_together(pending)
        for service in pending:
            clear_state(run_dir(settings), service.name)
        raise


def refuse_other_topology(settings: Settings, services: list[Service]) -> None:
    """Raise when a service runs with another node count than asked for (its nodes hold the same ports)."""
    wanted = {service.name for service in services}
    for group in SERVICE_NAMES:
        if not any(name == group or name.startswith(f"{group}-") for name in wanted):
            continue
        other = [st.name for st in recorded_states(run_dir(settings), group)
                 if st.name not in wanted and pid_alive(st.pid, st.marker)]
        if other:
            raise ServiceError(
                f"{group} already runs as {', '.join(other)}; `ampere infra down {group}` first to change its node count"
            )


def down(settings: Settings, names: tuple[str, ...] | list[str], console: Console) -> None:
    """Stop the recorded services and cluster nodes (reverse start order, a cluster's nodes together)
    and forget them."""
    for group in reversed([n for n in SERVICE_NAMES if n in names]):
        states = recorded_states(run_dir(settings), group)
        alive = [state for state in states if pid_alive(state.pid, state.marker)]
        if not alive:
            console.print(f"[dim]{group} not running[/]")
        else:
            with console.status(f"Stopping {', '.join(f'{st.name} (pid {st.pid})' for st in alive)}"), \
                    ThreadPoolExecutor(len(alive)) as pool:
                list(pool.map(lambda st: stop_pid(st.pid, timeout_s=30.0, marker=st.marker), alive))
            console.print(f"[green]✓[/] {', '.join(st.name for st in alive)} stopped")
        for state in states:
            clear_state(run_dir(settings), state.name)


def client_env(settings: Settings) -> dict[str, str]:
    """The AMPERE_* settings that point clients at what `ampere infra up` recorded as running: every
    broker, the first Weaviate node, and the replication that the node counts call for."""
    env: dict[str, str] = {}
    kafka = recorded_states(run_dir(settings), "kafka")
    if kafka:
        factor, min_isr = durability(len(kafka))
        env |= {
            "AMPERE_KAFKA_BROKERS": str(len(kafka)),
            "AMPERE_KAFKA_BOOTSTRAP": ",".join(f"{LOOPBACK}:{st.ports['broker']}" for st in kafka),
            "AMPERE_TOPIC_REPLICATION_FACTOR": str(factor),
            "AMPERE_TOPIC_MIN_INSYNC_REPLICAS": str(min_isr),
        }
    weaviate = recorded_states(run_dir(settings), "weaviate")
    if weaviate:
        env |= {
            "AMPERE_WEAVIATE_NODES": str(len(weaviate)),
            "AMPERE_WEAVIATE_URL": f"http://{LOOPBACK}:{weaviate[0].ports['http']}",
            "AMPERE_WEAVIATE_GRPC_PORT": str(weaviate[0].ports["grpc"]),
            "AMPERE_WEAVIATE_REPLICATION_FACTOR": str(min(len(weaviate), 3)),
            "AMPERE_WEAVIATE_CONSISTENCY": settings.weaviate_consistency,
        }
    return env


@dataclass(frozen=True)
class StatusRow:
    """One line of `ampere infra status`."""

    service: str
    pid: int | None
    ports: dict[str, int]
    data_dir: str
    installed: bool
    running: bool
    ready: bool


def probe_state(state: ServiceState) -> bool:
    """True when the recorded service answers its readiness check on its recorded ports."""
    if "broker" in state.ports:
        return port_is_open(state.ports["broker"]) and broker_answers(f"{LOOPBACK}:{state.ports['broker']}")
    return weaviate_ready(f"http://{LOOPBACK}:{state.ports['http']}")


def status(settings: Settings) -> list[StatusRow]:
    """What runs, where, and whether it answers its readiness probe: every recorded node, else the
    configured single service."""
    rows = []
    for service in build_services(settings, brokers=1, weaviate_nodes=1):
        states = recorded_states(run_dir(settings), service.name)
        for state in states:
            pid = state.pid if pid_alive(state.pid, state.marker) else None
            rows.append(StatusRow(
                service=state.name, pid=pid, ports=state.ports if pid else service.ports(),
                data_dir=state.data_dir, installed=service.is_installed(), running=pid is not None,
                ready=pid is not None and probe_state(state),
            ))
        if not states:
            rows.append(StatusRow(
                service=service.name, pid=None, ports=service.ports(), data_dir=str(service.data_dir),
                installed=service.is_installed(), running=False, ready=False,
            ))
    return rows
