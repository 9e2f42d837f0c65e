"""Flow fields against closed forms: linear systems, the exact low-rank reduction, rank-one fixed points."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from rnnscope import RateRNN
from rnnscope.analysis import FlowField, flow_field, flow_field_from_pca, latent_flow_field, nullclines
from rnnscope.errors import ConfigError, ShapeError

f64 = torch.float64
J2 = torch.tensor([[0.5, -2.0], [1.0, 0.2]], dtype=f64)


def _linear(time: str = "continuous") -> RateRNN:
    return RateRNN.from_weights(J2, nonlinearity="linear", tau=10.0, dt=1.0, time=time, bias=False)


def _solve_k(g: float) -> float:
    """Positive root of k = g tanh(k) (g > 1) by bisection."""
    lo, hi = 1e-9, g + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid - g * math.tanh(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------------------------- linear systems
def test_linear_flow_equals_analytic_field_at_every_grid_point():
    flow = flow_field(_linear(), torch.eye(2), extent=(-2.0, 3.0, -1.0, 2.0), resolution=9)
    assert isinstance(flow, FlowField) and flow.U.shape == (9, 9) and flow.U.dtype == f64
    X, Y = flow.X, flow.Y
    assert torch.equal(X[0], torch.linspace(-2.0, 3.0, 9, dtype=f64)) and torch.equal(X[:, 4], X[:, 4][0].expand(9))
    assert torch.equal(Y[:, 0], torch.linspace(-1.0, 2.0, 9, dtype=f64))
    expected = torch.stack([X, Y], -1) @ (J2 - torch.eye(2, dtype=f64)).T / 10.0  # (J - I) x / tau
    torch.testing.assert_close(flow.U, expected[..., 0], rtol=0, atol=1e-15)
    torch.testing.assert_close(flow.V, expected[..., 1], rtol=0, atol=1e-15)
    torch.testing.assert_close(flow.speed, expected.norm(dim=-1), rtol=0, atol=1e-15)
    torch.testing.assert_close(flow.state_speed, flow.speed, rtol=0, atol=1e-15)  # two units: nothing off-plane
    torch.testing.assert_close(flow.project(flow.grid_states()), torch.stack([X, Y], -1), rtol=0, atol=1e-15)
    assert flow.extent == (-2.0, 3.0, -1.0, 2.0) and flow.labels == ("axis 1", "axis 2")


def test_discrete_time_field_is_map_minus_identity():
    flow = flow_field(_linear("discrete"), torch.eye(2), extent=1.5, resolution=7)
    expected = torch.stack([flow.X, flow.Y], -1) @ (J2 - torch.eye(2, dtype=f64)).T  # x(t+1) - x(t), per step
    torch.testing.assert_close(torch.stack([flow.U, flow.V], -1), expected, rtol=0, atol=1e-15)
    assert flow.time == "discrete"


def test_nullclines_of_a_linear_system_are_the_expected_lines():
    flow = flow_field(_linear(), torch.eye(2), extent=(-2.0, 2.0, -2.0, 2.0), resolution=21)
    nc = nullclines(flow)
    assert len(nc.x_nullcline) == 1 and len(nc.y_nullcline) == 1
    A = J2 - torch.eye(2, dtype=f64)  # x' = 0 on -0.5 x - 2 y = 0 (y = -x / 4); y' = 0 on x - 0.8 y = 0
    for curve, row in ((nc.x_nullcline[0], A[0]), (nc.y_nullcline[0], A[1])):
        assert curve.shape[1] == 2 and curve.shape[0] >= 10
        torch.testing.assert_close(curve @ row, torch.zeros(curve.shape[0], dtype=f64), rtol=0, atol=1e-12)
        span = curve.max(0).values - curve.min(0).values
        assert float(span.max()) == pytest.approx(4.0)  # crosses the whole grid
    # the x-nullcline runs corner to corner in x, the y-nullcline in y
    assert float(nc.x_nullcline[0][:, 0].abs().max()) == pytest.approx(2.0)
    assert float(nc.y_nullcline[0][:, 1].abs().max()) == pytest.approx(2.0)


def test_projected_field_of_a_nonlinear_network_on_an_orthonormal_plane():
    model = RateRNN(3, 20, 1, tau=50.0, dt=10.0, g=1.5, seed=3)
    with torch.no_grad():
        model.bias.copy_(0.3 * torch.randn(20, generator=torch.Generator().manual_seed(1)))
    gen = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(20, 2, generator=gen, dtype=f64)).Q.T
    origin = torch.randn(20, generator=gen, dtype=f64)
    u = torch.tensor([0.5, -1.0, 0.2])
    flow = flow_field(model, basis, origin=origin, inputs=u, extent=2.0, resolution=6)
    x = flow.grid_states()
    F = model.double().vector_field(x, u.double().expand(6, 6, 3))
    torch.testing.assert_close(flow.U, F @ basis[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(flow.V, F @ basis[1], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(flow.state_speed, F.norm(dim=-1), rtol=1e-12, atol=1e-14)
    assert bool((flow.state_speed >= flow.speed - 1e-12).all())


def test_extent_from_states_covers_their_projection():
    model = RateRNN(0, 10, 0, seed=0)
    states = torch.randn(4, 30, 10, generator=torch.Generator().manual_seed(2))
    basis = torch.eye(10, dtype=f64)[:2]
    flow = flow_field(model, basis, states=states, resolution=5)
    xy = flow.project(states)
    x0, x1, y0, y1 = flow.extent
    assert x0 < float(xy[..., 0].min()) and float(xy[..., 0].max()) < x1
    assert y0 < float(xy[..., 1].min()) and float(xy[..., 1].max()) < y1


def test_flow_field_from_pca_uses_the_chosen_components_and_the_mean():
    model = RateRNN(0, 6, 0, seed=1)
    axes = torch.linalg.qr(torch.randn(6, 3, generator=torch.Generator().manual_seed(4), dtype=f64)).Q.T
    mean = torch.linspace(-0.5, 0.5, 6, dtype=f64)
    pca = SimpleNamespace(components_=axes, mean_=mean)  # what a fitted PCA exposes
    flow = flow_field_from_pca(model, pca, components=(0, 2), extent=1.0, resolution=4)
    assert flow.labels == ("PC1", "PC3")
    torch.testing.assert_close(flow.basis, axes[[0, 2]])
    torch.testing.assert_close(flow.origin, mean)
    same = flow_field(model, axes[[0, 2]], origin=mean, extent=1.0, resolution=4)
    torch.testing.assert_close(flow.U, same.U, rtol=0, atol=0)
    bare = flow_field_from_pca(model, axes, extent=1.0, resolution=4)  # a bare tensor: origin at zero
    torch.testing.assert_close(bare.origin, torch.zeros(6, dtype=f64))
    with pytest.raises(ConfigError, match="'pca_or_basis'.*fitted PCA"):
        flow_field_from_pca(model, SimpleNamespace(), extent=1.0)
    with pytest.raises(ConfigError, match="'components'.*distinct"):
        flow_field_from_pca(model, pca, components=(1, 1), extent=1.0)


# ---------------------------------------------------------------------------------------------- low rank
def _rank2(time: str = "continuous") -> tuple[RateRNN, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    N = 60
    m = torch.randn(N, 2, generator=gen, dtype=f64)
    n = 2.0 * m + torch.randn(N, 2, generator=gen, dtype=f64)
    I = torch.randn(N, 3, generator=gen, dtype=f64)
    model = RateRNN.from_low_rank(m, n, I, bias=0.2 * torch.randn(N, generator=gen, dtype=f64),
                                  tau=100.0, dt=20.0, time=time)
    return model, torch.tensor([0.3, -0.7, 1.1], dtype=f64)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_latent_flow_of_rank_two_equals_the_projected_full_field(time):
    model, u = _rank2(time)
    latent = latent_flow_field(model, u, extent=(-3.0, 2.0, -2.0, 3.0), resolution=11)
    assert latent.labels == ("kappa1", "kappa2")
    torch.testing.assert_close(latent.basis, model.m.detach().T)
    torch.testing.assert_close(latent.origin, (model.input_weight @ u + model.bias).detach())
    full = flow_field(model, latent.basis, origin=latent.origin, inputs=u, extent=latent.extent, resolution=11)
    for name in ("U", "V", "speed", "state_speed"):
        torch.testing.assert_close(getattr(latent, name), getattr(full, name), rtol=1e-10, atol=1e-13)
    # exactness: the full velocity at x = M kappa + v lies in span(M), so the plane is invariant
    x = latent.grid_states()
    F = model.vector_field(x, u.expand(11, 11, 3))
    if time == "discrete":
        F = F - x
    inplane = latent.U[..., None] * latent.basis[0] + latent.V[..., None] * latent.basis[1]
    torch.testing.assert_close(F, inplane, rtol=1e-10, atol=1e-13)


def test_latent_flow_of_rank_one_with_an_input_direction():
    gen = torch.Generator().manual_seed(6)
    N = 50
    m = torch.randn(N, generator=gen, dtype=f64)
    I = torch.randn(N, 2, generator=gen, dtype=f64)
    model = RateRNN.from_low_rank(m, 1.5 * m, I, bias=0.1 * torch.ones(N, dtype=f64), tau=100.0, dt=20.0)
    u = torch.tensor([0.4, -0.3], dtype=f64)
    latent = latent_flow_field(model, u, input_channel=1, extent=2.0, resolution=9)
    assert latent.labels == ("kappa", "v1")
    torch.testing.assert_close(latent.V, (u[1] - latent.Y) / 100.0, rtol=0, atol=1e-15)  # tau w' = -w + u_k
    full = flow_field(model, latent.basis, origin=latent.origin, inputs=u, extent=2.0, resolution=9)
    torch.testing.assert_close(latent.U, full.U, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(latent.V, full.V, rtol=1e-10, atol=1e-13)


def test_latent_flow_zeros_are_the_fixed_points_of_a_rank_one_network():
    # J = g v v^T / N with v in {+-1}^N: fixed points x = k v with k = g tanh(k)
    g, N, tau = 2.0, 200, 100.0
    v = torch.where(torch.rand(N, generator=torch.Generator().manual_seed(7)) < 0.5, -1.0, 1.0).double()
    I = torch.randn(N, 1, generator=torch.Generator().manual_seed(8), dtype=f64)
    model = RateRNN.from_low_rank(v, g * v, I, tau=tau, dt=20.0)
    flow = latent_flow_field(model, input_channel=0, extent=(-3.0, 3.0, -1.0, 1.0), resolution=121)
    row = flow.resolution[0] // 2
    assert abs(float(flow.Y[row, 0])) < 1e-15  # the slice w = 0 (linspace round-off aside)
    k = flow.X[row]
    torch.testing.assert_close(flow.U[row], (-k + g * torch.tanh(k)) / tau, rtol=0, atol=1e-14)
    torch.testing.assert_close(flow.V[row], torch.zeros_like(k), rtol=0, atol=1e-17)
    s = flow.U[row]
    i = torch.nonzero(torch.sign(s[:-1]) * torch.sign(s[1:]) < 0).flatten()
    roots = k[i] - s[i] * (k[i + 1] - k[i]) / (s[i + 1] - s[i])  # linear interpolation of each sign change
    roots = torch.cat([roots, k[s == 0]]).sort().values
    k_star = _solve_k(g)
    torch.testing.assert_close(roots, torch.tensor([-k_star, 0.0, k_star], dtype=f64), rtol=0, atol=5e-3)


def test_latent_flow_rejects_networks_without_an_exact_plane():
    with pytest.raises(ConfigError, match="'model'.*low-rank"):
        latent_flow_field(RateRNN(1, 10, 1), extent=1.0)
    with pytest.raises(ConfigError, match="'model'.*bulk_g"):
        latent_flow_field(RateRNN(1, 10, 1, rank=2, bulk_g=0.5), extent=1.0)
    with pytest.raises(ConfigError, match="'input_channel'.*Got None"):
        latent_flow_field(RateRNN(1, 10, 1, rank=1), extent=1.0)
    with pytest.raises(ConfigError, match="'input_channel'.*rank-one"):
        latent_flow_field(RateRNN(1, 10, 1, rank=2), input_channel=0, extent=1.0)
    with pytest.raises(ConfigError, match="'model'.*rank 1 or 2"):
        latent_flow_field(RateRNN(1, 10, 1, rank=3), extent=1.0)


# ---------------------------------------------------------------------------------------------- validation, saving
def test_flow_field_validates_its_arguments():
    model = _linear()
    with pytest.raises(ShapeError, match=r"'basis'.*\(2, 2\).*Got \(3, 2\)"):
        flow_field(model, torch.ones(3, 2), extent=1.0)
    with pytest.raises(ConfigError, match="'basis'.*linearly independent"):
        flow_field(model, torch.tensor([[1.0, 2.0], [2.0, 4.0]]), extent=1.0)
    with pytest.raises(ShapeError, match=r"'origin'.*\(2,\)"):
        flow_field(model, torch.eye(2), origin=torch.zeros(3), extent=1.0)
    with pytest.raises(ShapeError, match="'inputs'"):
        flow_field(model, torch.eye(2), inputs=torch.zeros(2), extent=1.0)
    with pytest.raises(ConfigError, match="'extent'.*Got -1"):
        flow_field(model, torch.eye(2), extent=-1)
    with pytest.raises(ConfigError, match="'extent'.*min < max"):
        flow_field(model, torch.eye(2), extent=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ConfigError, match="'extent' of the grid or 'states'"):
        flow_field(model, torch.eye(2))
    with pytest.raises(ConfigError, match="'resolution'.*>= 2"):
        flow_field(model, torch.eye(2), extent=1.0, resolution=1)
    with pytest.raises(ConfigError, match="'model'.*AbstractRNN"):
        flow_field("net", torch.eye(2), extent=1.0)


def test_flow_field_round_trips_through_a_file(tmp_path):
    model, u = _rank2()
    flow = latent_flow_field(model, u, extent=1.0, resolution=5)
    path = flow.save(tmp_path / "flow")
    back = FlowField.load(path)
    assert path.suffix == ".npz" and back.labels == flow.labels and back.time == flow.time and back.dt == flow.dt
    for name in ("X", "Y", "U", "V", "speed", "state_speed", "basis", "origin", "inputs"):
        assert torch.equal(getattr(back, name), getattr(flow, name)), name
