"""Golden outputs of the shipped model on fixed synthetic inputs: a silent model change fails here.

After an intended change of the shipped weights, preprocessing or backbones, regenerate with
``AMPERE_REGEN_GOLDEN=1 pytest tests/engines/encode/test_golden.py`` and commit the new file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).with_name("golden_ampere_v1.json")
DIMS = 16  # leading dimensions stored per vector


def _snapshot(encoder, items) -> dict:
    out = encoder.encode(items)
    return {
        "model_version": out.model_version,
        "fused": out.fused[:, :DIMS].round(6).tolist(),
        "visual": out.visual[:, :DIMS].round(6).tolist(),
        "text": out.text[:, :DIMS].round(6).tolist(),
    }


def test_golden_outputs(torch_encoder, items) -> None:
    got = _snapshot(torch_encoder, items)
    if os.environ.get("AMPERE_REGEN_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n", encoding="utf-8")
        pytest.skip("golden file regenerated")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got["model_version"] == want["model_version"], "shipped weights changed: regenerate the golden file"
    for field in ("fused", "visual", "text"):
        np.testing.assert_allclose(np.asarray(got[field]), np.asarray(want[field]), atol=2e-4, err_msg=field)
