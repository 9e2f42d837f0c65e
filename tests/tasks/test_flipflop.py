"""Tests of the N-bit flip-flop task."""

from __future__ import annotations

import pytest
import torch

from rnnscope.errors import ConfigError
from rnnscope.tasks import check_task, make
from rnnscope.tasks.flipflop import FlipFlop


def _reference_targets(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Held sign and mask of one trial, by a plain loop over steps and channels."""
    T, N = inputs.shape
    target = torch.zeros(T, N)
    mask = torch.zeros(T, N)
    for n in range(N):
        state, seen = 0.0, False
        for t in range(T):
            x = float(inputs[t, n])
            if x != 0.0:
                state, seen = (1.0 if x > 0 else -1.0), True
            target[t, n] = state
            mask[t, n] = 1.0 if seen else 0.0
    return target, mask


def test_registered_and_default_parameters():
    task = make("flipflop")
    assert isinstance(task, FlipFlop)
    assert task.params() == {
        "dt": 10.0, "n_bits": 3, "duration": 1000.0, "pulse_duration": 30.0,
        "pulse_rate": 2.0, "pulse_amplitude": 1.0,
    }
    assert task.input_names == ("bit0", "bit1", "bit2") == task.output_names
    assert task.default_loss == "mse"
    assert task.default_criterion == 0.95


@pytest.mark.parametrize(
    "params",
    [{}, {"dt": 5.0}, {"dt": 20.0}, {"n_bits": 1}, {"n_bits": 5}, {"pulse_duration": 50.0, "pulse_rate": 8.0}],
)
def test_contract(params):
    check_task(make("flipflop", **params), batch_size=16)


@pytest.mark.parametrize("params", [{}, {"dt": 5.0, "n_bits": 2}, {"dt": 20.0, "n_bits": 5, "pulse_rate": 6.0}])
def test_targets_match_loop_reference(params):
    task = FlipFlop(**params)
    batch = task.sample(6, seed=3)
    amp = task.pulse_amplitude
    assert set(torch.unique(batch.inputs).tolist()) <= {-amp, 0.0, amp}
    for i in range(batch.batch_size):
        target, mask = _reference_targets(batch.inputs[i])
        assert torch.equal(batch.targets[i], target)
        assert torch.equal(batch.mask[i], mask)
        # mask is 0 (and target 0) exactly before each channel's first pulse
        for n in range(task.n_bits):
            first = int(torch.nonzero(batch.inputs[i, :, n])[0])
            assert bool((batch.mask[i, :first, n] == 0).all()) and bool((batch.mask[i, first:, n] == 1).all())
            assert bool((batch.targets[i, :first, n] == 0).all())


def test_pulses_are_slot_aligned_and_do_not_overlap():
    task = FlipFlop(dt=10.0, pulse_duration=30.0, duration=1005.0, pulse_rate=10.0)
    batch = task.sample(32, seed=0)
    k, S = task.pulse_steps, task.n_slots
    assert (k, task.n_steps, S) == (3, 100, 33)
    slots = batch.inputs[:, : S * k].reshape(32, S, k, task.n_bits)
    # each slot is one whole pulse or empty: constant within the slot
    assert torch.equal(slots, slots[:, :, :1].expand_as(slots))
    # steps after the last whole slot carry no pulse
    assert bool((batch.inputs[:, S * k:] == 0).all())
    # n_pulses counts the occupied slots
    assert torch.equal(batch.conditions["n_pulses"], (slots[:, :, 0] != 0).sum(dim=1))
    assert torch.equal(batch.conditions["final_state"], batch.targets[:, -1])
    assert bool((batch.conditions["n_pulses"] >= 1).all())
    assert torch.equal(batch.periods["trial"], torch.tensor([[0, 100]] * 32))


def test_pulse_rate_and_sign_balance():
    task = FlipFlop(n_bits=4, duration=2000.0, pulse_duration=20.0, pulse_rate=5.0)
    batch = task.sample(512, seed=1)
    # expected pulses per channel: 5 per second * 2 s (forced pulses in silent channels are rare here)
    mean = batch.conditions["n_pulses"].double().mean().item()
    assert mean == pytest.approx(10.0, rel=0.05)
    onsets = batch.inputs[:, ::task.pulse_steps]
    n_pos, n_neg = int((onsets > 0).sum()), int((onsets < 0).sum())
    assert abs(n_pos - n_neg) / (n_pos + n_neg) < 0.05


def test_every_channel_scored_even_when_pulses_are_rare():
    batch = FlipFlop(n_bits=1, pulse_rate=0.1).sample(64, seed=0)
    assert bool((batch.conditions["n_pulses"] >= 1).all())
    assert bool((batch.mask.sum(dim=1) > 0).all())


def test_generator_is_used_and_global_rng_untouched():
    task = FlipFlop()
    state = torch.random.get_rng_state()
    a = task.sample(8, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.random.get_rng_state(), state)
    b = task.sample(8, seed=7)
    assert torch.equal(a.inputs, b.inputs)


def test_evaluate_scores():
    task = FlipFlop()
    batch = task.sample(16, seed=0)
    perfect = task.evaluate(batch.targets, batch)
    assert perfect == {"performance": 1.0, "mse": 0.0, "bit_accuracy": 1.0}
    zero = task.evaluate(torch.zeros_like(batch.targets), batch)
    assert zero["performance"] == 0.0 and zero["mse"] == pytest.approx(1.0)
    half = task.evaluate(0.5 * batch.targets, batch)
    assert half["mse"] == pytest.approx(0.25)
    assert half["performance"] == pytest.approx(0.75)
    assert half["bit_accuracy"] == 1.0
    flipped = task.evaluate(-batch.targets, batch)
    assert flipped["performance"] == 0.0 and flipped["bit_accuracy"] == 0.0
    # unscored steps (before the first pulse) do not count
    noisy = batch.targets + 5.0 * (1 - batch.mask)
    assert task.evaluate(noisy, batch)["performance"] == 1.0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dt": -1.0}, "The 'dt' parameter of FlipFlop must be a float > 0"),
        ({"n_bits": 0}, "The 'n_bits' parameter of FlipFlop must be an int >= 1"),
        ({"n_bits": 2.5}, "'n_bits'"),
        ({"pulse_duration": 5.0}, "The 'pulse_duration' parameter of FlipFlop must be a float >= 10"),
        ({"duration": 20.0}, "'duration'"),
        ({"pulse_rate": 0.0}, "'pulse_rate'"),
        ({"pulse_rate": 50.0}, "'pulse_rate'"),
        ({"pulse_amplitude": -1.0}, "'pulse_amplitude'"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        make("flipflop", **params)
