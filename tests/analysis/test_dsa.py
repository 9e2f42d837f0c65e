"""Dynamical similarity analysis (Ostrow et al. 2023): invariances, and the angular score against the
``dsa-metric`` package (skipped when it is not installed: ``pip install rnnscope[dsa]``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnscope.analysis import compare_activity, delay_embedding, dsa_distance, havok_dmd
from rnnscope.errors import ShapeError


def _rotation_series(omega: float, decay: float, trials: int = 20, T: int = 80, seed: int = 0,
                     units: int = 6) -> np.ndarray:
    """Noisy damped rotations in a random 2-D plane of ``units`` dimensions."""
    rng = np.random.default_rng(seed)
    R = decay * np.array([[math.cos(omega), -math.sin(omega)], [math.sin(omega), math.cos(omega)]])
    x = rng.normal(size=(trials, 2))
    out = []
    for _ in range(T):
        x = x @ R.T + 0.05 * rng.normal(size=x.shape)
        out.append(x)
    Z = np.stack(out, axis=1)
    basis = np.linalg.qr(rng.normal(size=(units, units)))[0][:, :2]
    return Z @ basis.T + 0.01 * rng.normal(size=(trials, T, units))


def test_delay_embedding_and_dmd_of_a_known_rotation():
    X = np.arange(10.0)[:, None] * np.ones((1, 2))
    H = delay_embedding(X, 3)
    assert H.shape == (8, 6) and H[0].tolist() == [2, 2, 1, 1, 0, 0]
    X = _rotation_series(0.3, 0.97)
    A = havok_dmd(X, n_delays=1, rank=2)
    lam = np.linalg.eigvals(A)
    assert np.allclose(np.sort(np.abs(np.angle(lam))), [0.3, 0.3], atol=0.02)
    with pytest.raises(ShapeError):
        delay_embedding(X[:, :3], 5)


def test_dsa_is_invariant_to_an_orthogonal_change_of_basis_but_not_to_other_dynamics():
    X = _rotation_series(0.3, 0.97, seed=0)
    Q = np.linalg.qr(np.random.default_rng(5).normal(size=(6, 6)))[0]
    same = dsa_distance(X, X @ Q, n_delays=3, rank=4)
    other = dsa_distance(X, _rotation_series(0.9, 0.8, seed=1), n_delays=3, rank=4)
    assert same.score < 0.02
    assert other.score > 0.2 and not other.higher_is_similar
    assert math.isnan(other.p_value) and other.permute == "none"
    out = compare_activity(X, X @ Q, metrics=["dsa"])
    assert out["dsa"].score < 0.02


def test_angular_score_against_dsa_metric():
    DSA = pytest.importorskip("DSA")
    X = _rotation_series(0.3, 0.97, seed=0)
    Y = _rotation_series(0.6, 0.9, seed=1)
    ours = dsa_distance(X, Y, n_delays=3, rank=4)
    # the operators: the same eigenvalues as the package's HAVOK DMD
    dmd = DSA.DMD(torch.as_tensor(X, dtype=torch.float64), n_delays=3, rank=4)
    dmd.fit()
    theirs_eig = np.sort_complex(np.linalg.eigvals(dmd.A_v.double().numpy()))
    assert np.allclose(np.sort_complex(np.linalg.eigvals(havok_dmd(X, n_delays=3, rank=4))), theirs_eig, atol=1e-6)
    torch.manual_seed(0)  # the package initialises its optimiser from torch's global RNG
    angular = float(DSA.DSA(X, Y, n_delays=3, rank=4, score_method="angular", iters=1500, lr=5e-3).fit_score())
    # our search over O(n) finds at least as good an alignment, and the two agree
    assert ours.score <= angular + 1e-3
    assert ours.score == pytest.approx(angular, abs=0.03)
    # the package's v2 default score is the Wasserstein distance between eigenvalues, not this angle
    default = float(DSA.DSA(X, Y, n_delays=3, rank=4).fit_score())
    assert abs(default - angular) > 1e-3
