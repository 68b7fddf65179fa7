"""`make gpu-check`: the GPU path, measured where a CUDA device is present.

1. TensorRT parity: ``tests/engines/encode/test_tensorrt.py`` (a skipped parity test is reported as
   not verified, never as passed).
2. Encoder throughput: TensorRT (fp16 engines) vs torch fp16 (CUDA autocast), images/s and texts/s
   per batch size, and the cosine of their vectors.
3. The vLLM summarizer on the same windows as the CPU summarizer bench (``ampere bench summarizer``:
   16 windows with speech spread over the sample), windows/s and name/attribute quality.

Writes ``bench/results/gpu-check.json`` and ``.md``. Without a CUDA device it prints one line, writes
nothing and exits with :data:`NO_CUDA_EXIT`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Exit status when no CUDA device is present (distinct from a failed check, 1, and a usage error, 2).
NO_CUDA_EXIT = 3
PARITY_TEST = "tests/engines/encode/test_tensorrt.py"
BATCHES = (1, 8, 32)


@dataclass(frozen=True)
class CudaDevice:
    """The GPU the checks run on, and who saw it (torch or nvidia-smi)."""

    name: str
    memory_gib: float | None
    seen_by: str


def _torch_device() -> CudaDevice | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return CudaDevice(props.name, round(props.total_memory / 2**30, 1), "torch")


def _smi_device() -> CudaDevice | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_smi(out)


def parse_smi(out: str) -> CudaDevice | None:
    """The first GPU of ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits``."""
    for line in out.splitlines():
        name, _, mem = line.rpartition(",")
        if name.strip():
            try:
                gib = round(float(mem) / 1024, 1)
            except ValueError:
                gib = None
            return CudaDevice(name.strip(), gib, "nvidia-smi")
    return None


def detect_cuda(
    probes: Sequence[Callable[[], CudaDevice | None]] = (_torch_device, _smi_device),
) -> tuple[CudaDevice | None, str]:
    """The CUDA device the checks can use, or None and why not. torch must see it: every check runs
    through torch (a GPU that only nvidia-smi sees is reported, not used)."""
    seen = [d for d in (p() for p in probes) if d is not None]
    usable = [d for d in seen if d.seen_by == "torch"]
    if usable:
        return usable[0], ""
    if seen:
        return None, f"nvidia-smi sees {seen[0].name} but torch cannot use CUDA (a CPU-only torch build or a driver mismatch)"
    return None, "no CUDA device (torch.cuda.is_available() is false and nvidia-smi finds no GPU)"


def junit_outcome(xml_text: str) -> dict[str, Any]:
    """Counts of a pytest JUnit report, and the verdict: passed only when at least one test ran and
    none failed or was skipped (a skipped parity test verified nothing)."""
    root = ET.fromstring(xml_text)
    cases = root.iter("testcase")
    n = {"passed": 0, "failed": 0, "skipped": 0}
    skipped_why: list[str] = []
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            n["failed"] += 1
        elif (s := case.find("skipped")) is not None:
            n["skipped"] += 1
            skipped_why.append(f"{case.get('name')}: {s.get('message', '')}")
        else:
            n["passed"] += 1
    status = "failed" if n["failed"] else "not verified" if n["skipped"] or not n["passed"] else "passed"
    return {"status": status, **n, "skipped_why": skipped_why}


def check_parity(tests: str = PARITY_TEST) -> dict[str, Any]:
    """The TensorRT test file, GPU tests included, under pytest."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests,
                               f"--junitxml={report}"], check=False, capture_output=True, text=True)
        if not report.exists():
            return {"status": "failed", "error": (proc.stdout + proc.stderr)[-2000:]}
        return {"test": tests, **junit_outcome(report.read_text())}


def check_encoder(min_items: int = 256, batches: Sequence[int] = BATCHES) -> dict[str, Any]:
    """TensorRT vs torch fp16 on CUDA: best of 3 interleaved rounds per batch size, and vector cosine."""
    import numpy as np
    import torch

    from engines.encode import load_encoder
    from engines.encode.base import EncodeItem
    from engines.encode.torch_engine import TorchEncoder
    from tooling.bench.encoder import _throughput, bench_images, bench_texts

    trt = load_encoder("tensorrt")
    ref = TorchEncoder(trt.model_dir, device="cuda")

    def fp16(enc):
        def run(items):
            with torch.autocast(device_type="cuda", dtype=torch.float16):
                out = enc.encode(items)
            torch.cuda.synchronize()
            return out
        return run

    engines = {"tensorrt": trt.encode, "torch fp16": fp16(ref)}
    images, texts = bench_images(64), bench_texts(64)
    best: dict[tuple[str, int], dict] = {}
    for _ in range(3):
        for b in batches:
            for name, run in engines.items():
                row = best.setdefault((name, b), {"engine": name, "batch": b, "images_per_s": 0.0, "texts_per_s": 0.0})
                img = _throughput(lambda ims, r=run: r([EncodeItem("product", [im]) for im in ims]), images, b, min_items)
                txt = _throughput(lambda ts, r=run: r([EncodeItem("product", [], t) for t in ts]), texts, b, min_items)
                row["images_per_s"] = max(row["images_per_s"], round(img, 1))
                row["texts_per_s"] = max(row["texts_per_s"], round(txt, 1))
    rows = [best[(e, b)] for e in engines for b in batches]
    for r in rows:
        base = best[("torch fp16", r["batch"])]
        r["images_vs_torch_fp16"] = round(r["images_per_s"] / base["images_per_s"], 2)
        r["texts_vs_torch_fp16"] = round(r["texts_per_s"] / base["texts_per_s"], 2)
    items = [EncodeItem("live", images[i: i + 2], texts[i]) for i in range(0, 32, 2)]
    a, b = trt.encode(items), engines["torch fp16"](items)
    cosine = {k: round(float(np.min((getattr(a, k) * getattr(b, k)).sum(1))), 5) for k in ("fused", "visual", "text")}
    return {"status": "measured", "rows": rows, "min_cosine_tensorrt_vs_torch_fp16": cosine}


def check_vllm(n_windows: int = 16) -> dict[str, Any]:
    """The vLLM summarizer on the CPU summarizer bench's windows: speed and quality."""
    from encoders.dataset import Dataset
    from engines.summarize.quality import score
    from streams.settings import get_settings
    from streams.worker.wiring import build_summarizer_from
    from tooling.bench.summarizer_compare import pick_windows
    from tooling.summaries import moment_request, truths

    settings = get_settings()
    ds = Dataset.load(settings.home / "data" / "sample")
    chosen = pick_windows([m for m in ds.moments if m.asr_text.strip()], n_windows)
    t0 = time.perf_counter()
    engine = build_summarizer_from(settings, "vllm")
    load_s = time.perf_counter() - t0
    requests = [moment_request(m) for m in chosen]
    engine.summarize(requests[:1])  # warm-up (CUDA graphs, compile)
    t0 = time.perf_counter()
    out = engine.summarize(requests)
    wall = time.perf_counter() - t0
    quality = score(out, truths(ds, chosen))
    return {"status": "measured", "model": settings.vllm_model, "windows": len(requests), "load_s": round(load_s, 1),
            "seconds": round(wall, 2), "windows_per_s": round(len(requests) / wall, 2),
            "fallbacks": sum(s.is_fallback for s in out),
            **{k: quality[k] for k in ("name_precision", "name_recall", "attr_precision", "attr_recall", "fallback_rate")}}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "tensorrt_parity": check_parity, "encoder_throughput": check_encoder, "vllm_summarizer": check_vllm,
}


def run_checks(checks: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Every check, each on its own: one that raises is reported with its error, the others still run."""
    out = {}
    for name, check in checks.items():
        t0 = time.perf_counter()
        try:
            out[name] = check()
        except Exception as exc:  # noqa: BLE001 - a broken check is a result, not the end of the run
            out[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}
        out[name]["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def ok(results: dict[str, dict[str, Any]]) -> bool:
    """All checks passed (parity) or measured (benchmarks)."""
    return bool(results) and all(r.get("status") in ("passed", "measured") for r in results.values())


def markdown(result: dict[str, Any]) -> str:
    """The checks as markdown: device, one line per check, the encoder table."""
    d = result["device"]
    lines = [f"GPU check on {d['name']} ({d['memory_gib']} GiB), {result['when']}, host {result['host']}.", "",
             "| check | status | detail |", "| --- | --- | --- |"]
    for name, r in result["checks"].items():
        detail = r.get("error") or ", ".join(f"{k} {v}" for k, v in r.items()
                                             if k not in ("status", "rows", "skipped_why", "error"))
        lines.append(f"| {name} | {r['status']} | {detail} |")
    enc = result["checks"].get("encoder_throughput", {})
    if enc.get("rows"):
        lines += ["", "| engine | batch | images/s | x torch fp16 | texts/s | x torch fp16 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['engine']} | {r['batch']} | {r['images_per_s']} | {r['images_vs_torch_fp16']} | "
                  f"{r['texts_per_s']} | {r['texts_vs_torch_fp16']} |" for r in enc["rows"]]
    return "\n".join(lines) + "\n"


def write_results(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """gpu-check.json and gpu-check.md under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "gpu-check.json", out_dir / "gpu-check.md"]
    paths[0].write_text(json.dumps(result, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(result))
    return paths


def main(argv: Sequence[str] | None = None, detect=None, checks: dict | None = None) -> int:
    """Exit 0 when every check passed, 1 when one failed, :data:`NO_CUDA_EXIT` without a CUDA device."""
    p = argparse.ArgumentParser(prog="python -m tooling.bench.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--only", action="append", choices=sorted(CHECKS), help="Run only this check (repeat).")
    a = p.parse_args(argv)
    device, why = (detect or detect_cuda)()
    if device is None:
        print(f"gpu-check: {why}; nothing run, nothing written", file=sys.stderr)
        return NO_CUDA_EXIT
    chosen = checks if checks is not None else {k: v for k, v in CHECKS.items() if not a.only or k in a.only}
    result = {"device": asdict(device), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "host": f"{platform.node()} ({os.cpu_count()} cores)", "checks": run_checks(chosen)}
    for path in write_results(result, a.out):
        print(f"wrote {path}")
    print(markdown(result))
    return 0 if ok(result["checks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
