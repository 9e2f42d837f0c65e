"""RateRNN: closed-form checks, low rank vs dense, constraints, noise scaling, validation."""

import math

import pytest
import torch

from rnnscope import ConfigError, ShapeError
from rnnscope.dynamics import simulate
from rnnscope.models import NONLINEARITIES, RateRNN

torch.set_default_dtype(torch.float32)


def _linear_net(N=6, I=2, time="continuous", dt=10.0, tau=100.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    J = 0.5 * torch.randn(N, N, generator=g, dtype=torch.float64) / math.sqrt(N)
    Win = torch.randn(N, I, generator=g, dtype=torch.float64)
    Wout = torch.randn(1, N, generator=g, dtype=torch.float64)
    model = RateRNN.from_weights(J, Win, Wout, tau=tau, dt=dt, time=time, nonlinearity="linear", bias=False)
    return model, J, Win


def test_linear_continuous_matches_closed_form_euler_map_and_ode():
    model, J, Win = _linear_net(dt=1.0)
    N = J.shape[0]
    u = torch.tensor([0.3, -0.7], dtype=torch.float64)
    x0 = torch.randn(N, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    T = 400
    traj = simulate(model, u.expand(1, T, 2).clone(), x0[None])
    a = model.alpha
    A = (1 - a) * torch.eye(N, dtype=torch.float64) + a * J
    c = a * (Win @ u)
    At = torch.linalg.matrix_power(A, T)
    exact_map = At @ x0 + torch.linalg.solve(torch.eye(N, dtype=torch.float64) - A, (torch.eye(N, dtype=torch.float64) - At) @ c)
    torch.testing.assert_close(traj.states[0, -1], exact_map, rtol=1e-10, atol=1e-10)
    # the continuous solution x(t) = x* + expm(M t)(x0 - x*), M = (J - I)/tau
    M = (J - torch.eye(N, dtype=torch.float64)) / model.tau
    xstar = torch.linalg.solve(torch.eye(N, dtype=torch.float64) - J, Win @ u)
    x_ode = xstar + torch.linalg.matrix_exp(M * T * model.dt) @ (x0 - xstar)
    assert torch.allclose(traj.states[0, -1], x_ode, atol=2e-2 * x0.abs().max())


def test_linear_discrete_matches_recursion():
    model, J, Win = _linear_net(time="discrete")
    u = torch.randn(2, 5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    traj = simulate(model, u)
    x = torch.zeros(2, J.shape[0], dtype=torch.float64)
    for t in range(5):
        x = x @ J.T + u[:, t] @ Win.T
        torch.testing.assert_close(traj.states[:, t], x)


def test_forward_returns_outputs_and_states_with_documented_shapes():
    model = RateRNN(3, 20, 2, seed=1)
    out, states = model(torch.zeros(4, 7, 3))
    assert out.shape == (4, 7, 2) and states.shape == (4, 7, 20)
    torch.testing.assert_close(out, model.readout(states))


@pytest.mark.parametrize("bulk_g", [0.0, 0.8])
def test_low_rank_equals_dense_network(bulk_g):
    N, K = 50, 2
    g = torch.Generator().manual_seed(0)
    m, n = torch.randn(N, K, generator=g), torch.randn(N, K, generator=g)
    Win, Wout = torch.randn(N, 3, generator=g), torch.randn(2, N, generator=g)
    low = RateRNN.from_low_rank(m, n, Win, Wout, tau=100.0, dt=20.0, bulk_g=bulk_g, seed=4)
    J = low.recurrent_matrix().detach()
    torch.testing.assert_close(J, m @ n.T / N + (bulk_g * low.bulk if bulk_g else 0))
    dense = RateRNN.from_weights(J, Win, Wout, tau=100.0, dt=20.0, bias=False)
    u = torch.randn(4, 30, 3, generator=g)
    o1, s1 = low(u)
    o2, s2 = dense(u)
    torch.testing.assert_close(s1, s2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(o1, o2, rtol=1e-5, atol=1e-5)
    assert low.recurrent_weight is None and low.m.shape == (N, K)


def test_low_rank_step_never_builds_J():
    model = RateRNN(1, 4096, 1, rank=1, seed=0)
    calls = []
    original = model.recurrent_matrix
    model.recurrent_matrix = lambda: calls.append(1) or original()  # type: ignore[method-assign]
    model(torch.zeros(2, 3, 1))
    assert calls == []


@pytest.mark.parametrize("name", sorted(NONLINEARITIES))
@pytest.mark.parametrize("time", ["continuous", "discrete"])
@pytest.mark.parametrize("rank", [None, 2])
def test_jacobian_matches_autograd(name, time, rank):
    model = RateRNN(2, 12, 1, time=time, nonlinearity=name, rank=rank, seed=2, dtype=torch.float64)
    x = torch.randn(3, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    u = torch.randn(3, 2, dtype=torch.float64)
    jac = model.jacobian(x, u)
    for b in range(3):
        auto = torch.autograd.functional.jacobian(lambda xx: model.vector_field(xx, u[b]), x[b])
        torch.testing.assert_close(jac[b], auto)


def test_custom_callable_nonlinearity_and_its_jacobian():
    model = RateRNN(1, 8, 1, nonlinearity=lambda z: torch.tanh(2 * z), seed=0, dtype=torch.float64)
    x = torch.randn(8, dtype=torch.float64)
    auto = torch.autograd.functional.jacobian(lambda xx: model.vector_field(xx), x)
    torch.testing.assert_close(model.jacobian(x), auto)
    with pytest.raises(ConfigError, match="custom nonlinearity"):
        model.config()


def test_vector_field_continuous_and_discrete():
    model, J, Win = _linear_net()
    x = torch.randn(5, 6, dtype=torch.float64)
    u = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(model.vector_field(x, u), (-x + x @ J.T + u @ Win.T) / model.tau)
    dmodel, J2, W2 = _linear_net(time="discrete")
    torch.testing.assert_close(dmodel.vector_field(x, u), x @ J2.T + u @ W2.T)


def test_dales_law_signs_hold_through_training():
    model = RateRNN(2, 40, 1, dale=0.8, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(5):
        out, _ = model(torch.randn(8, 10, 2))
        opt.zero_grad()
        out.pow(2).mean().backward()
        opt.step()
    J = model.recurrent_matrix().detach()
    assert (J[:, :32] >= 0).all() and (J[:, 32:] <= 0).all()
    assert (J[:, :32] > 0).any() and (J[:, 32:] < 0).any()


def test_mask_sparsity_and_autapses():
    mask = (torch.rand(10, 10, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    model = RateRNN(1, 10, 1, connectivity_mask=mask, autapses=False, seed=0)
    J = model.recurrent_matrix().detach()
    assert (J[mask == 0] == 0).all() and (torch.diagonal(J) == 0).all()
    sparse = RateRNN(1, 200, 1, sparsity=0.9, seed=0)
    frac = (sparse.recurrent_matrix() == 0).float().mean().item()
    assert 0.87 < frac < 0.93
    # the mask survives training
    out, _ = model(torch.randn(4, 5, 1))
    out.sum().backward()
    with torch.no_grad():
        model.recurrent_weight -= model.recurrent_weight.grad
    assert (model.recurrent_matrix()[mask == 0] == 0).all()


def test_freezing_groups():
    model = RateRNN(2, 10, 1, frozen=("input", "output"), learn_initial_state=True, seed=0)
    assert not model.input_weight.requires_grad and not model.output_weight.requires_grad
    assert model.recurrent_weight.requires_grad and model.x0.requires_grad
    model.freeze("recurrent").unfreeze("input")
    assert model.input_weight.requires_grad and not model.recurrent_weight.requires_grad
    with pytest.raises(ConfigError, match="'frozen' parameter"):
        model.freeze("weights")


@pytest.mark.parametrize("dt", [1.0, 10.0])
def test_process_noise_scaling_keeps_stationary_variance_independent_of_dt(dt):
    # J = 0, linear: x is an OU process whose stationary variance is sigma^2 / (1 - alpha / 2)
    sigma, tau = 0.5, 100.0
    model = RateRNN.from_weights(torch.zeros(200, 200), tau=tau, dt=dt, nonlinearity="linear",
                                 noise_std=sigma, bias=False)
    T = int(3000 / dt)
    traj = simulate(model, torch.zeros(4, T, 0), generator=torch.Generator().manual_seed(0))
    var = traj.states[:, T // 3 :].var().item()
    expected = sigma**2 / (1 - model.alpha / 2)
    assert abs(var - expected) / expected < 0.05
    assert abs(var - sigma**2) / sigma**2 < 0.1


def test_noise_off_and_reproducible_with_generator():
    model = RateRNN(1, 10, 1, noise_std=0.3, input_noise_std=0.2, seed=0)
    u = torch.ones(2, 20, 1)
    a = model(u, generator=torch.Generator().manual_seed(5))[1]
    b = model(u, generator=torch.Generator().manual_seed(5))[1]
    c = model(u, noise=False)[1]
    d = model(u, noise=False)[1]
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(c, d)
    assert not torch.allclose(a, c)


def test_input_noise_is_white_noise_on_the_inputs():
    model = RateRNN.from_weights(torch.zeros(1, 1), torch.ones(1, 1), time="discrete", nonlinearity="linear",
                                 input_noise_std=0.5, bias=False)
    traj = simulate(model, torch.zeros(1, 20000, 1), generator=torch.Generator().manual_seed(0))
    assert abs(traj.states.std().item() - 0.5) < 0.02


def test_learned_initial_state_and_explicit_initial_state():
    model = RateRNN(1, 5, 1, learn_initial_state=True, seed=0)
    with torch.no_grad():
        model.x0.fill_(0.3)
    out1, s1 = model(torch.zeros(2, 1, 1), noise=False)
    out2, s2 = model(torch.zeros(2, 1, 1), initial_state=torch.full((5,), 0.3), noise=False)
    torch.testing.assert_close(s1, s2)
    with pytest.raises(ShapeError, match="initial_state"):
        model(torch.zeros(2, 1, 1), initial_state=torch.zeros(3, 5))


def test_readout_of_states():
    model = RateRNN(1, 5, 2, readout="states", seed=0)
    _, s = model(torch.randn(1, 3, 1))
    torch.testing.assert_close(model.readout(s), s @ model.output_weight.T + model.output_bias)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"tau": -1.0}, r"'tau' parameter of RateRNN must be a float > 0\. Got -1\.0"),
        ({"tau": 0.0}, "'tau' parameter"),
        ({"dt": 0.0}, "'dt' parameter"),
        ({"dt": 200.0, "tau": 100.0}, r"'dt' parameter of RateRNN must be <= tau"),
        ({"rank": 11}, r"'rank' parameter of RateRNN must be an int >= 1 and <= 10"),
        ({"rank": 0}, "'rank' parameter"),
        ({"nonlinearity": "gelu"}, r"'nonlinearity' parameter .* 'tanh'"),
        ({"time": "analog"}, r"'time' parameter .* 'continuous', 'discrete'"),
        ({"rank": 2, "dale": 0.8}, "full-rank connectivity only"),
        ({"bulk_g": 1.0}, "needs 'rank'"),
        ({"dale": 1.5}, "'dale' parameter"),
        ({"sparsity": 1.0}, "'sparsity' parameter"),
        ({"readout": "spikes"}, "'readout' parameter"),
        ({"noise_std": -0.1}, "'noise_std' parameter"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        RateRNN(1, 10, 1, **kwargs)


def test_discrete_time_accepts_dt_larger_than_tau():
    RateRNN(1, 4, 1, time="discrete", dt=200.0, tau=100.0)


def test_shape_errors():
    with pytest.raises(ShapeError, match="'J' must be a square"):
        RateRNN.from_weights(torch.zeros(3, 4))
    with pytest.raises(ShapeError, match="'input_weights' must have 3 rows"):
        RateRNN.from_weights(torch.zeros(3, 3), torch.zeros(4, 1))
    with pytest.raises(ShapeError, match="'m' and 'n' must have the same shape"):
        RateRNN.from_low_rank(torch.zeros(5, 2), torch.zeros(5, 1))
    model = RateRNN(2, 4, 1)
    with pytest.raises(ShapeError, match=r"'inputs' must have shape \(batch, time, 2\)"):
        model(torch.zeros(3, 5, 3))
    with pytest.raises(ShapeError, match="connectivity_mask"):
        RateRNN(1, 4, 1, connectivity_mask=torch.ones(3, 3))


def test_seed_makes_initialisation_reproducible_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a, b = RateRNN(2, 8, 1, seed=3), RateRNN(2, 8, 1, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(a.recurrent_weight, b.recurrent_weight)
    assert not torch.equal(a.recurrent_weight, RateRNN(2, 8, 1, seed=4).recurrent_weight)


def test_device_and_dtype_arguments():
    model = RateRNN(1, 4, 1, device="cpu", dtype=torch.float64)
    assert model.recurrent_weight.dtype == torch.float64 and model.recurrent_weight.device.type == "cpu"
