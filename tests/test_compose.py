"""docker-compose.yml (the production shape) parses, follows the compose spec and agrees with the
settings and the Dockerfile, for the single broker and for the 3-broker `cluster` profile."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_PATH = ROOT / "docker-compose.yml"
DOCKERFILE_PATH = ROOT / "Dockerfile"
CLUSTER_ENV = ROOT / "deploy" / "compose" / "cluster.env"
COMPOSE_SPEC = ("github.com/compose-spec/compose-go/v2", "v2.16.2")
SETTING_ENV_NAMES = {f"AMPERE_{name.upper()}" for name in Settings.model_fields}
KAFKA_SECURITY = {n for n in SETTING_ENV_NAMES if n.startswith(("AMPERE_KAFKA_SECURITY", "AMPERE_KAFKA_SASL"))}
BROKERS = ["kafka", "kafka-2", "kafka-3"]


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text())


def interpolate(node, env: dict[str, str]):
    """``${NAME:-default}`` / ``${NAME:?error}`` / ``${NAME}`` as compose resolves them with ``env``."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", one, node)


SECRETS = {"AMPERE_WEAVIATE_API_KEY": "weaviate-key", "AMPERE_INGEST_API_KEY": "ingest-key"}
CLUSTER = dict(line.split("=", 1) for line in CLUSTER_ENV.read_text().splitlines() if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def compose(raw: dict) -> dict:
    """The single-broker project (no profile, no variables but the two API keys)."""
    return interpolate(raw, SECRETS)


@pytest.fixture(scope="module")
def cluster(raw: dict) -> dict:
    """The project as `docker compose --env-file deploy/compose/cluster.env up` sees it."""
    return interpolate(raw, {**SECRETS, **CLUSTER})


def _active(project: dict, profiles: set[str]) -> dict[str, dict]:
    return {n: s for n, s in project["services"].items() if not set(s.get("profiles", [])) - profiles}


def _published(service: dict) -> dict[int, int | range]:
    """container port -> host port (or host port range) of ``ports: ["127.0.0.1:HOST[-LAST]:CONTAINER"]``
    (loopback only)."""
    out: dict[int, int | range] = {}
    for entry in service.get("ports", []):
        address, host, container = str(entry).split(":")
        assert address == "127.0.0.1", f"{entry}: publish on the host's loopback"
        first, _, last = host.partition("-")
        out[int(container)] = range(int(first), int(last) + 1) if last else int(host)
    return out


def _settings(service: dict) -> Settings:
    env = {k.removeprefix("AMPERE_").lower(): str(v) for k, v in service["environment"].items()}
    return Settings(**env)


def _image_tag(service: dict) -> str:
    return service["image"].rsplit(":", 1)[1]


def _gpu_reserved(service: dict) -> bool:
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)


def _dockerfile_stages() -> dict[str, str]:
    """build target -> its lines"""
    parts = re.split(r"^FROM \S+ AS (\S+)\n", DOCKERFILE_PATH.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_file_follows_the_compose_spec(raw: dict) -> None:
    """Against compose-spec.json of compose-go (the library of `docker compose`), from its Go module."""
    import jsonschema

    module, version = COMPOSE_SPEC
    done = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], check=False,
                          capture_output=True, text=True, timeout=600, cwd=ROOT.parent,
                          env=dict(os.environ, GOFLAGS="-mod=mod"))
    assert done.returncode == 0, f"go mod download {module}@{version}: {done.stderr[-1000:]}"
    spec = json.loads((Path(json.loads(done.stdout)["Dir"]) / "schema" / "compose-spec.json").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.validators.validator_for(spec)(spec).iter_errors(raw)]
    assert not errors


def test_services_profiles_and_published_ports(compose: dict, cluster: dict) -> None:
    assert set(_active(compose, set())) == {"kafka", "weaviate", "vllm", "worker", "gateway", "dashboard"}
    assert set(_active(cluster, {"cluster"})) == set(_active(compose, set())) | {"kafka-2", "kafka-3"}
    assert CLUSTER["COMPOSE_PROFILES"] == "cluster"
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert _published(service), f"{name} publishes no port"
    defaults = Settings()
    local_rest = urlparse(defaults.weaviate_url).port
    assert _published(services["weaviate"]) == {8080: local_rest, 50051: defaults.weaviate_grpc_port}
    assert _published(services["vllm"]) == {8000: 8000}
    assert _published(services["gateway"]) == {defaults.ingest_port: defaults.ingest_port}
    assert _published(services["dashboard"]) == {defaults.dashboard_port: defaults.dashboard_port}


def test_workers_scale_without_a_port_clash(compose: dict) -> None:
    """`docker compose up --scale worker=3` failed: every replica asked for host port 9464."""
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    ports = _published(worker)[_settings(worker).metrics_port]
    assert isinstance(ports, range) and len(ports) >= 3 and _settings(worker).metrics_port in ports
    others = {p for name, s in compose["services"].items() if name != "worker" for p in _published(s).values()
              if isinstance(p, int)}
    assert not others & set(ports)


def test_kafka_is_kraft_from_the_official_image_at_the_pinned_version(cluster: dict) -> None:
    for name in BROKERS:
        kafka = cluster["services"][name]
        assert kafka["image"].split(":")[0] == "apache/kafka"
        assert _image_tag(kafka) == Settings().kafka_version
        assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    out = {}
    for entry in value.split(","):
        name, address = entry.split("://")
        host, port = address.rsplit(":", 1)
        out[name] = (host, int(port))
    return out


def test_a_host_client_reaches_every_broker_on_loopback(cluster: dict) -> None:
    """EXTERNAL is advertised as 127.0.0.1:<port> and published there; node 1 is the local default."""
    for i, name in enumerate(BROKERS):
        env = cluster["services"][name]["environment"]
        advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
        host, port = advertised["EXTERNAL"]
        assert (host, port) == ("127.0.0.1", Settings().kafka_broker_port + 10 * i)
        assert _published(cluster["services"][name]) == {port: port}
        assert _listeners(env["KAFKA_LISTENERS"])["EXTERNAL"] == ("0.0.0.0", port)
        assert "EXTERNAL:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
        assert advertised["PLAINTEXT"] == (name, 9092)


def test_the_cluster_profile_is_three_voters_at_rf_3_and_min_isr_2(cluster: dict) -> None:
    services = cluster["services"]
    envs = [services[n]["environment"] for n in BROKERS]
    assert sorted(e["KAFKA_NODE_ID"] for e in envs) == [1, 2, 3]
    assert len({e["CLUSTER_ID"] for e in envs}) == 1
    for e in envs:
        assert e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == ",".join(f"{i + 1}@{n}:9093" for i, n in enumerate(BROKERS))
        assert (e["KAFKA_DEFAULT_REPLICATION_FACTOR"], e["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
        assert (e["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"], e["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == ("3", "2")
    for client in ("worker", "gateway", "dashboard"):
        s = _settings(services[client])
        assert s.kafka_bootstrap.split(",") == [f"{n}:9092" for n in BROKERS]
        assert (s.topic_replication_factor, s.topic_min_insync_replicas) == (3, 2)
        assert set(services[client]["depends_on"]) >= set(BROKERS)


def test_single_broker_defaults(compose: dict) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    for client in ("worker", "gateway", "dashboard"):
        s = _settings(compose["services"][client])
        assert s.kafka_bootstrap == "kafka:9092" and s.topic_replication_factor == 1
        assert s.topic_partitions == compose["services"]["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"]


def test_kafka_security_passes_through_to_every_client(raw: dict) -> None:
    for client in ("worker", "gateway", "dashboard"):
        env = raw["services"][client]["environment"]
        for name in KAFKA_SECURITY - {"AMPERE_KAFKA_SSL_CAFILE", "AMPERE_KAFKA_SSL_CERTFILE", "AMPERE_KAFKA_SSL_KEYFILE"}:
            assert str(env.get(name, "")).startswith(f"${{{name}:-"), f"{client}: {name} is not passed through"


def test_weaviate_image_is_the_version_built_locally(compose: dict) -> None:
    weaviate = compose["services"]["weaviate"]
    assert _image_tag(weaviate) == Settings().weaviate_version.removeprefix("v")
    env = weaviate["environment"]
    assert env["DEFAULT_VECTORIZER_MODULE"] == "none"
    assert str(env["GRPC_PORT"]) == "50051"


def test_every_ampere_variable_is_a_setting() -> None:
    for path in (COMPOSE_PATH, DOCKERFILE_PATH, CLUSTER_ENV):
        names = set(re.findall(r"\bAMPERE_[A-Z0-9_]+", path.read_text()))
        names -= {"AMPERE_EXTRAS"}  # the Dockerfile's build argument, not a runtime setting
        unknown = sorted(names - SETTING_ENV_NAMES)
        assert not unknown, f"{path.name} uses AMPERE_* names that are no Settings field: {unknown}"


def test_worker_settings_parse_and_point_at_the_other_services(compose: dict) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert worker["build"]["dockerfile"] == "Dockerfile" and DOCKERFILE_PATH.exists()
    settings = _settings(worker)

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
    assert set(worker["depends_on"]) >= {"kafka", "weaviate", "vllm"}


def test_gpu_services_reserve_an_nvidia_gpu(compose: dict) -> None:
    assert _gpu_reserved(compose["services"]["vllm"])
    assert _gpu_reserved(compose["services"]["worker"])
    assert not any(_gpu_reserved(compose["services"][n]) for n in ("kafka", "gateway", "dashboard"))


def test_api_keys_are_required_and_shared(raw: dict) -> None:
    services = raw["services"]
    allowed = services["weaviate"]["environment"]["AUTHENTICATION_APIKEY_ALLOWED_KEYS"]
    assert allowed.startswith("${AMPERE_WEAVIATE_API_KEY:?")
    for client in ("worker", "dashboard"):
        assert services[client]["environment"]["AMPERE_WEAVIATE_API_KEY"] == allowed
    assert services["gateway"]["environment"]["AMPERE_INGEST_API_KEY"].startswith("${AMPERE_INGEST_API_KEY:?")


def test_images_and_entry_points(compose: dict) -> None:
    stages = _dockerfile_stages()
    assert list(stages)[-1] == "worker"  # a plain `docker build .` gives the worker
    entry = {"worker": "streams.worker", "gateway": "streams.gateway", "dashboard": "tooling"}
    for name, module in entry.items():
        service = compose["services"][name]
        assert service["build"]["target"] == name
        assert f'ENTRYPOINT ["python", "-m", "{module}"' in stages[name]
        assert ("COPY tooling" in stages[name]) == (name == "dashboard"), "only the dashboard ships tooling/"
    for module in ("streams.gateway", "tooling"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], check=False, capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode in (0, 2), done.stderr


def test_health_checks_call_each_service(compose: dict) -> None:
    from streams.ops.probe import probe_url

    services = compose["services"]
    worker = services["worker"]
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "streams.ops.probe", "ready"]
    settings = _settings(worker)
    assert settings.metrics_port in _published(worker) and settings.metrics_host == "0.0.0.0"
    assert probe_url(settings, "ready") == f"http://127.0.0.1:{settings.metrics_port}/readyz"
    stages = _dockerfile_stages()
    assert 'CMD ["python", "-m", "streams.ops.probe", "live"]' in stages["worker"]

    gateway = _settings(services["gateway"])
    assert services["gateway"]["healthcheck"]["test"] == ["CMD", "python", "-m", "streams.gateway", "ready"]
    assert gateway.ingest_host == "0.0.0.0" and gateway.ingest_port in _published(services["gateway"])
    assert 'CMD ["python", "-m", "streams.gateway", "live"]' in stages["gateway"]

    dashboard = _settings(services["dashboard"])
    assert f"127.0.0.1:{dashboard.dashboard_port}/healthz" in " ".join(services["dashboard"]["healthcheck"]["test"])
