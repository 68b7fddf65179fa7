"""`make image` builds exactly the images the chart and compose run, tagged as they expect (the build
tool is replaced by `echo`: no container engine here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "ampere-stream"


def _make_image(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "image", *args], cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)


def test_make_image_builds_each_dockerfile_target_the_chart_and_compose_run() -> None:
    done = _make_image("IMAGE_TOOL=echo", "IMAGE_PUSH=1")
    assert done.returncode == 0, done.stdout + done.stderr
    builds = re.findall(r"^build --target (\S+) --build-arg AMPERE_EXTRAS=(\S*) -t (\S+) \.$", done.stdout, re.MULTILINE)
    pushes = re.findall(r"^push (\S+)$", done.stdout, re.MULTILINE)
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)) - {"runtime"}
    assert {t for t, _, _ in builds} == stages == {"worker", "gateway", "dashboard"}
    assert {t: e for t, e, _ in builds} == {"worker": "gpu", "gateway": "", "dashboard": ""}
    tags = {t: ref for t, _, ref in builds}
    assert pushes == list(tags.values())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for target in stages:
        assert tags[target] == f"{values[target]['image']['repository']}:{chart['appVersion']}", target
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for target in stages:
        assert compose[target]["image"] == tags[target], target


def test_make_image_says_what_it_needs_without_a_container_engine() -> None:
    done = _make_image("IMAGE_TOOL=")
    assert done.returncode != 0 and "needs docker or podman" in done.stdout + done.stderr
