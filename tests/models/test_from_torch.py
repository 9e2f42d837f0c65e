"""from_torch: the six recurrent modules of torch.nn open as models that equal the module's own outputs
and share its parameters; unsupported modules are refused with a clear message."""

import io

import pytest
import torch
from torch import nn

from rnnscope import ConfigError, ShapeError
from rnnscope.dynamics import simulate
from rnnscope.models.elman import ElmanRNN
from rnnscope.models.gated import GRU, LSTM
from rnnscope.models.torch_modules import from_torch

I, H, O, B, T = 3, 6, 2, 4, 9

LAYERS = {
    "RNN tanh": lambda **kw: nn.RNN(I, H, **kw),
    "RNN relu": lambda **kw: nn.RNN(I, H, nonlinearity="relu", **kw),
    "GRU": lambda **kw: nn.GRU(I, H, **kw),
    "LSTM": lambda **kw: nn.LSTM(I, H, **kw),
}
CELLS = {
    "RNNCell tanh": lambda **kw: nn.RNNCell(I, H, **kw),
    "RNNCell relu": lambda **kw: nn.RNNCell(I, H, nonlinearity="relu", **kw),
    "GRUCell": lambda **kw: nn.GRUCell(I, H, **kw),
    "LSTMCell": lambda **kw: nn.LSTMCell(I, H, **kw),
}
# (name, batch_first) for layers; (name, None) for cells, which have no batch_first
CASES = [(name, bf) for name in LAYERS for bf in (True, False)] + [(name, None) for name in CELLS]
TOLERANCE = {torch.float64: dict(rtol=0, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def _module(name, batch_first, dtype=torch.float64, seed=0):
    with torch.random.fork_rng():  # the user's module, initialised by torch as a user would
        torch.manual_seed(seed)
        if batch_first is None:
            return CELLS[name](dtype=dtype)
        return LAYERS[name](batch_first=batch_first, dtype=dtype)


def _torch_run(module, x):
    """The module's own h sequence (batch, time, H) and its last cell state (LSTM) or None."""
    if isinstance(module, nn.RNNBase):
        seq = x if module.batch_first else x.transpose(0, 1)
        out, hidden = module(seq)
        out = out if module.batch_first else out.transpose(0, 1)
        return out, hidden[1][0] if isinstance(module, nn.LSTM) else None
    h = x.new_zeros(x.shape[0], H)
    c = x.new_zeros(x.shape[0], H)
    hs = []
    for t in range(x.shape[1]):
        if isinstance(module, nn.LSTMCell):
            h, c = module(x[:, t], (h, c))
        else:
            h = module(x[:, t], h)
        hs.append(h)
    return torch.stack(hs, dim=1), c if isinstance(module, nn.LSTMCell) else None


def _inputs(dtype, seed=1):
    return torch.randn(B, T, I, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name,batch_first", CASES)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "plain"])
def test_simulate_equals_the_modules_own_outputs(name, batch_first, fused, dtype):
    module = _module(name, batch_first, dtype)
    model = from_torch(module)
    x = _inputs(dtype)
    with torch.no_grad():
        h, c_last = _torch_run(module, x)
        traj = simulate(model, x, fused=fused)
    expected_type = {"RNN": ElmanRNN, "GRU": GRU, "LSTM": LSTM}[name.split()[0].removesuffix("Cell")]
    assert type(model) is expected_type and model.time == "discrete" and model.units == H
    assert model.hidden_size == (2 * H if expected_type is LSTM else H) and model.output_size == H
    torch.testing.assert_close(traj.outputs, h, **TOLERANCE[dtype])
    torch.testing.assert_close(traj.states[..., :H], h, **TOLERANCE[dtype])
    if c_last is not None:
        torch.testing.assert_close(traj.states[:, -1, H:], c_last, **TOLERANCE[dtype])


@pytest.mark.parametrize("name,batch_first", [c for c in CASES if c[1] is not None])
def test_fused_equals_plain_gradients_included(name, batch_first):
    model = from_torch(_module(name, batch_first), readout=nn.Linear(H, O, dtype=torch.float64))
    x = _inputs(torch.float64)

    def grads(fused):
        model.zero_grad()
        inputs = x.clone().requires_grad_(True)
        traj = simulate(model, inputs, fused=fused)
        ((traj.outputs ** 2).sum() + traj.states.sin().sum()).backward()
        return traj, [p.grad.clone() for p in model.parameters()] + [inputs.grad]

    assert model.fused_simulate(x, model.initial_state(B), None) is not None
    (plain, g_plain), (fused, g_fused) = grads(False), grads(True)
    torch.testing.assert_close(fused.states, plain.states, rtol=0, atol=1e-12)
    for a, b in zip(g_fused, g_plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,batch_first", CASES)
def test_a_readout_is_applied_to_h_and_shared(name, batch_first):
    module = _module(name, batch_first)
    linear = nn.Linear(H, O, dtype=torch.float64)
    model = from_torch(module, readout=linear, dt=10.0)
    x = _inputs(torch.float64)
    with torch.no_grad():
        h, _ = _torch_run(module, x)
        traj = simulate(model, x)
    assert model.output_size == O and model.dt == 10.0 and model.head is linear
    torch.testing.assert_close(traj.outputs, linear(h), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name,batch_first", [c for c in CASES if c[1] is not False])
def test_parameters_are_shared_not_copied(name, batch_first):
    module = _module(name, batch_first)
    model = from_torch(module)
    own = {id(p) for p in model.parameters()}
    assert own == {id(p) for p in module.parameters()}
    grouped = [p for group in model.parameter_groups().values() for p in group]
    assert {id(p) for p in grouped} == own and len(grouped) == len(own)
    x = _inputs(torch.float64)
    with torch.no_grad():
        for p in module.parameters():  # the user changes the module in place: the model follows
            p.mul_(1.7).add_(0.05)
        h, _ = _torch_run(module, x)
        torch.testing.assert_close(simulate(model, x).outputs, h, rtol=0, atol=1e-12)
        torch.testing.assert_close(simulate(model, x, fused=False).outputs, h, rtol=0, atol=1e-12)
    # training the model trains the module, which stays usable
    before = [p.detach().clone() for p in module.parameters()]
    loss = simulate(model, x).outputs.pow(2).sum()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p.sub_(0.1 * p.grad)
    assert all(not torch.equal(b, p) for b, p in zip(before, module.parameters()))
    _torch_run(module, x)


def test_state_dict_round_trip_of_a_wrapped_module():
    model = from_torch(_module("LSTM", True), readout=nn.Linear(H, O, dtype=torch.float64))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    other = from_torch(_module("LSTM", True, seed=5), readout=nn.Linear(H, O, dtype=torch.float64))
    x = _inputs(torch.float64)
    assert not torch.allclose(simulate(other, x).outputs, simulate(model, x).outputs)
    buffer.seek(0)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(simulate(other, x).outputs, simulate(model, x).outputs, rtol=0, atol=0)


def test_analyses_work_on_a_copy_and_leave_the_module_alone():
    module = _module("GRU", False, dtype=torch.float32)
    model = from_torch(module)
    work = model.for_analysis()
    assert work.weight_hh.dtype == torch.float64 and module.weight_hh_l0.dtype == torch.float32
    assert work.weight_hh is not module.weight_hh_l0 and not work.weight_hh.requires_grad


@pytest.mark.parametrize("module,match", [
    (nn.Linear(3, 4), "'module' parameter of from_torch must be one of nn.RNN, nn.RNNCell, nn.GRU, .*Got Linear"),
    (nn.MultiheadAttention(8, 2), "Got MultiheadAttention"),
    (nn.GRU(3, 4, num_layers=2), "one-layer, unidirectional nn.GRU or nn.GRUCell.*Got num_layers=2"),
    (nn.RNN(3, 4, bidirectional=True), "Got bidirectional=True"),
    (nn.LSTM(3, 4, proj_size=2), "without projections.*Got proj_size=2"),
    ("a GRU", "Got str"),
])
def test_unsupported_modules_are_refused_clearly(module, match):
    with pytest.raises(ConfigError, match=match):
        from_torch(module)


def test_a_subclass_is_refused_because_its_equations_may_differ():
    class MyGRU(nn.GRU):
        pass

    with pytest.raises(ConfigError, match="Got MyGRU instead"):
        from_torch(MyGRU(3, 4))


def test_bad_readouts_and_dt_are_refused():
    gru = nn.GRU(3, 4)
    with pytest.raises(ConfigError, match="'readout' parameter of from_torch must be an nn.Linear or None. Got Sequential"):
        from_torch(gru, readout=nn.Sequential(nn.Linear(4, 2)))
    with pytest.raises(ShapeError, match=r"read the module's 4 units \(in_features=4\). Got in_features=5"):
        from_torch(gru, readout=nn.Linear(5, 2))
    with pytest.raises(ConfigError, match="module's dtype and device"):
        from_torch(gru, readout=nn.Linear(4, 2, dtype=torch.float64))
    with pytest.raises(ConfigError, match="The 'dt' parameter of from_torch must be a float > 0. Got 0.0 instead."):
        from_torch(gru, dt=0.0)


def test_wrap_is_the_same_door_per_class():
    gru = nn.GRUCell(3, 4)
    model = GRU.wrap(gru, dt=5.0)
    assert type(model) is GRU and model.core is gru and model.dt == 5.0 and model.config()["output_size"] is None
    with pytest.raises(ConfigError, match="'module' parameter of LSTM.wrap must be an nn.LSTM or nn.LSTMCell. Got GRUCell"):
        LSTM.wrap(gru)
    assert ElmanRNN.wrap(nn.RNN(3, 4, nonlinearity="relu")).phi.name == "relu"
