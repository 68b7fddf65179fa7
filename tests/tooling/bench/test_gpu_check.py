"""The GPU check's logic without a GPU: device detection, verdicts, what it writes and its exit codes."""

from __future__ import annotations

import json

from tooling.bench.gpu_check import (
    NO_CUDA_EXIT,
    CudaDevice,
    detect_cuda,
    junit_outcome,
    main,
    parse_smi,
    run_checks,
)

H200 = CudaDevice("NVIDIA H200", 139.8, "torch")


def test_nvidia_smi_output_is_parsed() -> None:
    assert parse_smi("NVIDIA H200, 143771\nNVIDIA H200, 143771\n") == CudaDevice("NVIDIA H200", 140.4, "nvidia-smi")
    assert parse_smi("") is None


def test_only_a_device_torch_can_use_counts() -> None:
    smi_only = CudaDevice("NVIDIA A10", 22.0, "nvidia-smi")
    device, why = detect_cuda([lambda: None, lambda: smi_only])
    assert device is None and "nvidia-smi sees NVIDIA A10 but torch cannot use CUDA" in why
    assert detect_cuda([lambda: None, lambda: None])[1].startswith("no CUDA device")
    assert detect_cuda([lambda: H200, lambda: smi_only]) == (H200, "")


def test_this_machine_is_told_apart_from_a_gpu_machine() -> None:
    import torch

    device, why = detect_cuda()
    assert (device is not None) == torch.cuda.is_available()
    assert bool(why) == (device is None)


JUNIT = """<testsuites><testsuite>
<testcase name="test_cache_key"/>
<testcase name="test_tensorrt_matches_torch">{inner}</testcase>
</testsuite></testsuites>"""


def test_a_skipped_parity_test_verifies_nothing() -> None:
    assert junit_outcome(JUNIT.format(inner=""))["status"] == "passed"
    skipped = junit_outcome(JUNIT.format(inner='<skipped message="needs a CUDA GPU"/>'))
    assert skipped["status"] == "not verified" and skipped["skipped_why"] == ["test_tensorrt_matches_torch: needs a CUDA GPU"]
    assert junit_outcome(JUNIT.format(inner='<failure message="cosine 0.98"/>'))["status"] == "failed"
    assert junit_outcome("<testsuites><testsuite/></testsuites>")["status"] == "not verified"


def test_without_cuda_it_says_so_in_one_line_and_writes_nothing(tmp_path, capsys) -> None:
    out = tmp_path / "results"
    rc = main(["--out", str(out)], detect=lambda: (None, "no CUDA device (x)"))
    assert rc == NO_CUDA_EXIT != 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gpu-check: no CUDA device")
    assert not out.exists()


def test_with_a_device_every_check_is_written_and_a_broken_one_fails_the_run(tmp_path) -> None:
    def broken() -> dict:
        raise RuntimeError("vllm missing")

    checks = {"tensorrt_parity": lambda: {"status": "passed", "passed": 6},
              "encoder_throughput": lambda: {"status": "measured", "rows": [
                  {"engine": "tensorrt", "batch": 8, "images_per_s": 900.0, "images_vs_torch_fp16": 2.5,
                   "texts_per_s": 4000.0, "texts_vs_torch_fp16": 1.8}]},
              "vllm_summarizer": broken}
    rc = main(["--out", str(tmp_path)], detect=lambda: (H200, ""), checks=checks)
    assert rc == 1
    saved = json.loads((tmp_path / "gpu-check.json").read_text())
    assert saved["device"]["name"] == "NVIDIA H200"
    assert saved["checks"]["vllm_summarizer"]["status"] == "error"
    assert "RuntimeError: vllm missing" in saved["checks"]["vllm_summarizer"]["error"]
    md = (tmp_path / "gpu-check.md").read_text()
    assert "| tensorrt | 8 | 900.0 | 2.5 | 4000.0 | 1.8 |" in md and "| vllm_summarizer | error |" in md


def test_all_passing_checks_exit_zero(tmp_path) -> None:
    assert main(["--out", str(tmp_path)], detect=lambda: (H200, ""), checks={"a": lambda: {"status": "measured"}}) == 0
    assert run_checks({"a": lambda: {"status": "passed"}})["a"]["status"] == "passed"
