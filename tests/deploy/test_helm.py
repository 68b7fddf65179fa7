"""The Helm chart renders with every values file and each object validates offline, in strict mode:
Kubernetes kinds and KEDA kinds with kubeconform (Kubernetes schemas from PyPI's kubernetes-validate,
KEDA's from its CRDs in its Go module), Strimzi kinds with the validators npm's
@kubernetes-models/strimzi-kafka-operator compiled from Strimzi's CRDs (types, enums, required
fields; the CRDs are open, so unknown fields are not caught there). Then the chart's own rules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.kafka.admin import lifecycle_configs, topic_configs
from streams.kafka.config import BATCH_OVERHEAD_BYTES
from streams.kafka.topics import TopicNames, changelog_topic
from streams.settings import Settings
from tests.deploy import k8s_tools as tools
from tests.deploy.netpol import Pod, allowed

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "ampere-stream"
VALUES = ["values.yaml", "values-dev.yaml", "values-production.yaml"]
#: what an operator must give at install (docs/DEPLOY.md): production's backups go to their own bucket
REQUIRED = {"values-production.yaml": ["--set", "weaviate.backup.s3.bucket=ampere-backups"]}
INGRESS = ["--set", "gateway.ingress.enabled=true", "--set", "gateway.ingress.host=ingest.example.com",
           "--set", "gateway.ingress.tlsSecret=ingest-tls", "--set", "gateway.ingress.className=nginx"]
RENDERS = [(v, REQUIRED.get(v, [])) for v in VALUES] + [("values.yaml", ["--set", "autoscaling.mode=hpa"]),
                                                          ("values.yaml", INGRESS)]
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
SETTING_NAMES = {f"AMPERE_{n.upper()}" for n in Settings.model_fields}


@pytest.fixture(scope="module")
def helm() -> Path:
    return tools.go_binary(*tools.HELM)


@pytest.fixture(scope="module")
def kubeconform() -> Path:
    binary = tools.go_binary(*tools.KUBECONFORM)
    tools.ensure_keda_schemas()
    return binary


def render(helm: Path, values: str, extra: list[str]) -> list[dict]:
    out = subprocess.run(
        [str(helm), "template", "ampere", str(CHART), "--namespace", "ampere",
         "--kube-version", tools.KUBERNETES_VERSION, "-f", str(CHART / values), *extra],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def is_core(obj: dict) -> bool:
    """A kind of Kubernetes itself (``apps/v1``, ``networking.k8s.io/v1``), not of a CRD."""
    group = obj["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def kind_file(obj: dict) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{obj['kind'].lower()}{suffix}.json"


@pytest.mark.parametrize(("values", "extra"), RENDERS, ids=[" ".join([v, *e]) for v, e in RENDERS])
def test_every_object_validates_in_strict_mode(helm: Path, kubeconform: Path, values: str, extra: list[str],
                                               tmp_path: Path) -> None:
    objects = render(helm, values, extra)
    strimzi = [o for o in objects if o["kind"] in STRIMZI_KINDS]
    others = [o for o in objects if o["kind"] not in STRIMZI_KINDS]
    tools.ensure_core_schemas({kind_file(o) for o in others if is_core(o)})

    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(others))
    core = tools.core_schema_dir() / "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
    crds = tools.crd_schema_dir() / "{{ .Group }}" / "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    out = subprocess.run(
        [str(kubeconform), "-strict", "-summary", "-output", "json", "-kubernetes-version", tools.KUBERNETES_VERSION,
         "-schema-location", f"{core}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
         "-schema-location", str(crds), str(manifest)],
        check=False, capture_output=True, text=True, timeout=120,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0, json.dumps([r for r in report["resources"] if r["status"] != "statusValid"], indent=1)
    summary = report["summary"]
    assert summary["valid"] == len(others) and summary["skipped"] == 0, summary

    script = tools.strimzi_validator()
    lines = "".join(json.dumps(o) + "\n" for o in strimzi)
    checked = subprocess.run(["node", str(script)], check=False, input=lines, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- the chart's own rules (default values) ---------------------------------------------------
@pytest.fixture(scope="module")
def default(helm: Path) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in render(helm, "values.yaml", [])}


def _of(objects: dict, kind: str) -> list[dict]:
    return [o for (k, _), o in objects.items() if k == kind]


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def test_topics_users_and_durability(default: dict) -> None:
    topics = {o["spec"]["topicName"]: o["spec"] for o in _of(default, "KafkaTopic")}
    assert set(topics) == {*TopicNames("ampere").all(), changelog_topic(TopicNames("ampere"))}
    assert all(t["replicas"] == 3 and t["config"]["min.insync.replicas"] == 2 for t in topics.values())
    kafka = _of(default, "Kafka")[0]["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2 and kafka["config"]["default.replication.factor"] == 3
    assert {lis["authentication"]["type"] for lis in kafka["listeners"]} == {"scram-sha-512"}
    assert _of(default, "KafkaNodePool")[0]["spec"]["replicas"] == 3
    assert {u["spec"]["authentication"]["type"] for u in _of(default, "KafkaUser")} == {"scram-sha-512"}


def test_secrets_are_referenced_never_inlined(default: dict) -> None:
    assert not _of(default, "Secret")
    users = {u["metadata"]["name"] for u in _of(default, "KafkaUser")}
    for workload in _of(default, "Deployment") + _of(default, "StatefulSet"):
        for c in workload["spec"]["template"]["spec"]["containers"]:
            for name, e in _env(c).items():
                if any(word in name for word in ("PASSWORD", "API_KEY", "ALLOWED_KEYS")):
                    assert "value" not in e and "secretKeyRef" in e["valueFrom"], (c["name"], name)
            refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in _env(c).values() if "valueFrom" in e
                    and "secretKeyRef" in e["valueFrom"]}
            assert refs <= users | {"ampere-weaviate", "ampere-ingest"}, refs


def test_settings_are_settings(default: dict) -> None:
    config = _of(default, "ConfigMap")[0]["data"]
    names = set(config)
    for workload in _of(default, "Deployment"):
        names |= {n for c in workload["spec"]["template"]["spec"]["containers"] for n in _env(c)}
    unknown = {n for n in names if n.startswith("AMPERE_")} - SETTING_NAMES
    assert not unknown
    Settings(**{k.removeprefix("AMPERE_").lower(): v for k, v in config.items()})  # every value parses
    assert config["AMPERE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["AMPERE_WEAVIATE_REPLICATION_FACTOR"] == "3"


def test_weaviate_is_one_cluster_of_three(default: dict) -> None:
    sts = _of(default, "StatefulSet")[0]
    name, spec = sts["metadata"]["name"], sts["spec"]
    env = _env(spec["template"]["spec"]["containers"][0])
    assert spec["replicas"] == 3 and env["RAFT_BOOTSTRAP_EXPECT"]["value"] == "3"
    assert env["CLUSTER_HOSTNAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["CLUSTER_JOIN"]["value"].startswith(f"{spec['serviceName']}.ampere.svc")
    assert env["RAFT_JOIN"]["value"] == ",".join(f"{name}-{i}" for i in range(3))
    headless = default[("Service", spec["serviceName"])]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True


def test_probes_resources_and_disruption_budgets(default: dict) -> None:
    paths = {"worker": ("/livez", "/readyz", 9464), "gateway": ("/healthz", "/readyz", 18400)}
    budgets = [p["spec"]["selector"]["matchLabels"] for p in _of(default, "PodDisruptionBudget")]
    for workload in _of(default, "Deployment") + _of(default, "StatefulSet"):
        pod = workload["spec"]["template"]
        assert any(sel.items() <= pod["metadata"]["labels"].items() for sel in budgets), workload["metadata"]["name"]
        for c in pod["spec"]["containers"]:
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
            assert c["livenessProbe"] and c["readinessProbe"]
            if c["name"] in paths:
                live, ready, port = paths[c["name"]]
                ports = {p["name"]: p["containerPort"] for p in c["ports"]}
                assert c["livenessProbe"]["httpGet"]["path"] == live and c["readinessProbe"]["httpGet"]["path"] == ready
                assert ports[c["livenessProbe"]["httpGet"]["port"]] == port


def test_workers_scale_on_the_lag_of_both_groups(default: dict) -> None:
    scaled = _of(default, "ScaledObject")[0]["spec"]
    worker = next(d for d in _of(default, "Deployment") if d["metadata"]["name"].endswith("-worker"))
    assert scaled["scaleTargetRef"]["name"] == worker["metadata"]["name"] and "replicas" not in worker["spec"]
    groups = {t["metadata"]["consumerGroup"] for t in scaled["triggers"] if t["type"] == "kafka"}
    assert groups == {"ampere-window", "ampere-worker"}
    assert scaled["maxReplicaCount"] <= _of(default, "KafkaTopic")[0]["spec"]["partitions"]


def test_the_window_state_changelog_is_declared_compacted_and_partitioned_like_the_inputs(default: dict) -> None:
    from streams.worker.window_stage import CHANGELOG_CONFIG

    topics = {o["spec"]["topicName"]: o["spec"] for o in _of(default, "KafkaTopic")}
    changelog = topics[changelog_topic(TopicNames("ampere"))]
    assert {k: str(changelog["config"][k]) for k in CHANGELOG_CONFIG} == CHANGELOG_CONFIG
    assert changelog["partitions"] == topics[TopicNames("ampere").asr]["partitions"]


def test_message_limits_agree_with_what_the_producers_send(default: dict) -> None:
    """The broker and the topics took AMPERE_MAX_MESSAGE_BYTES while a producer's batch may be 64 KiB more."""
    limit = Settings().max_message_bytes
    config = next(o for o in _of(default, "ConfigMap") if "AMPERE_MAX_MESSAGE_BYTES" in o.get("data", {}))
    assert int(config["data"]["AMPERE_MAX_MESSAGE_BYTES"]) == limit
    expected = int(topic_configs(Settings(max_message_bytes=limit))["max.message.bytes"])
    assert expected == limit + BATCH_OVERHEAD_BYTES
    assert {int(o["spec"]["config"]["max.message.bytes"]) for o in _of(default, "KafkaTopic")} == {expected}
    broker = _of(default, "Kafka")[0]["spec"]["kafka"]["config"]
    assert int(broker["message.max.bytes"]) == int(broker["replica.fetch.max.bytes"]) == expected


def test_keda_reaches_the_bootstrap_from_its_own_namespace(default: dict) -> None:
    """KEDA resolves a trigger's address in the KEDA namespace: a short service name points nowhere."""
    scaled = _of(default, "ScaledObject")[0]["spec"]
    addresses = {t["metadata"]["bootstrapServers"] for t in scaled["triggers"] if t["type"] == "kafka"}
    assert addresses == {"ampere-kafka-bootstrap.ampere.svc:9093"}, addresses


def _settings_of(objects: dict) -> Settings:
    config = next(o for o in _of(objects, "ConfigMap") if "AMPERE_TOPIC_PREFIX" in o.get("data", {}))["data"]
    return Settings(**{k.removeprefix("AMPERE_").lower(): v for k, v in config.items()})


def test_every_topic_keeps_its_records_as_the_workers_rule_says(default: dict) -> None:
    """The chart's KafkaTopics and the topics a worker creates follow one lifecycle rule."""
    settings = _settings_of(default)
    topics = {o["spec"]["topicName"]: o["spec"]["config"] for o in _of(default, "KafkaTopic")}
    for name in TopicNames("ampere").all():
        want = lifecycle_configs(settings, name)
        assert want, name
        assert {k: str(topics[name][k]) for k in want} == want, name
    assert topics["ampere.products"]["cleanup.policy"] == "compact"
    assert int(topics["ampere.keyframes"]["retention.ms"]) == settings.retention_images_ms == 3_600_000


#: Bytes per second per copy at 10,000 streams (docs/DEPLOY.md "Kafka storage").
PRODUCTION_RATES = {"keyframes": 300e6, "windows": 107e6, "summaries": 213e6, "asr.chunks": 1.5e6,
                    "embeddings": 2.7e6, "tags": 0.7e6, "segments": 0.15e6}


def test_production_retention_fits_the_brokers_disks(helm: Path) -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render(helm, "values-production.yaml", REQUIRED["values-production.yaml"])}
    topics = {o["spec"]["topicName"].removeprefix("ampere."): o["spec"] for o in _of(objects, "KafkaTopic")}
    pool = _of(objects, "KafkaNodePool")[0]["spec"]
    size = pool["storage"]["volumes"][0]["size"] if "volumes" in pool["storage"] else pool["storage"]["size"]
    assert size.endswith("Gi")
    disk = int(size.removesuffix("Gi")) * 2**30
    per_copy = sum(rate * int(topics[name]["config"]["retention.ms"]) / 1000 for name, rate in PRODUCTION_RATES.items())
    per_broker = per_copy * topics["keyframes"]["replicas"] / pool["replicas"]
    assert per_broker <= 0.8 * disk, f"{per_broker / 2**30:.0f} GiB per broker of {size}"



# --- network policies: default deny, then the flows of docs/DEPLOY.md "Network" ------------------
@pytest.fixture(scope="module")
def with_dashboard(helm: Path) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in render(helm, "values.yaml", ["--set", "dashboard.enabled=true"])}


def _pods(objects: dict) -> dict[str, Pod]:
    templates = [o["spec"]["template"] for o in _of(objects, "Deployment") + _of(objects, "StatefulSet")]
    templates += [c["spec"]["jobTemplate"]["spec"]["template"] for c in _of(objects, "CronJob")]
    return {t["metadata"]["labels"]["app.kubernetes.io/component"]: Pod(t["metadata"]["labels"]) for t in templates}


KAFKA = Pod({"strimzi.io/cluster": "ampere", "strimzi.io/kind": "Kafka"})
DNS = Pod({"k8s-app": "kube-dns"}, namespace="kube-system")
PROMETHEUS = Pod({"app": "prometheus"}, namespace="monitoring")
STRANGER = Pod({"app": "something-else"})  # another pod in the release's namespace
OUTSIDER = Pod({"app": "web"}, namespace="default")
INTERNET = Pod({}, namespace="internet")


def test_network_policies_admit_the_designs_flows_and_nothing_else(with_dashboard: dict) -> None:
    policies = _of(with_dashboard, "NetworkPolicy")
    pods = _pods(with_dashboard)
    assert set(pods) == {"worker", "gateway", "dashboard", "weaviate", "store-expire"}
    worker, gateway, dashboard, weaviate, expire = (pods[c] for c in ("worker", "gateway", "dashboard", "weaviate", "store-expire"))
    needed = [
        (worker, KAFKA, 9093), (worker, weaviate, 8080), (worker, weaviate, 50051), (worker, DNS, 53, "UDP"),
        (gateway, KAFKA, 9093), (dashboard, KAFKA, 9093), (dashboard, weaviate, 8080), (expire, weaviate, 50051),
        (PROMETHEUS, worker, 9464), (PROMETHEUS, gateway, 18400), (OUTSIDER, gateway, 18400), (OUTSIDER, dashboard, 8765),
        (weaviate, weaviate, 7000), (weaviate, weaviate, 7000, "UDP"), (weaviate, weaviate, 7001), (weaviate, weaviate, 8300),
        (weaviate, weaviate, 8301), (worker, INTERNET, 443),  # the model packages (modelRegistryEgress)
    ]
    refused = [
        (gateway, weaviate, 8080), (STRANGER, weaviate, 8080), (OUTSIDER, weaviate, 50051),
        (worker, weaviate, 7001), (dashboard, weaviate, 7001), (STRANGER, weaviate, 7001), (gateway, weaviate, 8300),
        (OUTSIDER, worker, 9464), (STRANGER, worker, 9464), (worker, STRANGER, 80), (gateway, INTERNET, 443),
        (weaviate, KAFKA, 9093), (expire, KAFKA, 9093), (dashboard, INTERNET, 443), (weaviate, INTERNET, 80),
        (OUTSIDER, expire, 9464),
    ]
    broker = Pod({**worker.labels, "app.kubernetes.io/component": "kafka", **KAFKA.labels})  # labels copied by Strimzi
    needed += [(broker, broker, 9091), (broker, DNS, 53, "UDP")]  # Strimzi's own policies govern its pods
    for src, dst, port, *proto in needed:
        assert allowed(policies, src, dst, port, *proto), (src.labels, dst.labels, port)
    for src, dst, port, *proto in refused:
        assert not allowed(policies, src, dst, port, *proto), (src.labels, dst.labels, port)


def test_kafkas_listener_admits_only_amperes_clients_and_keda(default: dict) -> None:
    listener = _of(default, "Kafka")[0]["spec"]["kafka"]["listeners"][0]
    peers = listener["networkPolicyPeers"]
    policy = [{"metadata": {"namespace": "ampere"}, "spec": {
        "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": peers, "ports": [{"port": 9093}]}]}}]
    pods = _pods(default)
    for client in (pods["worker"], pods["gateway"], Pod({**pods["worker"].labels, "app.kubernetes.io/component": "dashboard"}),
                   Pod({"app": "keda-operator"}, namespace="keda")):
        assert allowed(policy, client, KAFKA, 9093), client.labels
    for other in (STRANGER, OUTSIDER, pods["weaviate"], pods["store-expire"]):
        assert not allowed(policy, other, KAFKA, 9093), other.labels


def test_the_kubernetes_scrape_config_keeps_the_charts_worker_and_gateway_pods(default: dict) -> None:
    """deploy/prometheus/kubernetes-scrape.yml selects pods by labels and port: the rendered pods must match."""
    import re

    scrape = yaml.safe_load((CHART.parents[1] / "prometheus" / "kubernetes-scrape.yml").read_text())
    deployments = {o["metadata"]["name"]: o for o in _of(default, "Deployment")}
    for job, component in (("ampere-worker", "worker"), ("ampere-gateway", "gateway")):
        (cfg,) = [c for c in scrape["scrape_configs"] if c["job_name"] == job]
        label_rule, port_rule = (r for r in cfg["relabel_configs"] if r.get("action") == "keep")
        pods = [d["spec"]["template"] for d in deployments.values()
                if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component]
        assert pods, component
        for pod in pods:
            labels = pod["metadata"]["labels"]
            value = f"{labels['app.kubernetes.io/name']};{labels['app.kubernetes.io/component']}"
            assert re.fullmatch(label_rule["regex"], value), (job, value)
            ports = [str(p["containerPort"]) for c in pod["spec"]["containers"] for p in c.get("ports", [])]
            assert any(re.fullmatch(port_rule["regex"], p) for p in ports), (job, ports)


def test_the_hpa_selects_labels_the_adapter_serves(helm: Path) -> None:
    """The HPA selected `release: <name>` while the adapter rule summed every label away: it got no metric.
    Its selector must name labels that the scrape puts on the series and the adapter's sum keeps."""
    import re

    objects = render(helm, "values.yaml", ["--set", "autoscaling.mode=hpa"])
    (hpa,) = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    (metric,) = hpa["spec"]["metrics"]
    wanted = metric["external"]["metric"]["selector"]["matchLabels"]
    prometheus = CHART.parents[1] / "prometheus"
    (rule,) = yaml.safe_load((prometheus / "adapter-rules.yml").read_text())["externalRules"]
    assert rule["name"]["as"] == metric["external"]["metric"]["name"]
    kept = {x.strip() for x in re.match(r"\s*sum by \(([^)]*)\)", rule["metricsQuery"]).group(1).split(",")}
    scrape = yaml.safe_load((prometheus / "kubernetes-scrape.yml").read_text())
    (job,) = [c for c in scrape["scrape_configs"] if c["job_name"] == wanted.get("job")]
    on_series = {"job", "instance", "topic", "partition"} | {r["target_label"] for r in job["relabel_configs"] if "target_label" in r}
    assert set(wanted) <= kept & on_series, (wanted, kept, on_series)
    assert "namespace" in kept and rule["resources"]["overrides"]["namespace"] == {"resource": "namespace"}


def test_a_rotation_makes_weaviate_and_the_gateway_take_both_keys_and_moves_the_clients(helm: Path) -> None:
    objects = render(helm, "values.yaml", ["--set", "weaviate.apiKey.nextKey=api-key-next",
                                           "--set", "weaviate.apiKey.clientKey=api-key-next",
                                           "--set", "gateway.apiKey.nextKey=api-key-next"])

    def env_of(spec: dict) -> list[dict]:
        return [e for c in spec["containers"] for e in c.get("env", [])]

    (weaviate,) = [o for o in objects if o["kind"] == "StatefulSet" and "weaviate" in o["metadata"]["name"]]
    listed = env_of(weaviate["spec"]["template"]["spec"])
    env, names = {e["name"]: e for e in listed}, [e["name"] for e in listed]
    assert env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"]["value"] == "$(AMPERE_KEY_CURRENT),$(AMPERE_KEY_NEXT)"
    assert env["AUTHENTICATION_APIKEY_USERS"]["value"] == "ampere,ampere"
    assert names.index("AMPERE_KEY_NEXT") < names.index("AUTHENTICATION_APIKEY_ALLOWED_KEYS")  # $(...) needs it first
    assert env["AMPERE_KEY_NEXT"]["valueFrom"]["secretKeyRef"]["key"] == "api-key-next"
    specs = {o["metadata"]["name"]: o["spec"]["jobTemplate"]["spec"]["template"]["spec"] if o["kind"] == "CronJob"
             else o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "CronJob")}
    clients = [(n, e) for n, s in specs.items() for e in env_of(s) if e["name"] == "AMPERE_WEAVIATE_API_KEY"]
    assert clients and all(e["valueFrom"]["secretKeyRef"]["key"] == "api-key-next" for _, e in clients), clients
    gateway = next(s for n, s in specs.items() if n.endswith("gateway"))
    (nxt,) = [e for e in env_of(gateway) if e["name"] == "AMPERE_INGEST_API_KEY_NEXT"]
    assert nxt["valueFrom"]["secretKeyRef"]["key"] == "api-key-next"
    (plain,) = [o for o in render(helm, "values.yaml", []) if o["kind"] == "StatefulSet" and "weaviate" in o["metadata"]["name"]]
    env = {e["name"]: e for e in env_of(plain["spec"]["template"]["spec"])}
    assert "AMPERE_KEY_NEXT" not in env and env["AUTHENTICATION_APIKEY_USERS"]["value"] == "ampere"


def test_each_kafka_user_may_do_only_its_components_job(with_dashboard: dict) -> None:
    """The dashboard used the worker's user (All on every topic) and the subscriber had no user at all."""
    users = {u["metadata"]["name"].rsplit("-", 1)[-1]: u["spec"]["authorization"]["acls"] for u in _of(with_dashboard, "KafkaUser")}
    assert set(users) == {"worker", "gateway", "dashboard", "subscriber"}

    def grants(acls: list[dict]) -> set[tuple[str, str, str]]:
        return {(a["resource"]["type"], a["resource"].get("name", ""), op) for a in acls for op in a["operations"]}

    outputs = {f"ampere.{t}" for t in ("embeddings", "tags", "segments", "dlq")}
    assert grants(users["dashboard"]) == {("topic", t, op) for t in outputs | {"ampere.products", "ampere.windows"}
                                          for op in ("Read", "Describe")}
    assert grants(users["subscriber"]) == {("topic", t, op) for t in outputs for op in ("Read", "Describe")} | {
        ("group", "subscriber-", "Read"), ("group", "subscriber-", "Describe")}
    writes = {name for kind, name, op in grants(users["gateway"]) if op == "Write"}
    assert writes == {"ampere.asr.chunks", "ampere.keyframes", "ampere.stream.events", "ampere.products"}
    assert not any(op in ("All", "Read", "Delete", "Alter") for _, _, op in grants(users["gateway"]))
    assert [u for u, acls in users.items() if any("All" in a["operations"] for a in acls)] == ["worker"]
    deployments = {d["metadata"]["name"].rsplit("-", 1)[-1]: d for d in _of(with_dashboard, "Deployment")}
    for component in ("dashboard", "gateway", "worker"):
        env = {e["name"]: e for c in deployments[component]["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        assert env["AMPERE_KAFKA_SASL_USERNAME"]["value"].endswith(f"-{component}"), component
        assert env["AMPERE_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"].endswith(f"-{component}"), component


def _ampere_pods(objects: dict) -> dict[str, dict]:
    """Pod specs of Ampere's own workloads (Deployments and CronJobs; Weaviate and Kafka are not ours)."""
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in _of(objects, "Deployment")}
    pods |= {c["metadata"]["name"]: c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in _of(objects, "CronJob")}
    return pods


def test_ampere_pods_run_read_only_under_their_own_account_without_a_token(with_dashboard: dict) -> None:
    (account,) = _of(with_dashboard, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    pods = _ampere_pods(with_dashboard)
    assert {n.rsplit("-", 1)[-1] for n in pods} >= {"worker", "gateway", "dashboard", "expire"}
    for name, pod in pods.items():
        assert pod["serviceAccountName"] == account["metadata"]["name"] and pod["automountServiceAccountToken"] is False, name
        writable = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for c in pod["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.get("/tmp") in writable and mounts.get("/var/lib/ampere") in writable, (name, mounts)
            assert {e["name"]: e.get("value") for e in c["env"]}["HOME"] == "/tmp", name


def test_the_store_jobs_run_an_image_that_ships_the_cli(with_dashboard: dict) -> None:
    """`python -m tooling` is only in the dashboard image (Dockerfile): the jobs ran the worker image."""
    dockerfile = (CHART.parents[2] / "Dockerfile").read_text()
    dashboard_stage = dockerfile.split("AS dashboard", 1)[1].split("FROM ", 1)[0]
    worker_stage = dockerfile.split("AS worker", 1)[1]
    assert "COPY tooling" in dashboard_stage and "tooling" not in worker_stage.replace("tooling/ (CLI", "")
    repo = {d["metadata"]["name"].rsplit("-", 1)[-1]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in _of(with_dashboard, "Deployment")}["dashboard"].split(":")[0]
    for job in _of(with_dashboard, "CronJob"):
        (c,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert c["command"][:3] == ["python", "-m", "tooling"] and c["image"].split(":")[0] == repo, job["metadata"]["name"]



def test_the_gateway_ingress_serves_tls_only_and_refuses_to_render_without_it(helm: Path) -> None:
    objects = render(helm, "values.yaml", INGRESS)
    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]
    (service,) = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"].endswith("-gateway")]
    spec = ingress["spec"]
    assert spec["tls"] == [{"hosts": ["ingest.example.com"], "secretName": "ingest-tls"}]
    assert spec["ingressClassName"] == "nginx"
    (rule,) = spec["rules"]
    assert rule["host"] == "ingest.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    assert not [o for o in render(helm, "values.yaml", []) if o["kind"] == "Ingress"]  # off by default
    done = subprocess.run([str(helm), "template", "ampere", str(CHART), "--kube-version", tools.KUBERNETES_VERSION,
                           "-f", str(CHART / "values.yaml"), "--set", "gateway.ingress.enabled=true",
                           "--set", "gateway.ingress.host=ingest.example.com"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "TLS only" in done.stderr, done.stderr
