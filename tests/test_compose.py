"""docker-compose.yml (the production shape) parses and agrees with the settings and the Dockerfile."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_PATH = ROOT / "docker-compose.yml"
DOCKERFILE_PATH = ROOT / "Dockerfile"
SETTING_ENV_NAMES = {f"AMPERE_{name.upper()}" for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text())


def _published(service: dict) -> dict[int, int]:
    """container port -> host port of ``ports: ["HOST:CONTAINER"]``."""
    pairs = (str(entry).split(":") for entry in service.get("ports", []))
    return {int(container): int(host) for host, container in pairs}


def _image_tag(service: dict) -> str:
    return service["image"].rsplit(":", 1)[1]


def _gpu_reserved(service: dict) -> bool:
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)


def test_services_and_published_ports(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"kafka", "weaviate", "vllm", "worker"}
    assert _published(services["kafka"]) == {9092: 9092}
    assert _published(services["weaviate"]) == {8080: 8080, 50051: 50051}
    assert _published(services["vllm"]) == {8000: 8000}


def test_kafka_is_kraft_from_the_official_image_at_the_pinned_version(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].split(":")[0] == "apache/kafka"
    assert _image_tag(kafka) == Settings().kafka_version
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_weaviate_image_is_the_version_built_locally(compose: dict) -> None:
    weaviate = compose["services"]["weaviate"]
    assert _image_tag(weaviate) == Settings().weaviate_version.removeprefix("v")
    env = weaviate["environment"]
    assert env["DEFAULT_VECTORIZER_MODULE"] == "none"
    assert str(env["GRPC_PORT"]) == "50051"


def test_every_ampere_variable_is_a_setting() -> None:
    for path in (COMPOSE_PATH, DOCKERFILE_PATH):
        names = set(re.findall(r"\bAMPERE_[A-Z0-9_]+", path.read_text()))
        names -= {"AMPERE_EXTRAS"}  # the Dockerfile's build argument, not a runtime setting
        unknown = sorted(names - SETTING_ENV_NAMES)
        assert not unknown, f"{path.name} uses AMPERE_* names that are no Settings field: {unknown}"


def test_worker_settings_parse_and_point_at_the_other_services(compose: dict) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert worker["build"]["dockerfile"] == "Dockerfile" and DOCKERFILE_PATH.exists()
    env = {k: str(v) for k, v in worker["environment"].items() if not str(v).startswith("${")}
    settings = Settings(**{k.removeprefix("AMPERE_").lower(): v for k, v in env.items()})

    host, port = settings.kafka_bootstrap.split(":")
    assert services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{host}:{port}"

    weaviate_url = urlparse(settings.weaviate_url)
    assert weaviate_url.hostname == "weaviate"
    assert weaviate_url.port in _published(services["weaviate"])
    assert settings.weaviate_grpc_port in _published(services["weaviate"])

    vllm_command = services["vllm"]["command"]
    llm_url = urlparse(settings.openai_base_url)
    assert llm_url.hostname == "vllm"
    assert vllm_command[vllm_command.index("--port") + 1] == str(llm_url.port)
    assert vllm_command[vllm_command.index("--served-model-name") + 1] == settings.openai_model
    assert vllm_command[vllm_command.index("--model") + 1] == settings.vllm_model
    assert set(worker["depends_on"]) == {"kafka", "weaviate", "vllm"}


def test_gpu_services_reserve_an_nvidia_gpu(compose: dict) -> None:
    assert _gpu_reserved(compose["services"]["vllm"])
    assert _gpu_reserved(compose["services"]["worker"])
    assert not _gpu_reserved(compose["services"]["kafka"])


def test_api_key_is_shared_by_weaviate_and_the_worker(compose: dict) -> None:
    services = compose["services"]
    allowed = services["weaviate"]["environment"]["AUTHENTICATION_APIKEY_ALLOWED_KEYS"]
    assert allowed == services["worker"]["environment"]["AMPERE_WEAVIATE_API_KEY"]
    assert "AMPERE_WEAVIATE_API_KEY" in allowed


def test_worker_health_checks_call_the_worker_endpoints(compose: dict) -> None:
    from streams.probe import probe_url

    worker = compose["services"]["worker"]
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "streams.probe", "ready"]
    env = {k.removeprefix("AMPERE_").lower(): str(v) for k, v in worker["environment"].items() if not str(v).startswith("${")}
    settings = Settings(**env)
    assert settings.metrics_port in _published(worker) and settings.metrics_host == "0.0.0.0"
    assert probe_url(settings, "ready") == f"http://127.0.0.1:{settings.metrics_port}/readyz"
    docker_health = re.search(r"^HEALTHCHECK .*CMD (\[.*\])$", DOCKERFILE_PATH.read_text(), re.MULTILINE)
    assert docker_health and docker_health.group(1) == '["python", "-m", "streams.probe", "live"]'
