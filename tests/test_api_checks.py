"""The Python API refuses what it cannot use, naming the argument, and accepts numbers of any
kind (numpy floats as numpy ints), instead of a silent wrong result or an error from deep inside."""

import numpy as np
import pytest
import torch

from rnnscope import RateRNN, simulate, tasks
from rnnscope._validation import check_float, check_int, check_range, check_seed
from rnnscope.analysis import find_fixed_points
from rnnscope.data import NeuralData
from rnnscope.errors import ConfigError

NAN = float("nan")


def _model(**kw):
    return RateRNN(2, 4, 1, **{"seed": 0, **kw})


REFUSED = {
    "RateRNN dtype=torch.int64": (lambda: _model(dtype=torch.int64), r"'dtype' parameter of RateRNN must be a floating"),
    "RateRNN seed=2**63": (lambda: _model(seed=2**63), r"'seed' parameter of RateRNN .* <= 9223372036854775807"),
    "RateRNN hidden_size beyond memory": (lambda: RateRNN(1, 10**7, 1), r"'hidden_size' parameter of RateRNN must fit "
                                                                        r"in memory"),
    "from_weights with NaN J": (lambda: RateRNN.from_weights(torch.full((3, 3), NAN)),
                                r"'J' parameter of RateRNN.from_weights must hold finite values"),
    "from_weights with inf input weights": (lambda: RateRNN.from_weights(torch.eye(3), torch.full((3, 1), np.inf)),
                                            r"'input_weights' parameter of RateRNN.from_weights must hold finite"),
    "from_low_rank with NaN m": (lambda: RateRNN.from_low_rank(torch.full((3, 1), NAN), torch.ones(3, 1)),
                                 r"'m' parameter of RateRNN.from_low_rank must hold finite values"),
    "task.sample seed=2**64": (lambda: tasks.make("flipflop").sample(2, seed=2**64), r"'seed' parameter"),
    "simulate complex inputs": (lambda: simulate(_model(), torch.ones(1, 3, 2, dtype=torch.complex64)),
                                r"'inputs' must be real"),
    "NeuralData complex activity": (lambda: NeuralData.from_arrays(np.ones((2, 3, 1)) * 1j, dt=10.0),
                                    r"'activity' parameter of NeuralData must be real"),
    "find_fixed_points NaN weights": (lambda: find_fixed_points(_nan_model(), initial_states=torch.zeros(4, 4)),
                                      r"'model' parameter of find_fixed_points must hold finite weights\. Got NaN or "
                                      r"infinite values in recurrent_weight"),
    "find_fixed_points inf inputs": (lambda: find_fixed_points(_model(), torch.tensor([np.inf, 0.0]),
                                                               initial_states=torch.zeros(4, 4)),
                                     r"'inputs' parameter of find_fixed_points must be real and finite"),
    "find_fixed_points NaN inputs": (lambda: find_fixed_points(_model(), torch.tensor([NAN, 0.0]),
                                                               initial_states=torch.zeros(4, 4)),
                                     r"'inputs' parameter of find_fixed_points must be real and finite"),
    "flipflop dt longer than the pulse": (lambda: tasks.make("flipflop", dt=1000.0),
                                          r"'dt' parameter of FlipFlop must be a float <= 30"),
    "flipflop pulse shorter than dt": (lambda: tasks.make("flipflop", pulse_duration=5.0),
                                       r"'pulse_duration' parameter of FlipFlop must be a float >= 10"),
    "perceptual decision dt longer than the decision": (lambda: tasks.make("perceptual_decision", dt=500.0),
                                                        r"'dt' parameter of PerceptualDecision must be a float <= 100"),
}


def _nan_model():
    model = _model()
    with torch.no_grad():
        model.recurrent_weight[0, 0] = NAN
    return model


@pytest.mark.parametrize("call, pattern", list(REFUSED.values()), ids=list(REFUSED))
def test_refused_with_a_message_naming_the_argument(call, pattern):
    with pytest.raises(ConfigError, match=pattern):
        call()


@pytest.mark.parametrize("value", [np.float32(2.5), np.float64(2.5), np.int64(2), torch.tensor(2.5), 2.5, 2])
def test_numbers_of_any_kind_are_floats(value):
    assert check_float("Owner", "x", value, low=0) == float(value)
    assert check_range("Owner", "x", value) == (float(value), float(value))


@pytest.mark.parametrize("value", [True, np.bool_(True), "2.5", torch.tensor([1.0, 2.0]), torch.tensor(1 + 2j), None])
def test_what_is_not_a_float_is_refused(value):
    with pytest.raises(ConfigError, match=r"The 'x' parameter of Owner must be a float"):
        check_float("Owner", "x", value)


@pytest.mark.parametrize("value", [2.7, np.float32(2.0), True, torch.tensor(2.0)])
def test_an_int_parameter_takes_no_float(value):
    with pytest.raises(ConfigError, match=r"The 'steps' parameter of Owner must be an int"):
        check_int("Owner", "steps", value)


@pytest.mark.parametrize("value, ok", [(0, True), (2**63 - 1, True), (2**63, False), (-1, False), (np.uint64(2**63), False)])
def test_seeds_are_63_bit(value, ok):
    if ok:
        assert check_seed("Owner", "seed", value) == value
    else:
        with pytest.raises(ConfigError, match=r"'seed' parameter of Owner must be an int >= 0 and <= 9223372036854775807"):
            check_seed("Owner", "seed", value)


def test_numpy_floats_reach_the_constructors():
    model = RateRNN(2, 4, 1, tau=np.float32(50.0), dt=np.float64(10.0), g=np.float32(1.5))
    assert (model.tau, model.dt, model.g) == (50.0, 10.0, 1.5)


def test_integer_inputs_are_simulated_in_the_model_precision():
    model = _model(dtype=torch.float64)
    ints = torch.tensor([[[1, 0], [0, 1], [1, 1]]])
    traj = simulate(model, ints)
    assert traj.states.dtype == torch.float64
    assert torch.equal(traj.states, simulate(model, ints.to(torch.float64)).states)
