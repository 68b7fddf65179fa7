"""The training-free retrieval steps of the visual bench, on small hand-made vectors."""

import numpy as np
import pytest
import torch

from tooling.bench.visual import _gem, _unit, alpha_qe, dba, whitening


def test_gem_lies_between_mean_and_max() -> None:
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 5.0]]]])
    mean, mx = 2.0, 5.0
    g = float(_gem(maps)[0, 0])
    assert mean < g < mx
    assert float(_gem(maps, p=1.0)[0, 0]) == pytest.approx(2.0)


def test_alpha_query_expansion_pulls_a_query_toward_its_neighbours() -> None:
    g = _unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    q = _unit(np.array([[0.8, 0.6]]))
    qe = alpha_qe(q, g, k=2)
    assert qe @ g[0] > q @ g[0] and np.isclose(np.linalg.norm(qe), 1.0)


def test_dba_averages_each_gallery_vector_with_its_nearest_other() -> None:
    g = _unit(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]))
    out = dba(g, k=1)
    assert np.allclose(out[0], _unit(g[0] + g[1])) and np.allclose(np.linalg.norm(out, axis=1), 1.0)


def test_whitening_makes_cosines_independent_of_a_linear_distortion() -> None:
    rng = np.random.default_rng(0)
    train, x = rng.normal(size=(300, 4)), rng.normal(size=(5, 4))
    mix = np.array([[10.0, 0, 0, 0], [3.0, 1.0, 0, 0], [0, 0, 0.1, 0], [0, 2.0, 0, 0.5]])
    plain, distorted = whitening(train, dim=4, shrink=0.0), whitening(train @ mix, dim=4, shrink=0.0)
    a, b = plain(x), distorted(x @ mix)
    assert np.allclose(a @ a.T, b @ b.T, atol=1e-6) and np.allclose(np.linalg.norm(a, axis=1), 1.0)
