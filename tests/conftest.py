"""Session fixtures that give tests a REAL Kafka broker and a REAL Weaviate server.

Each service starts only when a test asks for its fixture (unit-only runs stay fast), on free loopback
ports with its data in a temp folder, and stops at the end of the session. Set ``AMPERE_KAFKA_BOOTSTRAP``
or ``AMPERE_WEAVIATE_URL`` (+ ``AMPERE_WEAVIATE_GRPC_PORT``, ``AMPERE_WEAVIATE_API_KEY``) to use running
ones instead. ``weaviate_restart`` always starts a private server, so its restarts disturb no other
test; ``private_kafka`` and ``private_weaviate`` are the same for a whole module (fault tests stop them).

``isolated_settings`` builds the Settings of one test on those services: a unique topic prefix (so
unique consumer groups), a unique collection prefix and a home folder of its own that shares only the
read-only model cache.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import pytest

from streams.settings import Settings
from tooling.infra import KafkaService, ServiceError, WeaviateService, free_ports

READY_TIMEOUT_S = 180.0
Service = TypeVar("Service", KafkaService, "ManagedWeaviate")
START_ATTEMPTS = 3


@dataclass(frozen=True)
class WeaviateEndpoint:
    """Where a Weaviate server answers (pass ``host``, ``http_port``, ``grpc_port`` to the v4 client)."""

    http_url: str
    host: str
    http_port: int
    grpc_port: int
    api_key: str | None = None


class ManagedWeaviate:
    """A Weaviate server known to the tests; ``restart()`` works when the tests started it themselves."""

    def __init__(self, endpoint: WeaviateEndpoint, service: WeaviateService | None) -> None:
        self.endpoint = endpoint
        self.service = service

    def restart(self) -> float:
        """Stop the server and start it again on the same data folder and ports; returns seconds until ready."""
        if self.service is None:
            raise RuntimeError("cannot restart a Weaviate server that the tests did not start")
        self.service.stop()
        self.service.start()
        return self.service.wait_ready(READY_TIMEOUT_S)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


def _settings() -> Settings:
    return Settings()


def _start_ready(service: KafkaService | WeaviateService) -> None:
    service.ensure_installed()
    service.start()
    try:
        service.wait_ready(READY_TIMEOUT_S)
    except BaseException:
        service.stop()
        raise


def _with_port_retries(start, data_dir: Path):
    """Call ``start(folder)`` with a fresh folder per try: a free port can be taken before the server binds it."""
    for attempt in range(START_ATTEMPTS):
        try:
            return start(data_dir / f"try{attempt}")
        except ServiceError:
            if attempt == START_ATTEMPTS - 1:
                raise


def start_kafka(data_dir: Path) -> KafkaService:
    """Start a private Kafka broker in ``data_dir`` on free ports (the caller stops it)."""

    def start(folder: Path) -> KafkaService:
        settings = _settings()
        broker_port, controller_port = free_ports(2)
        service = KafkaService(
            settings.home, broker_port, controller_port, folder, version=settings.kafka_version
        )
        _start_ready(service)
        return service

    return _with_port_retries(start, data_dir)


def start_weaviate(data_dir: Path, api_key: str | None = None) -> ManagedWeaviate:
    """Start a private Weaviate server in ``data_dir`` on free ports (the caller stops it)."""

    def start(folder: Path) -> ManagedWeaviate:
        settings = _settings()
        http_port, grpc_port = free_ports(2)
        service = WeaviateService(
            settings.home, http_port, grpc_port, folder, api_key=api_key, version=settings.weaviate_version
        )
        _start_ready(service)
        endpoint = WeaviateEndpoint(service.http_url, "127.0.0.1", http_port, grpc_port, api_key)
        return ManagedWeaviate(endpoint, service)

    return _with_port_retries(start, data_dir)


@contextmanager
def running(service: Service) -> Iterator[Service]:
    """A started service, stopped at the end whatever the test did to it."""
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real Kafka broker (started here unless AMPERE_KAFKA_BOOTSTRAP is set)."""
    given = os.environ.get("AMPERE_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    with running(start_kafka(tmp_path_factory.mktemp("kafka"))) as service:
        yield service.bootstrap


@pytest.fixture(scope="session")
def weaviate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedWeaviate]:
    """A real Weaviate server (started here unless AMPERE_WEAVIATE_URL is set)."""
    given = os.environ.get("AMPERE_WEAVIATE_URL")
    if given:
        settings = _settings()
        parsed = urlparse(given)
        endpoint = WeaviateEndpoint(
            given.rstrip("/"), parsed.hostname or "127.0.0.1", parsed.port or 80,
            settings.weaviate_grpc_port, settings.weaviate_api_key,
        )
        yield ManagedWeaviate(endpoint, None)
        return
    with running(start_weaviate(tmp_path_factory.mktemp("weaviate"))) as server:
        yield server


@pytest.fixture(scope="session")
def weaviate_endpoint(weaviate_server: ManagedWeaviate) -> WeaviateEndpoint:
    """Endpoint of the session's real Weaviate server."""
    return weaviate_server.endpoint


@pytest.fixture
def weaviate_restart(tmp_path: Path) -> Iterator[ManagedWeaviate]:
    """A private Weaviate server that the test may ``restart()`` (the shared one is never disturbed)."""
    with running(start_weaviate(tmp_path / "weaviate")) as server:
        yield server


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaService]:
    """A real broker of this module alone, that its tests may ``stop()`` and ``start()``."""
    with running(start_kafka(tmp_path_factory.mktemp("private-kafka"))) as service:
        yield service


@pytest.fixture(scope="module")
def private_weaviate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedWeaviate]:
    """A real Weaviate server of this module alone, that its tests may restart or stop."""
    with running(start_weaviate(tmp_path_factory.mktemp("private-weaviate"))) as server:
        yield server


#: Folders of the cache that an isolated home shares (read-mostly, large): the models and their packages.
SHARED_HOME_FOLDERS = ("models", "wheels", "dl")


def isolated_home(folder: Path) -> Path:
    """A home folder of one test: its own state (counters, Faust data, logs), the shared model cache linked in."""
    folder.mkdir(parents=True, exist_ok=True)
    shared = _settings().home
    for name in SHARED_HOME_FOLDERS:
        if (shared / name).is_dir() and not (folder / name).exists():
            (folder / name).symlink_to(shared / name, target_is_directory=True)
    return folder


IsolatedSettings = Callable[..., Settings]


@pytest.fixture
def isolated_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> IsolatedSettings:
    """Factory of the Settings of one test on the real services: ``isolated_settings(**overrides)``."""
    return settings_factory(request, tmp_path_factory)


def settings_factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> IsolatedSettings:
    """``isolated_settings`` for fixtures of a wider scope (pass their own ``request``).

    Each call gets a unique topic prefix (hence consumer groups), collection prefix and home, the
    extractive summarizer and the ONNX encoder. The broker is the session's (``kafka_bootstrap``) unless
    ``kafka=`` names a ``KafkaService``; Weaviate the session's (``weaviate_server``) unless ``weaviate=``
    names a ``ManagedWeaviate``, or ``weaviate=False`` for a test that needs none (then it is not started).
    """

    def make(*, kafka: KafkaService | None = None, weaviate: ManagedWeaviate | bool = True, **overrides) -> Settings:
        tag = uuid.uuid4().hex[:8]
        fields: dict = {
            "home": isolated_home(tmp_path_factory.mktemp(f"home-{tag}")),
            "kafka_bootstrap": kafka.bootstrap if kafka else request.getfixturevalue("kafka_bootstrap"),
            "topic_prefix": f"t{tag}", "collection_prefix": f"T{tag}",
            "summarizer": "extractive", "encoder_engine": "onnx",
        }
        if weaviate is not False:
            server = weaviate if isinstance(weaviate, ManagedWeaviate) else request.getfixturevalue("weaviate_server")
            ep = server.endpoint
            fields |= {"weaviate_url": ep.http_url, "weaviate_grpc_port": ep.grpc_port, "weaviate_api_key": ep.api_key}
        return Settings(**(fields | overrides))

    return make
