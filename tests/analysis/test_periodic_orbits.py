"""Periodic orbits and attractor kinds against known answers: Stuart-Landau (the Hopf normal form),
van der Pol, the 2-unit network x' = -x + s R(theta) tanh(x) (Hopf point at s cos(theta) = 1),
a discrete-time cycle, random networks below and above g = 1."""

from __future__ import annotations

import math

import pytest
import torch

from rnnscope import RateRNN
from rnnscope.analysis import (
    Attractor,
    AttractorScan,
    PeriodicOrbit,
    classify_attractor,
    find_periodic_orbit,
    scan_attractors,
)
from rnnscope.errors import CheckpointError, ConfigError, ConvergenceError, ShapeError
from rnnscope.models import random_network

from _oscillators import Linear, StuartLandau, VanDerPol

f64 = torch.float64
THETA = 1.0


def rotation_network(s_cos: float, tau: float = 10.0, dt: float = 0.5, time: str = "continuous") -> RateRNN:
    """``tau x' = -x + s R(theta) tanh(x)`` with ``s cos(theta) = s_cos``."""
    s = s_cos / math.cos(THETA)
    R = s * torch.tensor([[math.cos(THETA), -math.sin(THETA)], [math.sin(THETA), math.cos(THETA)]], dtype=f64)
    return RateRNN.from_weights(R, tau=tau, dt=dt, time=time, nonlinearity="tanh")


@pytest.mark.parametrize("mu, omega", [(0.5, 2.0), (1.0, 1.0)])
def test_stuart_landau_period_and_multipliers(mu, omega):
    orbit = find_periodic_orbit(StuartLandau(mu, (omega,)), torch.tensor([0.3, 0.1]))
    T = 2 * math.pi / omega
    assert orbit.period == pytest.approx(T, rel=1e-9)
    mu_all = orbit.floquet_multipliers
    assert abs(complex(mu_all[0]) - 1) < 1e-7  # sorted by modulus: the trivial one first
    assert complex(mu_all[1]).real == pytest.approx(math.exp(-2 * mu * T), rel=1e-6)
    assert orbit.is_stable and orbit.stability == "stable"
    radius = orbit.states.norm(dim=-1)
    assert torch.allclose(radius, torch.full_like(radius, math.sqrt(mu)), atol=1e-8)
    assert orbit.residual < 1e-9
    assert orbit.floquet_exponents[1].real == pytest.approx(-2 * mu, rel=1e-6)


def test_van_der_pol_cycle():
    orbit = find_periodic_orbit(VanDerPol(1.0), torch.tensor([2.0, 0.0]))
    assert orbit.period == pytest.approx(6.6633, abs=1e-4)  # mu = 1
    assert abs(orbit.trivial_multiplier - 1) < 1e-7
    assert orbit.is_stable
    # the known amplitude of the relaxation cycle: max x ~ 2.0086 for mu = 1
    assert float(orbit.states[:, 0].max()) == pytest.approx(2.0086, abs=2e-3)


def test_hopf_network_orbit_matches_the_normal_form():
    # above the Hopf point the averaged normal form gives r*^2 = 4 (s cos - 1) / (s cos) and a
    # frequency tan(theta) / tau on the cycle (see docs/attractors.md)
    eps = 0.05
    orbit = find_periodic_orbit(rotation_network(1 + eps), torch.tensor([0.2, 0.0]))
    assert orbit.period == pytest.approx(2 * math.pi * 10.0 / math.tan(THETA), rel=2e-3)
    assert orbit.amplitude == pytest.approx(2 * math.sqrt(eps / (1 + eps)), rel=0.05)
    assert orbit.is_stable and abs(orbit.trivial_multiplier - 1) < 1e-7
    # the other multiplier: exp(-2 (s cos - 1) T / tau) to leading order
    assert abs(complex(orbit.floquet_multipliers[1])) == pytest.approx(math.exp(-2 * eps * orbit.period / 10.0),
                                                                     rel=0.05)


def test_discrete_cycle_of_a_rotation_map():
    # x' = W tanh(x) with W a quarter turn times 2: the map commutes with the quarter turn, and
    # from a generic start it settles on a 4-cycle (x, Wx-ish, -x, ...)
    W = torch.tensor([[0.0, -2.0], [2.0, 0.0]], dtype=f64)
    model = RateRNN.from_weights(W, time="discrete", nonlinearity="tanh", bias=False).for_analysis()
    orbit = find_periodic_orbit(model, torch.tensor([0.5, 0.1]), transient=200.0)
    k = orbit.n_steps
    assert k == 4 and orbit.period == pytest.approx(4 * model.dt)
    x = orbit.states[0]
    y = x
    for _ in range(k):
        y = model.vector_field(y)
    assert float((y - x).norm()) < 1e-9
    # multipliers: eigenvalues of the product of the Jacobians along the cycle
    P = torch.eye(2, dtype=f64)
    for s in orbit.states:
        P = model.jacobian(s) @ P
    expect = torch.linalg.eigvals(P)
    got = orbit.floquet_multipliers
    assert torch.allclose(torch.sort(expect.abs()).values, torch.sort(got.abs()).values, atol=1e-9)
    assert orbit.is_stable == bool((got.abs() <= 1 + 1e-6).all())


def test_orbit_on_a_gru():
    # any model: a GRU in discrete time with a cycle built from a rotation in its candidate gate
    from rnnscope.models import GRU

    model = GRU(1, 2, None, dt=10.0, seed=0).for_analysis()
    with torch.no_grad():
        model.core.weight_hh_l0.zero_()
        model.core.bias_hh_l0.zero_()
        model.core.bias_ih_l0.zero_()
        model.core.bias_ih_l0[2:4] = -10.0  # z ~ 0: h' = n = tanh(W_hn h)
        model.core.weight_hh_l0[4:6] = torch.tensor([[0.0, -3.0], [3.0, 0.0]], dtype=f64)
    orbit = find_periodic_orbit(model, torch.tensor([0.5, 0.2]), transient=2000.0)
    assert orbit.n_steps == 4 and orbit.residual < 1e-9


def test_orbit_save_load_and_errors(tmp_path):
    orbit = find_periodic_orbit(StuartLandau(1.0, (1.0,)), torch.tensor([1.0, 0.0]), period_guess=6.0, n_samples=32)
    assert orbit.states.shape == (32, 2) and orbit.period == pytest.approx(2 * math.pi, rel=1e-9)
    back = PeriodicOrbit.load(orbit.save(tmp_path / "orbit"))
    assert back.period == orbit.period and torch.equal(back.floquet_multipliers, orbit.floquet_multipliers)
    assert "stable" in repr(back)
    with pytest.raises(CheckpointError):
        PeriodicOrbit.load(tmp_path / "missing.npz")
    with pytest.raises(ShapeError, match="'initial_state' parameter of find_periodic_orbit"):
        find_periodic_orbit(StuartLandau(), torch.zeros(3))
    with pytest.raises(ConfigError, match="'period_guess'"):
        find_periodic_orbit(StuartLandau(), torch.ones(2), period_guess=-1.0)
    # a stable focus has no orbit: the trajectory settles on the fixed point
    with pytest.raises(ConvergenceError, match="fixed point"):
        find_periodic_orbit(rotation_network(0.8), torch.tensor([0.5, 0.0]), transient=2000.0)


# ---------------------------------------------------------------------------------------------- attractors
def test_classify_limit_cycle_fixed_point_torus_and_divergence():
    cycle = classify_attractor(rotation_network(1.1))
    assert cycle.kind == "limit cycle", cycle
    assert cycle.period == pytest.approx(cycle.orbit.period) and cycle.orbit.is_stable
    assert abs(cycle.largest_exponent) < cycle.zero_tol
    point = classify_attractor(rotation_network(0.7))
    assert point.kind == "fixed point", point
    assert float(point.point.norm()) < 1e-8 and math.isnan(point.period)
    # the real part of the eigenvalues at 0: (s cos - 1) / tau
    assert float(point.point_eigenvalues.real.max()) == pytest.approx(-0.03, abs=1e-9)
    torus = classify_attractor(StuartLandau(0.5, (1.0, math.sqrt(2.0))), transient=40.0)
    assert torus.kind == "quasi-periodic", torus
    assert torus.exponents[:2].abs().max() < torus.zero_tol and float(torus.exponents[2]) < -0.5
    diverging = classify_attractor(Linear(torch.tensor([[0.5, 0.0], [0.0, -1.0]], dtype=f64)))
    assert diverging.kind == "diverging" and diverging.exponents.numel() == 0


@pytest.mark.parametrize("g, kind", [(0.5, "fixed point"), (2.0, "chaotic")])
def test_random_networks_below_and_above_g_1(g, kind):
    a = classify_attractor(random_network(400 if g > 1 else 100, g, seed=0), seed=0)
    assert a.kind == kind, a
    if kind == "chaotic":
        # independent implementation (docs/references.md): +0.10 per tau at g = 2 (N = 1000); a 400-unit network is near it
        assert 0.04 < a.largest_exponent < 0.16
    else:
        assert float(a.point.norm()) < 1e-6 and a.amplitude < 1e-3


def test_attractor_save_load(tmp_path):
    a = classify_attractor(rotation_network(1.1), n_samples=50)
    back = Attractor.load(a.save(tmp_path / "a.npz"))
    assert back.kind == a.kind and back.orbit.period == a.orbit.period
    assert torch.equal(back.trajectory, a.trajectory) and back.evidence == a.evidence
    p = classify_attractor(rotation_network(0.7), n_samples=10)
    back = Attractor.load(p.save(tmp_path / "p.npz"))
    assert back.kind == "fixed point" and torch.equal(back.point, p.point)


def test_scan_finds_the_hopf_point():
    values = [0.9, 0.96, 1.04, 1.08, 1.12]
    scan = scan_attractors(rotation_network, values, parameter="s cos(theta)", progress=False)
    assert scan.kinds[:2] == ("fixed point", "fixed point")
    assert scan.kinds[2:] == ("limit cycle",) * 3
    assert 0.96 < scan.first("limit cycle") <= 1.04
    # the amplitude grows as the square root of the distance to the Hopf point: the normal form's
    # r*^2 = 4 eps / (1 + eps) to leading order, and a^2 extrapolates to zero at s cos(theta) = 1
    a = scan.amplitude[2:]
    eps = torch.tensor(values[2:], dtype=f64) - 1
    assert torch.allclose(a, 2 * (eps / (1 + eps)).sqrt(), rtol=0.12)
    assert abs(float(a[0] / (2 * (eps[0] / (1 + eps[0])).sqrt())) - 1) < 0.05
    a2 = a[:2] ** 2
    hopf = values[2] - float(a2[0]) * (values[3] - values[2]) / float(a2[1] - a2[0])
    assert hopf == pytest.approx(1.0, abs=0.01)
    assert torch.isnan(scan.period[:2]).all() and (scan.period[2:] > 0).all()
    assert scan.to_dict()["rows"][0]["kind"] == "fixed point"


def test_scan_rejects_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="'build' parameter of scan_attractors"):
        scan_attractors(3, [1.0])
    with pytest.raises(ConfigError, match="return an AbstractRNN"):
        scan_attractors(lambda v: None, [1.0], progress=False)
    with pytest.raises(ConfigError, match="'values'"):
        scan_attractors(rotation_network, [])
    scan = scan_attractors(rotation_network, [0.8], progress=False)
    back = AttractorScan.load(scan.save(tmp_path / "scan"))
    assert back.kinds == ("fixed point",) and back.parameter == "parameter"
