"""WongWang: fixed points against the independent implementation, the Jacobian, the OU noise, stimuli and errors."""

import math

import pytest
import torch

from rnnscope import ConfigError, ShapeError
from rnnscope.analysis import find_fixed_points, flow_field, nullclines
from rnnscope.dynamics import simulate
from rnnscope.models import AbstractRNN, WongWang

f64 = torch.float64


def _fixed_points(model, inputs=None):
    g = torch.linspace(0.0, 0.8, 10, dtype=f64)
    u = None if inputs is None else torch.as_tensor(inputs, dtype=f64)
    return find_fixed_points(model, u, model.states_at(torch.cartesian_prod(g, g), u), max_iterations=100).fixed()


def test_zero_stimulus_fixed_points_match_the_reference_run():
    # docs/references.md: rest S = (0.1027, 0.1027), 1.78 Hz; decision states S = (0.567, 0.032), (20.4, 0.5) Hz
    model = WongWang(dtype=f64)
    fps = _fixed_points(model)
    assert fps.by_n_unstable() == {0: 3, 1: 2}
    stable = fps.stable().states
    rates = model.readout(stable)
    rest = stable[(stable[:, 0] - stable[:, 1]).abs().argmin()]
    assert rest[0].item() == pytest.approx(0.1027, rel=1e-3) and rest[1].item() == pytest.approx(0.1027, rel=1e-3)
    assert model.readout(rest)[0].item() == pytest.approx(1.78, rel=5e-3)
    high = stable[stable[:, 0].argmax()]
    assert high[0].item() == pytest.approx(0.567, rel=1e-3) and high[1].item() == pytest.approx(0.032, rel=1e-2)
    r = model.readout(high)
    assert r[0].item() == pytest.approx(20.4, rel=5e-3) and r[1].item() == pytest.approx(0.5, abs=0.05)
    assert rates.max().item() == pytest.approx(r[0].item())
    # the currents sit at I0 at every fixed point, and the resting state is the model's initial state
    torch.testing.assert_close(fps.states[:, 2:], torch.full((5, 2), model.I0, dtype=f64))
    torch.testing.assert_close(model.initial_state(2)[0], rest, rtol=1e-9, atol=1e-12)
    # the saddles sit between rest and each decision state, symmetric under the swap 1 <-> 2
    sad = fps.saddles().states[:, :2]
    torch.testing.assert_close(sad[0], sad[1].flip(0), rtol=1e-7, atol=1e-9)


def test_stimulus_turns_the_resting_state_into_a_saddle_and_coherence_moves_it():
    model = WongWang(dtype=f64)
    mu0 = 20.0
    on = _fixed_points(model, (mu0, mu0))
    assert on.by_n_unstable() == {0: 2, 1: 1}
    sym = on.saddles().states[0]
    assert sym[0].item() == pytest.approx(sym[1].item(), abs=1e-9)  # the symmetric state, now a saddle
    assert (model.rest_state()[0] < sym[0]).item()
    # with coherence the saddle slides towards the losing attractor (the winner's basin grows)
    previous = 0.0
    for c in (6.4, 25.6, 51.2):
        fps = _fixed_points(model, (mu0 * (1 + c / 100), mu0 * (1 - c / 100)))
        assert fps.by_n_unstable() == {0: 2, 1: 1}
        s = fps.saddles().states[0]
        assert (s[1] - s[0]).item() > previous
        previous = (s[1] - s[0]).item()
    # the low state survives weak stimuli: below a critical mu0 there are 3 stable points
    assert _fixed_points(model, (5.0, 5.0)).by_n_unstable()[0] == 3


def test_analytic_jacobian_equals_autograd():
    model = WongWang(dtype=f64)
    g = torch.Generator().manual_seed(0)
    S = torch.rand(20, 2, generator=g, dtype=f64) * 0.9
    I = 0.25 + 0.2 * torch.rand(20, 2, generator=g, dtype=f64)
    I[0] = torch.tensor([model.b / model.a, model.b / model.a], dtype=f64)  # x = b/a: H's removable singularity
    x = torch.cat([S, I], dim=-1)
    x[0, :2] = 0.0
    u = 30 * torch.rand(20, 2, generator=g, dtype=f64)
    for xi, ui in zip(x, u):
        auto = torch.autograd.functional.jacobian(lambda y: model.vector_field(y, ui), xi)
        torch.testing.assert_close(model.jacobian(xi, ui), auto, rtol=1e-9, atol=1e-12)
    batched = model.jacobian(x)
    assert batched.shape == (20, 4, 4)


def test_transfer_function_is_smooth_through_its_removable_singularity():
    model = WongWang(dtype=f64)
    x0 = model.b / model.a
    x = torch.tensor([x0 - 1e-3, x0 - 1e-7, x0, x0 + 1e-7, x0 + 1e-3, 0.1, 0.6], dtype=f64)
    y = model.a * x - model.b
    direct = y / (1 - torch.exp(-model.d * y))
    H = model.H(x)
    assert H[2].item() == pytest.approx(1 / model.d, rel=1e-12)  # the limit 1/d
    ok = (y.abs() > 1e-3)
    torch.testing.assert_close(H[ok], direct[ok], rtol=1e-12, atol=0)
    assert torch.all(torch.diff(H[:5]) > 0)  # increasing through the singularity
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.H(xg).sum(), xg)
    torch.testing.assert_close(model.H_prime(x), grad, rtol=1e-7, atol=1e-9)
    assert model.H_prime(torch.tensor(x0, dtype=f64)).item() == pytest.approx(model.a / 2, rel=1e-12)
    # float32 near the singularity: no NaN, no jump
    x32 = torch.linspace(x0 - 1e-4, x0 + 1e-4, 201)
    h32 = WongWang().H(x32)
    assert torch.isfinite(h32).all() and torch.all(torch.diff(h32) >= -1e-4)


def test_noise_enters_only_the_currents_with_the_ou_stationary_std():
    model = WongWang(dtype=f64)
    sig = model.process_noise_std
    s = model.sigma_noise * math.sqrt(model.dt / model.tau_noise)
    torch.testing.assert_close(sig, torch.tensor([0.0, 0.0, s, s], dtype=f64))
    B, T = 200, 1200
    traj = simulate(model, torch.zeros(B, T, 2, dtype=f64), generator=torch.Generator().manual_seed(0))
    I = traj.states[:, 200:, 2:] - model.I0  # after 100 ms, far beyond tau_noise = 2 ms
    cont, euler = model.noise_current_std
    assert cont == pytest.approx(0.02 / math.sqrt(2)) and euler == pytest.approx(0.02 / math.sqrt(1.75))
    # the Euler-Maruyama map's stationary std sigma / sqrt(2 - dt/tau); 400,000 samples correlated over
    # (1 + rho) / (1 - rho) = 7 steps: relative standard error ~0.3%
    assert I.std().item() == pytest.approx(euler, rel=0.01)
    # lag-one autocorrelation of the AR(1) map: 1 - dt / tau_noise
    lag1 = (I[:, 1:] * I[:, :-1]).mean() / I.pow(2).mean()
    assert lag1.item() == pytest.approx(1 - model.dt / model.tau_noise, abs=0.01)
    # the gating variables follow the deterministic Euler step exactly (no noise of their own)
    x, x_next = traj.states[:, 10], traj.states[:, 11]
    step = x + model.dt * model.vector_field(x, torch.zeros(B, 2, dtype=f64))
    torch.testing.assert_close(x_next[:, :2], step[:, :2], rtol=1e-12, atol=1e-15)
    # sigma_noise = 0: no noise at all
    quiet = WongWang(sigma_noise=0.0, dtype=f64)
    a = simulate(quiet, torch.zeros(2, 50, 2, dtype=f64), generator=torch.Generator().manual_seed(0))
    b = simulate(quiet, torch.zeros(2, 50, 2, dtype=f64), noise=False)
    torch.testing.assert_close(a.states, b.states, rtol=0, atol=0)


def test_plane_flow_is_the_two_variable_system_and_nullclines_cross_at_the_fixed_points():
    model = WongWang(dtype=f64)
    u = torch.tensor([20.0, 20.0], dtype=f64)
    origin, basis = model.plane(u)
    flow = flow_field(model, basis, origin=origin, inputs=u, extent=(0.0, 0.8, 0.0, 0.8), resolution=41,
                      labels=("S1", "S2"))
    S = torch.stack([flow.X, flow.Y], dim=-1)
    v = model.vector_field(model.states_at(S, u), u)
    torch.testing.assert_close(flow.U, v[..., 0])
    torch.testing.assert_close(flow.V, v[..., 1])
    assert v[..., 2:].abs().max().item() == 0.0  # the plane is invariant
    nc = nullclines(flow)
    assert nc.x_nullcline and nc.y_nullcline
    fps = _fixed_points(model, u)
    for p in flow.project(fps.states):
        d1 = min((c - p).norm(dim=-1).min().item() for c in nc.x_nullcline)
        d2 = min((c - p).norm(dim=-1).min().item() for c in nc.y_nullcline)
        assert d1 < 0.01 and d2 < 0.01


def test_contract_shapes_stimulus_and_simulation():
    model = WongWang()
    assert isinstance(model, AbstractRNN)
    assert (model.input_size, model.hidden_size, model.output_size, model.time) == (2, 4, 2, "continuous")
    u = model.stimulus([0.0, 25.6, -51.2], mu0=20.0, duration=100.0, onset=10.0)
    assert u.shape == (3, 200, 2) and u.dtype == torch.float32
    assert u[:, :20].abs().max().item() == 0.0
    torch.testing.assert_close(u[1, 20], torch.tensor([25.12, 14.88]))
    torch.testing.assert_close(u[2, -1], torch.tensor([9.76, 30.24]))
    assert model.stimulus(12.8).shape == (1, 2000, 2)
    out, states = model(u, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 200, 2) and states.shape == (3, 200, 4)
    torch.testing.assert_close(out, model.readout(states))
    assert model.parameter_groups() == {}
    m64 = WongWang().to(f64)
    assert m64.initial_state(1).dtype == f64 and m64.process_noise_std.dtype == f64


@pytest.mark.parametrize("kwargs, match", [
    ({"J_E": -0.1}, "'J_E' parameter of WongWang"),
    ({"tau_S": 0.0}, "'tau_S' parameter of WongWang must be a float > 0"),
    ({"sigma_noise": -1.0}, "'sigma_noise'"),
    ({"dt": 3.0}, "'dt' parameter of WongWang must be <= tau_noise"),
    ({"gamma": "0.6"}, "'gamma'"),
])
def test_bad_parameters_are_clear_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        WongWang(**kwargs)


def test_bad_inputs_are_clear_errors():
    model = WongWang()
    with pytest.raises(ConfigError, match="'coherence' parameter of WongWang.stimulus"):
        model.stimulus(150.0)
    with pytest.raises(ConfigError, match="'coherence'"):
        model.stimulus([[1.0, 2.0]])
    with pytest.raises(ConfigError, match="'onset' parameter of WongWang.stimulus"):
        model.stimulus(0.0, duration=100.0, onset=100.0)
    with pytest.raises(ConfigError, match="'mu0'"):
        model.stimulus(0.0, mu0=-5.0)
    with pytest.raises(ShapeError, match="'S' parameter of WongWang.states_at"):
        model.states_at(torch.zeros(3))
    with pytest.raises(ShapeError, match="'inputs' parameter of WongWang"):
        model.plane(torch.zeros(3))
    with pytest.raises(ConfigError, match="must be symmetric"):
        model.rest_state(torch.tensor([20.0, 10.0]))
    with pytest.raises(ShapeError, match=r"'inputs' must have shape \(batch, time, 2\)"):
        simulate(model, torch.zeros(1, 5, 3))
