"""Hopfield capacity: the AGS replica-symmetric equations at T = 0 and the simulated capacity curve."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import special

from rnnscope.errors import ConfigError
from rnnscope.theory import (
    ALPHA_C_AGS,
    ags_critical_load,
    ags_retrieval,
    hopfield_capacity_curve,
    rate_model_overlap,
)


def test_critical_load_is_amit_gutfreund_sompolinsky():
    alpha_c, m_c = ags_critical_load()
    assert abs(alpha_c - ALPHA_C_AGS) <= 0.002
    assert alpha_c == pytest.approx(0.1379, abs=1e-4)
    assert m_c == pytest.approx(0.967, abs=1e-3)  # AGS: ~1.5-1.7 % wrong bits at alpha_c
    # just below alpha_c the branch exists and ends at m_c; just above it is gone
    sol = ags_retrieval([alpha_c - 1e-7, alpha_c + 1e-4])
    assert sol.exists.tolist() == [True, False]
    assert sol.overlap[0] == pytest.approx(m_c, abs=2e-3) and sol.overlap[1] == 0.0


def test_solution_satisfies_the_three_saddle_point_equations():
    alphas = np.array([0.01, 0.05, 0.1, 0.12, 0.13, 0.137])
    sol = ags_retrieval(alphas)
    m, r, C = sol.overlap, sol.r, sol.C
    np.testing.assert_allclose(m, special.erf(m / np.sqrt(2 * alphas * r)), atol=1e-12)
    np.testing.assert_allclose(C, np.sqrt(2 / (np.pi * alphas * r)) * np.exp(-m**2 / (2 * alphas * r)), atol=1e-12)
    np.testing.assert_allclose(r, 1 / (1 - C) ** 2, rtol=1e-12)
    assert np.all(np.diff(m) < 0)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.13])
def test_solution_agrees_with_direct_iteration_of_the_equations(alpha):
    # independent route: iterate (m, C) from the perfect-retrieval start, m = 1, C = 0
    m, C = 1.0, 0.0
    for _ in range(20000):
        r = 1 / (1 - C) ** 2
        m = special.erf(m / math.sqrt(2 * alpha * r))
        C = math.sqrt(2 / (math.pi * alpha * r)) * math.exp(-m * m / (2 * alpha * r))
    assert ags_retrieval(alpha).overlap[0] == pytest.approx(m, abs=1e-9)


def test_low_load_limit():
    # for small alpha the crosstalk is Gaussian with variance alpha: 1 - m ~ erfc(1 / sqrt(2 alpha))
    for alpha in (0.03, 0.05):
        err = 1 - ags_retrieval(alpha).overlap[0]
        assert err == pytest.approx(special.erfc(1 / math.sqrt(2 * alpha)), rel=0.1)
    assert ags_retrieval(0.0).overlap[0] == 1.0
    assert ags_retrieval([0.2, 0.5]).exists.tolist() == [False, False]
    assert np.isnan(ags_retrieval(0.2).r[0])
    assert ags_retrieval(0.1).error_fraction[0] == pytest.approx((1 - 0.99799927) / 2, abs=1e-7)


def test_simulated_overlap_matches_theory_below_capacity():
    # N = 1000 starting at the patterns: the fixed point reached sits at the RS retrieval overlap
    curve = hopfield_capacity_curve(1000, [0.05, 0.10], n_networks=2, seed=0, progress=False)
    theory = ags_retrieval(curve.alphas).overlap
    assert curve.n_patterns.tolist() == [50, 100]
    np.testing.assert_allclose(curve.mean_overlap, theory, atol=0.002)
    assert curve.fraction_retrieved.tolist() == [1.0, 1.0]


def test_retrieval_breaks_down_above_capacity():
    curve = hopfield_capacity_curve(500, [0.06, 0.25], n_networks=2, seed=1, progress=False)
    assert curve.mean_overlap[0] > 0.999 and curve.fraction_retrieved[0] == 1.0
    # deep in the spin-glass phase the dynamics drift to states of overlap ~0.3 (independent implementation: 0.35 at 0.20)
    assert curve.mean_overlap[1] < 0.5 and curve.fraction_retrieved[1] < 0.05
    assert curve.alpha_half() == pytest.approx(
        0.06 + (1 - 0.5) / (1 - curve.fraction_retrieved[1]) * 0.19)
    d = json.loads(json.dumps(curve.to_dict()))
    assert d["n_units"] == 500 and len(d["overlaps"][0][0]) == 30


def test_curve_is_reproducible_from_its_seed():
    a = hopfield_capacity_curve(300, [0.15], n_networks=1, seed=3, progress=False)
    b = hopfield_capacity_curve(300, [0.15], n_networks=1, seed=3, progress=False)
    np.testing.assert_array_equal(a.overlaps[0], b.overlaps[0])


def test_rate_model_overlap_limits_and_simulation():
    from scipy import optimize

    from rnnscope.dynamics import simulate
    from rnnscope.models import Hopfield

    k = optimize.brentq(lambda v: v - math.tanh(4 * v), 0.5, 1.0)
    assert rate_model_overlap(4.0, 0.0) == pytest.approx(k, abs=1e-10)
    assert rate_model_overlap(0.8, 0.0) == 0.0          # beta < 1: only the trivial fixed point
    assert rate_model_overlap(4.0, 0.05) < k
    net = Hopfield.random(400, 20, seed=0, beta=4.0, tau=10.0, dt=1.0)
    out = simulate(net, torch.zeros(20, 100, 0), net.patterns).outputs[:, -1].diagonal()
    assert float(out.mean()) == pytest.approx(rate_model_overlap(4.0, 0.05), abs=0.002)


@pytest.mark.slow
def test_full_capacity_curve_at_n_1000_matches_the_reference_run():
    curve = hopfield_capacity_curve(1000, [0.10, 0.14, 0.16, 0.17, 0.18, 0.20], n_networks=10, seed=0,
                                    progress=False)
    m = dict(zip(np.round(curve.alphas, 2), curve.mean_overlap))
    assert m[0.10] == pytest.approx(0.999, abs=0.003)
    # tolerances: systematic difference from the independent implementation (40-network means 0.946, 0.760, 0.376)
    # plus two standard errors over 10 networks; see rnnscope.experiments.hopfield
    assert m[0.14] == pytest.approx(0.978, abs=0.045)
    assert m[0.16] == pytest.approx(0.78, abs=0.05)
    assert m[0.20] == pytest.approx(0.35, abs=0.045)
    assert 0.16 <= curve.alpha_half() <= 0.18


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ags_retrieval(-0.1), "'alphas' parameter of ags_retrieval must be loads >= 0"),
        (lambda: hopfield_capacity_curve(1, [0.1]),
         "'n_units' parameter of hopfield_capacity_curve must be an int >= 2"),
        (lambda: hopfield_capacity_curve(100, []), "'alphas' parameter of hopfield_capacity_curve must be a non-empty"),
        (lambda: hopfield_capacity_curve(100, [0.001]), r"round\(alpha N\) >= 1"),
        (lambda: hopfield_capacity_curve(100, [0.1], threshold=1.0), "'threshold' parameter"),
    ],
)
def test_bad_arguments_are_clear_errors(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
