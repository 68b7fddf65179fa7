"""The direction of imports is a contract: tooling → streams → engines → encoders, never upwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tooling", "streams", "engines", "encoders")
LINT = "from importlinter.cli import lint_imports; raise SystemExit(lint_imports())"


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_layers_hold() -> None:
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "3 kept, 0 broken" in res.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "*.safetensors", "*.pt"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0
    model = tmp_path / "encoders" / "model.py"
    model.write_text(model.read_text(encoding="utf-8") + "\nfrom engines.store import weaviate_store  # noqa\n", encoding="utf-8")
    res = _lint(tmp_path)
    assert res.returncode != 0 and "encoders.model -> engines.store.weaviate_store" in res.stdout, res.stdout[-2000:]
