"""The local stack as configured by Settings: install, bring up, tear down, report (used by `ampere infra`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from rich.console import Console

from streams.kafka_conn import BATCH_OVERHEAD_BYTES
from streams.settings import Settings
from tooling.infra.kafka import KafkaService
from tooling.infra.ports import port_is_open
from tooling.infra.process import pid_alive, stop_pid
from tooling.infra.service import Service, ServiceError
from tooling.infra.state import clear_state, load_state, save_state
from tooling.infra.weaviate import WeaviateService

SERVICE_NAMES = ("kafka", "weaviate")


def run_dir(settings: Settings) -> Path:
    """Folder of the state files of services started by `ampere infra up`."""
    return settings.home / "run"


def port_of(url: str) -> int:
    """The port of an http(s) URL (default 80/443)."""
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


def build_services(settings: Settings, names: tuple[str, ...] | list[str] = SERVICE_NAMES) -> list[Service]:
    """The services named (in start order) configured from ``settings``."""
    unknown = sorted(set(names) - set(SERVICE_NAMES))
    if unknown:
        raise ServiceError(f"unknown service(s) {unknown}; choose from {list(SERVICE_NAMES)}")
    services: list[Service] = []
    if "kafka" in names:
        services.append(KafkaService(
            settings.home, settings.kafka_broker_port, settings.kafka_controller_port,
            version=settings.kafka_version, default_partitions=settings.topic_partitions,
            message_max_bytes=settings.max_message_bytes + BATCH_OVERHEAD_BYTES,
        ))
    if "weaviate" in names:
        services.append(WeaviateService(
            settings.home, port_of(settings.weaviate_url), settings.weaviate_grpc_port,
            api_key=settings.weaviate_api_key, version=settings.weaviate_version,
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
    """Start each service that is not running yet (idempotent) and wait until it is ready."""
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
        started = time.monotonic()
        with console.status(f"Starting {service.name} (log: {service.log_path})"):
            service.start()
            save_state(run_dir(settings), service.state())
            try:
                service.wait_ready(timeout_s)
            except ServiceError:
                service.stop()
                clear_state(run_dir(settings), service.name)
                raise
        save_state(run_dir(settings), service.state())
        console.print(
            f"[green]✓[/] {service.name} ready in {time.monotonic() - started:.1f}s "
            f"(pid {service.pid}, ports {service.ports()})"
        )


def down(settings: Settings, names: tuple[str, ...] | list[str], console: Console) -> None:
    """Stop the recorded services (reverse start order) and forget them."""
    for name in reversed([n for n in SERVICE_NAMES if n in names]):
        state = load_state(run_dir(settings), name)
        if state is None or not pid_alive(state.pid, state.marker):
            console.print(f"[dim]{name} not running[/]")
        else:
            with console.status(f"Stopping {name} (pid {state.pid})"):
                stop_pid(state.pid, timeout_s=30.0, marker=state.marker)
            console.print(f"[green]✓[/] {name} stopped")
        clear_state(run_dir(settings), name)


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


def status(settings: Settings) -> list[StatusRow]:
    """What runs, where, and whether it answers its readiness probe."""
    rows = []
    for service in build_services(settings):
        state = load_state(run_dir(settings), service.name)
        pid = state.pid if state is not None and pid_alive(state.pid, state.marker) else None
        rows.append(StatusRow(
            service=service.name,
            pid=pid,
            ports=state.ports if state is not None and pid else service.ports(),
            data_dir=state.data_dir if state is not None else str(service.data_dir),
            installed=service.is_installed(),
            running=pid is not None,
            ready=pid is not None and service.probe(),
        ))
    return rows
