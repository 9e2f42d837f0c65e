"""Tests of the linearisation: Jacobians against autograd, eigen-decompositions, time constants,
selection vectors and the line-attractor check."""

from __future__ import annotations

import math

import pytest
import torch

from rnnscope import RateRNN
from rnnscope.analysis import (
    FixedPoints,
    LineAttractorReport,
    Linearisation,
    find_fixed_points,
    line_attractor_report,
    linearise,
)
from rnnscope.errors import ConfigError, ShapeError

f64 = torch.float64


@pytest.mark.parametrize("time", ["continuous", "discrete"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "softplus"])
@pytest.mark.parametrize("rank", [None, 2])
def test_jacobian_matches_autograd(time, nonlinearity, rank):
    model = RateRNN(3, 16, 1, time=time, nonlinearity=nonlinearity, rank=rank, tau=50.0, dt=10.0, seed=1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 16, generator=gen)
    u = torch.randn(3, generator=gen)
    lin = linearise(model, x, u)
    m64 = model.to(f64)
    for i in range(4):
        ref = torch.autograd.functional.jacobian(lambda s: m64.vector_field(s, u.to(f64)), x[i].to(f64))
        assert torch.allclose(lin.jacobian[i], ref, atol=1e-12)
    assert lin.jacobian.dtype == f64 and lin.states.shape == (4, 16) and lin.inputs.shape == (4, 3)


def test_eigen_decomposition_is_biorthogonal():
    model = RateRNN(2, 20, 1, g=1.5, tau=20.0, dt=5.0, seed=3)
    x = torch.randn(5, 20, generator=torch.Generator().manual_seed(1))
    lin = linearise(model, x)
    A = lin.jacobian.to(torch.complex128)
    R, L, lam = lin.right_eigenvectors, lin.left_eigenvectors, lin.eigenvalues
    eye = torch.eye(20, dtype=torch.complex128)
    assert torch.allclose(A @ R, R * lam[:, None, :], atol=1e-10)  # A r = lambda r
    assert torch.allclose(L.mH @ A, lam[:, :, None] * L.mH, atol=1e-10)  # l^H A = lambda l^H
    assert torch.allclose(L.mH @ R, eye.expand(5, -1, -1), atol=1e-10)  # L^H R = I
    assert (lam.real[:, :-1] >= lam.real[:, 1:] - 1e-12).all()  # slowest first
    assert torch.allclose(R.norm(dim=-2), torch.ones(5, 20, dtype=f64))


def test_left_eigenvectors_of_large_matrices_with_threads():
    # batched LU with several threads is wrong above ~150 (pytorch#142815); L = (R^-1)^H must not be
    torch.set_num_threads(2)
    model = RateRNN(0, 200, 0, g=1.5, tau=20.0, dt=5.0, seed=0)
    lin = linearise(model, torch.randn(4, 200, generator=torch.Generator().manual_seed(0)))
    eye = torch.eye(200, dtype=torch.complex128)
    assert torch.allclose(lin.left_eigenvectors.mH @ lin.right_eigenvectors, eye.expand(4, -1, -1), atol=1e-9)


def test_single_state_and_fixed_points_input():
    model = RateRNN.from_weights(2.0 * torch.ones(4, 4, dtype=f64) / 4, torch.eye(4, 2, dtype=f64), bias=False)
    one = linearise(model, torch.zeros(4))
    assert one.jacobian.shape == (4, 4) and one.eigenvalues.shape == (4,)
    assert one.selection_vector().shape == (4,) and one.input_overlaps().shape == (2,)
    fps = find_fixed_points(model, initial_states=3 * torch.randn(50, 4, generator=torch.Generator().manual_seed(0)),
                            progress=False)
    lin = linearise(model, fps)
    assert torch.equal(lin.states, fps.states) and torch.equal(lin.inputs, fps.inputs)
    assert torch.allclose(lin.eigenvalues, fps.eigenvalues, atol=1e-12)


def test_time_constants():
    # a leaky unit without recurrence: one eigenvalue -1/tau, time constant tau
    leaky = RateRNN.from_weights(torch.zeros(1, 1, dtype=f64), bias=False, tau=37.0, dt=1.0)
    assert linearise(leaky, torch.zeros(1)).time_constants.item() == pytest.approx(37.0)
    # linear networks: -1 / Re(eig((J - 1)/tau)) and -dt / log|eig(J)|
    N = 6
    J = 0.5 * torch.randn(N, N, generator=torch.Generator().manual_seed(0), dtype=f64) / math.sqrt(N)
    cont = linearise(RateRNN.from_weights(J, nonlinearity="linear", bias=False, tau=20.0, dt=5.0), torch.zeros(N))
    ev = torch.linalg.eigvals((J - torch.eye(N, dtype=f64)) / 20.0)
    assert torch.allclose(cont.time_constants.sort().values, (-1 / ev.real).sort().values, atol=1e-9)
    disc = linearise(RateRNN.from_weights(J, nonlinearity="linear", bias=False, time="discrete", dt=5.0),
                     torch.zeros(N))
    ev = torch.linalg.eigvals(J)
    assert torch.allclose(disc.time_constants.sort().values, (-5.0 / ev.abs().log()).sort().values, atol=1e-9)
    # a growing mode has a negative time constant
    grow = linearise(RateRNN.from_weights(torch.tensor([[3.0]], dtype=f64), bias=False, tau=10.0, dt=1.0),
                    torch.zeros(1))
    assert grow.time_constants.item() == pytest.approx(-5.0)


def _integrator(time: str = "continuous") -> tuple[RateRNN, torch.Tensor, torch.Tensor]:
    """A linear network with one neutral mode (eigenvalue 0 of the flow, 1 of the map), non-normal.

    The first input lies along the neutral mode's left eigenvector, the second along a right
    eigenvector of a decaying mode (so it cannot excite the neutral mode)."""
    N, tau = 5, 20.0
    gen = torch.Generator().manual_seed(4)
    R = torch.eye(N, dtype=f64) + 0.4 * torch.randn(N, N, generator=gen, dtype=f64)
    rates = torch.tensor([0.0, -1.0, -1.5, -2.0, -3.0], dtype=f64)  # per tau
    A = R @ torch.diag(rates) @ torch.linalg.inv(R)  # the flow's Jacobian times tau
    left0 = torch.linalg.inv(R)[0]  # l^T with l^T R[:, 0] = 1
    inputs = torch.stack([left0, R[:, 1]], dim=1)
    if time == "continuous":
        J = A + torch.eye(N, dtype=f64)  # (J - 1)/tau = A/tau
    else:
        J = torch.eye(N, dtype=f64) + 0.1 * A  # map eigenvalues 1 + 0.1 rate: 1, 0.9, 0.85, ...
    model = RateRNN.from_weights(J, inputs, nonlinearity="linear", bias=False, time=time, tau=tau, dt=10.0)
    return model, R[:, 0], left0


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_selection_vector_and_input_overlaps(time):
    model, r0, l0 = _integrator(time)
    lin = linearise(model, torch.zeros(2, 5))
    s = lin.selection_vector()
    assert s.dtype == f64 and s.shape == (2, 5)
    r = lin.right_eigenvectors[..., 0].real
    assert torch.allclose((s * r).sum(-1), torch.ones(2, dtype=f64), atol=1e-10)  # l . r = 1
    cos = (s[0] @ l0).abs() / (s[0].norm() * l0.norm())
    assert cos.item() == pytest.approx(1.0, abs=1e-10)
    overlaps = lin.input_overlaps()
    assert overlaps.shape == (2, 2)
    assert torch.allclose(overlaps[:, 0], torch.ones(2, dtype=f64), atol=1e-10)
    assert torch.allclose(overlaps[:, 1], torch.zeros(2, dtype=f64), atol=1e-10)
    # another mode: a different left eigenvector
    assert not torch.allclose(lin.selection_vector(1).abs(), s.abs())
    with pytest.raises(ConfigError, match="'mode' parameter of Linearisation"):
        lin.selection_vector(5)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_line_attractor_report(time):
    model, r0, _ = _integrator(time)
    # states along the neutral direction
    states = torch.linspace(-1, 1, 7, dtype=f64)[:, None] * r0
    report = line_attractor_report(linearise(model, states), tol=0.05)
    assert isinstance(report, LineAttractorReport) and len(report) == 7
    assert report.passed and report.ok.all()
    expected = 0.0 if time == "continuous" else 1.0
    assert torch.allclose(report.slowest_eigenvalue.real, torch.full((7,), expected, dtype=f64), atol=1e-10)
    rate1 = -1.0 / 20.0 if time == "continuous" else math.log(0.9) / 10.0
    assert torch.allclose(report.gap, torch.full((7,), -rate1, dtype=f64), atol=1e-10)
    assert report.variance_explained == pytest.approx(1.0)
    # a network whose slowest mode decays nearly as fast as the next is no line attractor
    leaky = RateRNN.from_weights(0.5 * torch.eye(3, dtype=f64), bias=False, nonlinearity="linear", tau=20.0)
    fps = find_fixed_points(leaky, initial_states=torch.randn(10, 3, dtype=f64), progress=False)
    bad = line_attractor_report(fps, tol=0.05)
    assert isinstance(fps, FixedPoints) and not bad.passed and not bad.ok.any()


def test_validation():
    model = RateRNN(2, 8, 1, seed=0)
    with pytest.raises(ShapeError, match=r"The 'state' parameter of linearise must have shape \(\.\.\., 8\)"):
        linearise(model, torch.zeros(3, 7))
    with pytest.raises(ShapeError, match=r"The 'inputs' parameter of linearise must have shape \(2,\)"):
        linearise(model, torch.zeros(8), torch.zeros(3))
    with pytest.raises(ConfigError, match="'model' parameter of linearise"):
        linearise("net", torch.zeros(8))
    with pytest.raises(ConfigError, match="'points' parameter of line_attractor_report"):
        line_attractor_report(torch.zeros(3, 8))
    with pytest.raises(ConfigError, match="'tol' parameter of line_attractor_report"):
        line_attractor_report(linearise(model, torch.zeros(2, 8)), tol=0)
    assert isinstance(linearise(model, torch.zeros(8)), Linearisation)
