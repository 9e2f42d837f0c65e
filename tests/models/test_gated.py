"""ElmanRNN, GRU and LSTM: construction, validation, the fused path against the plain loop (values and
gradients), analytic Jacobians against autograd, noise, saving, and analyses with known answers."""

import io
import math

import pytest
import torch
from scipy.optimize import brentq
from torch import nn

from rnnscope import ConfigError, Trainer, TrainingConfig, tasks
from rnnscope.analysis import find_fixed_points, lyapunov_spectrum
from rnnscope.dynamics import simulate
from rnnscope.models.elman import ElmanRNN
from rnnscope.models.gated import GRU, LSTM

CLASSES = {"ElmanRNN tanh": (ElmanRNN, {}), "ElmanRNN relu": (ElmanRNN, {"nonlinearity": "relu"}),
           "GRU": (GRU, {}), "LSTM": (LSTM, {})}
GATES = {ElmanRNN: 1, GRU: 3, LSTM: 4}


def _model(name, H=5, output_size=2, **kw):
    cls, extra = CLASSES[name]
    return cls(3, H, output_size, dtype=torch.float64, **extra, **kw)


def _randomise(model, scale=0.8, seed=0):
    """Larger weights than torch's default, biases and initial state included (a harder test)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return model


# ---------------------------------------------------------------------------------------------- construction
@pytest.mark.parametrize("name", CLASSES)
def test_sizes_parameters_and_torch_layout(name):
    model = _model(name, H=5)
    G = GATES[type(model)]
    assert model.units == 5 and model.hidden_size == (10 if type(model) is LSTM else 5)
    assert model.input_size == 3 and model.output_size == 2 and model.time == "discrete" and model.dt == 20.0
    assert model.weight_ih.shape == (G * 5, 3) and model.weight_hh.shape == (G * 5, 5)
    assert model.bias_ih.shape == model.bias_hh.shape == (G * 5,)
    assert model.weight_hh is model.core.weight_hh_l0 and model.core.batch_first
    assert model.time_constant is None and model.low_rank_factors() is None
    groups = model.parameter_groups()
    assert groups["input"] == [model.weight_ih, model.bias_ih]
    assert groups["recurrent"] == [model.weight_hh, model.bias_hh]
    assert groups["output"] == [model.head.weight, model.head.bias] and groups["initial_state"] == []
    out, states = model(torch.zeros(4, 7, 3, dtype=torch.float64))
    assert out.shape == (4, 7, 2) and states.shape == (4, 7, model.hidden_size)
    # torch's initialisation, drawn from the model's own generator
    bound = 1 / math.sqrt(5)
    assert all(float(p.detach().abs().max()) <= bound for p in model.parameters())
    again, other = _model(name, H=5), _model(name, H=5, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert not torch.equal(model.weight_hh, other.weight_hh)


@pytest.mark.parametrize("name", CLASSES)
def test_without_head_bias_or_with_a_learnt_initial_state(name):
    model = _model(name, output_size=None, bias=False, learn_initial_state=True)
    assert model.head is None and model.output_size == 5 and model.bias_ih is None and model.bias_hh is None
    groups = model.parameter_groups()
    assert groups["input"] == [model.weight_ih] and groups["recurrent"] == [model.weight_hh]
    assert groups["output"] == [] and groups["initial_state"] == [model.x0]
    out, states = model(torch.zeros(2, 3, 3, dtype=torch.float64))
    torch.testing.assert_close(out, states[..., :5])


@pytest.mark.parametrize("cls", [ElmanRNN, GRU, LSTM])
def test_construction_leaves_the_global_rng_alone(cls):
    state = torch.random.get_rng_state()
    cls(3, 16, 2, seed=3)
    cls(3, 16, None, seed=None)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("name", CLASSES)
def test_config_rebuilds_the_architecture_and_weights(name):
    model = _model(name, noise_std=0.1, learn_initial_state=True, seed=4)
    config = model.config()
    assert config["hidden_size"] == 5 and config["seed"] == 4 and config["noise_std"] == 0.1
    again = type(model)(**config, dtype=torch.float64)
    assert again.config() == config
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("name", CLASSES)
def test_state_dict_save_and_reload(name):
    model = _randomise(_model(name, learn_initial_state=True))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other = _model(name, learn_initial_state=True, seed=9)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(2, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(other(x)[0], model(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("kwargs,message", [
    ({"hidden_size": 0}, "The 'hidden_size' parameter of GRU must be an int >= 1. Got 0 instead."),
    ({"input_size": 0}, "The 'input_size' parameter of GRU must be an int >= 1. Got 0 instead."),
    ({"output_size": 0}, "The 'output_size' parameter of GRU must be an int >= 1. Got 0 instead."),
    ({"dt": -1.0}, "The 'dt' parameter of GRU must be a float > 0. Got -1.0 instead."),
    ({"noise_std": -0.1}, "The 'noise_std' parameter of GRU must be a float >= 0. Got -0.1 instead."),
    ({"bias": 1}, "The 'bias' parameter of GRU must be a bool (True or False). Got 1 instead."),
    ({"seed": -2}, "The 'seed' parameter of GRU must be an int >= 0. Got -2 instead."),
    ({"learn_initial_state": "yes"}, "The 'learn_initial_state' parameter of GRU must be a bool"),
])
def test_constructor_arguments_are_validated(kwargs, message):
    args = {"input_size": 3, "hidden_size": 4, "output_size": 2, **kwargs}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GRU(**args)


def test_elman_nonlinearity_is_validated():
    with pytest.raises(ConfigError, match="The 'nonlinearity' parameter of ElmanRNN must be one of 'tanh', 'relu'. "
                                          "Got 'softplus' instead."):
        ElmanRNN(3, 4, 2, nonlinearity="softplus")
    with pytest.raises(ConfigError, match="The 'hidden_size' parameter of LSTM must be an int >= 1"):
        LSTM(3, 0, 2)


# ---------------------------------------------------------------------------------------------- the map
def _torch_cell(model):
    """torch's own cell with the model's weights: the reference for one step."""
    cell = model.cell(model.input_size, model.units, dtype=torch.float64,
                      **({"nonlinearity": model.core.nonlinearity} if type(model) is ElmanRNN else {}))
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(model, name))
    return cell


@pytest.mark.parametrize("name", CLASSES)
def test_one_step_is_torchs_cell(name):
    model = _randomise(_model(name))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, model.hidden_size, dtype=torch.float64, generator=g)
    u = torch.randn(4, 3, dtype=torch.float64, generator=g)
    H = model.units
    with torch.no_grad():
        step = model.flow(x, model.drive(u))
        cell = _torch_cell(model)
        expected = torch.cat(cell(u, (x[:, :H], x[:, H:])), -1) if type(model) is LSTM else cell(u, x)
    torch.testing.assert_close(step, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("lead", [(), (5,), (2, 3)], ids=["single", "batch", "2-d batch"])
@pytest.mark.parametrize("name", CLASSES)
def test_analytic_jacobian_equals_autograd(name, lead):
    model = _randomise(_model(name, H=4), seed=2)
    g = torch.Generator().manual_seed(3)
    x = 0.7 * torch.randn(*lead, model.hidden_size, dtype=torch.float64, generator=g)
    u = torch.randn(*lead, 3, dtype=torch.float64, generator=g)
    drive = model.drive(u).detach()
    J = model.flow_jacobian(x, drive)
    assert J.shape == (*lead, model.hidden_size, model.hidden_size)
    flat_x, flat_d = x.reshape(-1, model.hidden_size), drive.reshape(-1, drive.shape[-1])
    expected = torch.stack([torch.autograd.functional.jacobian(lambda s, d=d: model.flow(s, d), s)
                            for s, d in zip(flat_x, flat_d)])
    torch.testing.assert_close(J.reshape(expected.shape), expected, rtol=1e-12, atol=1e-12)
    # one drive for many states (a constant input), as the analyses ask
    J_const = model.flow_jacobian(x, drive.reshape(-1, drive.shape[-1])[0])
    expected = torch.stack([torch.autograd.functional.jacobian(lambda s: model.flow(s, flat_d[0]), s) for s in flat_x])
    torch.testing.assert_close(J_const.reshape(expected.shape), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("options", [{}, {"bias": False, "output_size": None}, {"learn_initial_state": True}],
                         ids=["default", "no bias, no head", "learnt initial state"])
@pytest.mark.parametrize("name", CLASSES)
def test_fused_equals_the_plain_loop_values_and_gradients(name, options):
    model = _randomise(_model(name, **options), seed=4)
    x = torch.randn(3, 11, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))

    def run(fused):
        model.zero_grad()
        inputs = x.clone().requires_grad_(True)
        traj = simulate(model, inputs, fused=fused)
        loss = (traj.outputs ** 2).sum() + 0.1 * traj.states.sin().sum()
        loss.backward()
        return traj, {n: p.grad.clone() for n, p in model.named_parameters()}, inputs.grad

    plain, g_plain, gi_plain = run(False)
    fused, g_fused, gi_fused = run(True)
    assert model.fused_simulate(x, model.initial_state(3), None) is not None  # the fast path did run
    torch.testing.assert_close(fused.states, plain.states, rtol=0, atol=1e-12)
    torch.testing.assert_close(fused.outputs, plain.outputs, rtol=0, atol=1e-12)
    assert g_fused.keys() == g_plain.keys() and len(g_plain) == len(list(model.parameters()))
    for key in g_plain:
        torch.testing.assert_close(g_fused[key], g_plain[key], rtol=1e-10, atol=1e-12, msg=key)
    torch.testing.assert_close(gi_fused, gi_plain, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CLASSES)
def test_noise_enters_h_only(name):
    model = _model(name, noise_std=0.3)
    H, N = model.units, model.hidden_size
    x = torch.randn(2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert model.fused_simulate(x, model.initial_state(2), torch.zeros(2, 5, N, dtype=torch.float64)) is None
    noisy = simulate(model, x, generator=torch.Generator().manual_seed(1)).states
    quiet = simulate(model, x, noise=False).states
    step = noisy[:, 0] - quiet[:, 0]  # the first step starts from the same state: the difference is the noise
    xi = torch.randn((2, 5, N), generator=torch.Generator().manual_seed(1)).double()[:, 0]  # simulate's draw
    torch.testing.assert_close(step[:, :H], 0.3 * xi[:, :H])
    if type(model) is LSTM:
        std = model.process_noise_std
        assert std.shape == (N,) and torch.equal(std, torch.tensor([0.3] * H + [0.0] * H, dtype=torch.float64))
        assert torch.equal(step[:, H:], torch.zeros_like(step[:, H:]))
    else:
        assert model.process_noise_std == 0.3


# ---------------------------------------------------------------------------------------------- analyses
def _bistable_pair(kind, w):
    """Two independent bistable units with h = tanh(w h) at their fixed points, no input:
    an Elman network with W_hh = w I, or a GRU with W_hn = 2 w I (r = z = 1/2 everywhere)."""
    if kind == "ElmanRNN":
        model = ElmanRNN(1, 2, None, dtype=torch.float64)
        W = w * torch.eye(2, dtype=torch.float64)
    else:
        model = GRU(1, 2, None, dtype=torch.float64)
        W = torch.cat([torch.zeros(4, 2, dtype=torch.float64), 2 * w * torch.eye(2, dtype=torch.float64)])
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.weight_hh.copy_(W)
    return model


@pytest.mark.parametrize("kind", ["ElmanRNN", "GRU"])
def test_fixed_points_of_two_bistable_units(kind):
    w = 2.0
    model = _bistable_pair(kind, w)
    h_star = brentq(lambda h: h - math.tanh(w * h), 0.1, 1.0)
    starts = torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2.4 - 1.2
    fps = find_fixed_points(model, initial_states=starts, progress=False)
    assert len(fps.fixed()) == 9 and not bool(fps.is_slow.any())
    assert fps.by_n_unstable() == {0: 4, 1: 4, 2: 1}
    expected = torch.tensor([[a, b] for a in (-h_star, 0.0, h_star) for b in (-h_star, 0.0, h_star)], dtype=torch.float64)
    distance = torch.cdist(fps.states, expected)
    assert float(distance.min(dim=1).values.max()) < 1e-10
    nonzero = (fps.states.abs() > 1e-6).sum(-1)  # stable: both units on; saddles: one; the centre: none
    assert torch.equal(fps.n_unstable, 2 - nonzero)


@pytest.mark.parametrize("name", CLASSES)
def test_model_runs_through_the_lyapunov_code_path(name):
    # the generic (Jacobian-forming) path of lyapunov_spectrum accepts every architecture
    spectrum = lyapunov_spectrum(_model(name, H=3), n_steps=20, transient_steps=5, progress=False)
    assert spectrum.exponents.shape == (_model(name, H=3).hidden_size,)


def test_lyapunov_spectrum_of_a_linear_relu_network():
    # relu, W_hh = diag(w) > 0, b_hh = 1 > 0, no input: every unit stays active, the map is
    # h -> diag(w) h + 1, and its exponents are log w exactly
    w = torch.tensor([0.9, 0.6, 0.3], dtype=torch.float64)
    model = ElmanRNN(1, 3, None, nonlinearity="relu", dtype=torch.float64)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.weight_hh.copy_(torch.diag(w))
        model.bias_hh.fill_(1.0)
    spectrum = lyapunov_spectrum(model, n_steps=200, transient_steps=50, basis_transient_steps=100, progress=False)
    torch.testing.assert_close(spectrum.exponents, w.log(), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("cls", [GRU, LSTM])
def test_the_trainer_trains_and_resumes_a_gated_network(cls, tmp_path):
    task = tasks.make("flipflop")
    config = TrainingConfig(steps=6, batch_size=8, eval_every=3, eval_batch_size=16, checkpoint_every=3,
                            learning_rate=1e-2)
    model = cls(task.input_size, 8, task.output_size, dt=task.dt, seed=0)
    before = model.weight_hh.detach().clone()
    result = Trainer(model, task, config, run_dir=tmp_path, progress=False).fit()
    assert result.steps == 6 and math.isfinite(result.loss) and not torch.equal(before, model.weight_hh)
    again = cls(task.input_size, 8, task.output_size, dt=task.dt, seed=1)
    Trainer(again, task, config, run_dir=tmp_path, progress=False).resume()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_an_lstm_readout_reads_h_not_c():
    model = _randomise(_model("LSTM", output_size=None))
    x = torch.randn(6, model.hidden_size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.readout(x), x[:, :5])
    torch.testing.assert_close(model.rates(x), x[:, :5])
    head = _model("LSTM")
    torch.testing.assert_close(head.readout(x), head.head(x[:, :5]))
    assert isinstance(head.head, nn.Linear)
