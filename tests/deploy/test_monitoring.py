"""The Grafana dashboard and the Prometheus alert rules: the rules pass `promtool check rules` (promtool
built with `go install` at a pinned version), every metric they and the dashboard use is one the
workers export, and compose and the Helm chart ship the same files."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.ops.metrics import REGISTRY
from tests.deploy import k8s_tools as tools

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "ampere-rules.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ampere-stream.json"
CHART = ROOT / "deploy" / "helm" / "ampere-stream"
METRIC = re.compile(r"\b(ampere_[a-z0-9_]+)")
PROMQL_BUILTINS = {"up"}  # series Prometheus makes itself


@pytest.fixture(scope="module")
def promtool() -> Path:
    return tools.go_binary(*tools.PROMTOOL)


def _rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def _dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def test_promtool_checks_the_rules(promtool: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(promtool), "check", "rules", str(RULES)], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout + done.stderr


def test_promtool_catches_a_broken_rule(promtool: Path, tmp_path: Path) -> None:
    """The check is real: a rule with a PromQL error fails it."""
    broken = yaml.safe_load(RULES.read_text())
    broken["groups"][0]["rules"][1]["expr"] = "sum(rate(ampere_dlq_messages_total[5m])"
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    done = subprocess.run([str(promtool), "check", "rules", str(path)], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0


def test_promtool_checks_the_compose_prometheus_config(promtool: Path) -> None:
    done = subprocess.run([str(promtool), "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_cover_lag_dead_letters_fallbacks_and_readiness() -> None:
    alerts = {r["alert"]: r["expr"] for r in _rules() if "alert" in r}
    assert {"AmpereConsumerLagGrowing", "AmpereDeadLettersHigh", "AmpereSummaryFallbacks",
            "AmpereWorkerNotReady", "AmpereWorkerDown"} <= set(alerts)
    assert "deriv(" in alerts["AmpereConsumerLagGrowing"]  # growing, not merely high


def test_the_stall_threshold_is_one_figure_in_the_setting_the_health_server_and_the_alert() -> None:
    """/readyz said 60 s while the alert and OPERATIONS.md said 30 s."""
    from streams.ops.health import WorkerStatus
    from streams.settings import Settings

    stall = Settings().stall_after_s
    assert WorkerStatus().stall_after_s == stall
    (expr,) = [r["expr"] for r in _rules() if r.get("alert") == "AmpereWorkerNotReady"]
    assert re.search(r"ampere_loop_heartbeat_timestamp_seconds\)\s*>\s*(\d+)", expr).group(1) == f"{stall:g}"
    assert f"for {stall:g} s" in (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")


def test_every_metric_of_the_rules_and_the_dashboard_is_exported() -> None:
    exported = set(REGISTRY._names_to_collectors)  # every sample name, _total / _bucket / ... included
    exprs = [r["expr"] for r in _rules()] + _dashboard_exprs()
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert len(used) >= 10
    assert not used - exported, f"not exported by streams/ops/metrics.py: {sorted(used - exported)}"
    recorded = {r["record"] for r in _rules() if "record" in r}
    for e in exprs:  # what is left after the metrics: recording rules, PromQL functions and builtins
        for name in re.findall(r"\b([a-z_:][a-z0-9_:]*)\b(?!\s*\()", METRIC.sub("", e)):
            if ":" in name:
                assert name in recorded, f"{name} is no recording rule"


def test_the_exporter_check_catches_a_misspelt_metric() -> None:
    exported = set(REGISTRY._names_to_collectors)
    assert "ampere_dlq_message_total" not in exported and "ampere_dlq_messages_total" in exported


def test_compose_mounts_the_files_and_the_chart_ships_identical_copies() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = [v.split(":")[0] for s in ("prometheus", "grafana") for v in compose["services"][s]["volumes"]]
    for m in mounts:
        if m.startswith("./"):
            assert (ROOT / m).exists(), m
    assert {"./deploy/prometheus/ampere-rules.yml", "./deploy/grafana/dashboards"} <= set(mounts)
    assert (CHART / "files" / RULES.name).read_bytes() == RULES.read_bytes()
    assert (CHART / "files" / DASHBOARD.name).read_bytes() == DASHBOARD.read_bytes()


def test_the_chart_renders_the_dashboard_and_the_rules_as_config_maps() -> None:
    helm = tools.go_binary(*tools.HELM)
    out = subprocess.run([str(helm), "template", "ampere", str(CHART), "--kube-version", tools.KUBERNETES_VERSION,
                          "-f", str(CHART / "values.yaml")], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    maps = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "ConfigMap"}
    dash = maps["ampere-grafana-dashboard"]
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dash["data"]["ampere-stream.json"]) == json.loads(DASHBOARD.read_text())
    assert yaml.safe_load(maps["ampere-alert-rules"]["data"]["ampere-rules.yml"]) == yaml.safe_load(RULES.read_text())


LOSS_ALERT_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'ampere_dlq_messages_total{{topic="c.windows",reason_class="unexpected"}}'
        values: '0 0 1 1 1 1'
      - series: 'ampere_dlq_messages_total{{topic="c.asr.chunks",reason_class="late"}}'
        values: '0 5 10 15 20 25'
      - series: 'ampere_events_total{{event="idle_closes_while_lagging"}}'
        values: '0 0 0 2 2 2'
      - series: 'ampere_events_total{{event="idle_closes"}}'
        values: '0 5 10 15 20 25'
    alert_rule_test:
      - {{eval_time: 1m, alertname: AmpereUnexpectedDeadLetters, exp_alerts: []}}
      - eval_time: 3m
        alertname: AmpereUnexpectedDeadLetters
        exp_alerts: [{{exp_labels: {{severity: critical, topic: c.windows}}}}]
      - {{eval_time: 2m, alertname: AmpereIdleClosesWhileLagging, exp_alerts: []}}
      - eval_time: 4m
        alertname: AmpereIdleClosesWhileLagging
        exp_alerts: [{{exp_labels: {{severity: warning}}}}]
"""


def test_unexpected_dead_letters_and_idle_closes_while_lagging_fire_their_alerts(promtool: Path, tmp_path: Path) -> None:
    """An internal error filed as a dead letter, and an idle close decided while the partition lagged,
    each fire an alert; late and ordinary idle closes alone fire neither (promtool's rule unit tests)."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:  # the expressions and labels are tested; the annotations are prose
        for rule in group["rules"]:
            rule.pop("annotations", None)
    bare = tmp_path / "rules.yml"
    bare.write_text(yaml.safe_dump(rules))
    tests = tmp_path / "loss-alerts.yml"
    tests.write_text(LOSS_ALERT_TESTS.format(rules=json.dumps(str(bare))))
    done = subprocess.run([str(promtool), "test", "rules", str(tests)], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


KUBERNETES_SCRAPE = ROOT / "deploy" / "prometheus" / "kubernetes-scrape.yml"


def test_promtool_checks_the_kubernetes_scrape_config(promtool: Path) -> None:
    done = subprocess.run([str(promtool), "check", "config", "--syntax-only", str(KUBERNETES_SCRAPE)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {c["job_name"] for c in yaml.safe_load(KUBERNETES_SCRAPE.read_text())["scrape_configs"]}
    assert "ampere-worker" in jobs  # the job the worker alerts select


def _annotations(alert: str, **labels: str) -> dict[str, str]:
    (rule,) = [r for r in _rules() if r.get("alert") == alert]
    out = {}
    for k, v in rule["annotations"].items():
        for name, value in labels.items():
            v = v.replace("{{ $labels." + name + " }}", value)
        out[k] = v
    return out


def test_the_worker_alerts_fire_when_workers_stop_and_when_nothing_scrapes_them(promtool: Path, tmp_path: Path) -> None:
    """`up{job="ampere-worker"} == 0` alone never fires where no target of that job exists (on Kubernetes a
    generic pod scrape names the job otherwise): the absent() alert does, and both fire for a dead worker."""
    silent = {"exp_labels": {"severity": "critical"},  # absent() of a comparison keeps no label
              "exp_annotations": _annotations("AmpereNoWorkerScraped")}
    tests = [
        {"interval": "30s", "input_series": [{"series": 'up{job="kubernetes-pods", instance="10.0.0.7:9464"}', "values": "1x30"}],
         "alert_rule_test": [{"eval_time": "7m", "alertname": "AmpereNoWorkerScraped", "exp_alerts": [silent]},
                             {"eval_time": "7m", "alertname": "AmpereWorkerDown", "exp_alerts": []}]},
        {"interval": "30s", "input_series": [{"series": 'up{job="ampere-worker", instance="w1"}', "values": "1x4 0x30"}],
         "alert_rule_test": [
             {"eval_time": "1m", "alertname": "AmpereWorkerDown", "exp_alerts": []},
             {"eval_time": "5m", "alertname": "AmpereWorkerDown", "exp_alerts": [
                 {"exp_labels": {"severity": "critical", "job": "ampere-worker", "instance": "w1"},
                  "exp_annotations": _annotations("AmpereWorkerDown", instance="w1")}]},
             {"eval_time": "9m", "alertname": "AmpereNoWorkerScraped", "exp_alerts": [silent]}]},
        {"interval": "30s", "input_series": [{"series": 'up{job="ampere-worker", instance="w1"}', "values": "1x30"}],
         "alert_rule_test": [{"eval_time": "9m", "alertname": "AmpereNoWorkerScraped", "exp_alerts": []}]},
    ]
    spec = tmp_path / "worker-alerts.test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "30s", "tests": tests}))
    done = subprocess.run([str(promtool), "test", "rules", str(spec)], check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_grafana_has_no_default_password_and_stays_on_loopback() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    env = {k: str(v) for k, v in grafana["environment"].items()}
    assert not any("PASSWORD" in k for k in env), env  # no admin/admin, no ${...:-admin}
    assert env["GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert all(p.startswith("127.0.0.1:") for p in grafana["ports"])
