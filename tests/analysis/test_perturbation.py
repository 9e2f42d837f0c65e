"""Perturbations of a trained decision network: silencing, clamping, pulses, and their effect on the score."""

from __future__ import annotations

import pytest
import torch

from rnnscope import RateRNN, Trainer, TrainingConfig, simulate, tasks
from rnnscope.analysis import PerturbationResult, clamp, combine, perturbation_effect, pulse, silence
from rnnscope.errors import ConfigError, ShapeError

N = 32


@pytest.fixture(scope="module")
def trained():
    # a shorter stimulus than the default (300 ms, 25 steps a trial) keeps training to about a second
    task = tasks.make("perceptual_decision", stimulus=300.0)
    model = RateRNN(task.input_size, N, task.output_size, dt=task.dt, seed=0)
    config = TrainingConfig(learning_rate=1e-2, steps=200, batch_size=32, eval_every=25, eval_batch_size=128)
    # one thread: as fast for 32 units, and on a busy 2-core machine two threads that wait on each other
    # made this fit 35x slower (2 s -> 71 s)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(model, task, config, progress=False).fit()
    finally:
        torch.set_num_threads(threads)
    return model, task


def _choices(result: PerturbationResult, traj) -> torch.Tensor:
    dec = result.batch.period_mask("decision").float()
    return torch.sign((traj.outputs[..., 0] * dec).sum(1) / dec.sum(1))


def test_silencing_no_unit_changes_nothing(trained):
    model, task = trained
    for noise in (False, True):  # with noise both runs get the same noise
        r = perturbation_effect(model, task, silence([]), n_trials=128, noise=noise)
        assert torch.equal(r.perturbed.states, r.baseline.states)
        assert r.performance_change == 0.0 and float(r.divergence.abs().max()) == 0.0
    assert r.baseline_scores == r.perturbed_scores


def test_silencing_every_unit_destroys_performance(trained):
    model, task = trained
    r = perturbation_effect(model, task, silence(torch.ones(N, dtype=torch.bool)), n_trials=256)
    assert r.baseline_performance >= 0.85
    assert r.perturbed_performance <= 0.6  # chance is 0.5: the readout sees only its bias
    assert r.performance_change < -0.25
    assert bool((r.perturbed.states == 0).all())
    assert r.divergence.shape == (r.batch.n_steps,) and float(r.divergence.max()) > 0


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_pulse_along_the_readout_during_the_decision_flips_choices(trained, sign):
    model, task = trained
    w = model.output_weight[0].detach()
    r = perturbation_effect(model, task, pulse(w, sign * 10.0, period="decision", duration=None), n_trials=256)
    before, after = _choices(r, r.baseline), _choices(r, r.perturbed)
    assert bool((after == sign).all())
    flipped = before == -sign
    assert int(flipped.sum()) > 50  # about half the trials changed their choice
    assert abs(r.perturbed_performance - 0.5) < 0.1
    start = int(r.batch.periods["decision"][:, 0].min())
    assert float(r.divergence[:start].abs().max()) == 0.0 and float(r.divergence[start]) > 0


def test_clamp_holds_values_from_the_start_of_its_window(trained):
    model, task = trained
    r = perturbation_effect(model, task, clamp([0, 3], [0.5, -0.2], start=10), n_trials=32, noise=True)
    held = r.perturbed.states[:, 10:][..., [0, 3]]
    assert bool((held == torch.tensor([0.5, -0.2])).all())
    assert torch.equal(r.perturbed.states[:, :10], r.baseline.states[:, :10])
    mask = torch.zeros(N, dtype=torch.bool)
    mask[[0, 3]] = True
    by_mask = perturbation_effect(model, task, clamp(mask, [0.5, -0.2], start=10), n_trials=32, noise=True)
    assert torch.equal(by_mask.perturbed.states, r.perturbed.states)


def test_windows_in_ms_tied_to_a_period_act_on_each_trial_own_steps():
    task = tasks.make("perceptual_decision", fixation=(60.0, 200.0), stimulus=300.0)
    model = RateRNN(task.input_size, 8, task.output_size, dt=task.dt, seed=1)
    batch = task.sample(16, seed=3)
    hush = silence(torch.arange(8), start=40.0, duration=60.0, unit="ms", period="stimulus").bind(batch)
    traj = simulate(model, batch.inputs, noise=False, intervention=hush)
    onset = batch.periods["stimulus"][:, 0] + 2  # 40 ms = 2 steps of 20 ms into the stimulus, for 3 steps
    t = torch.arange(batch.n_steps)
    inside = (t >= onset[:, None]) & (t < onset[:, None] + 3)
    assert bool((traj.states[inside] == 0).all())
    assert bool((traj.states[~inside].abs().sum(-1) > 0).all())
    assert len(set(onset.tolist())) > 1  # the trials really differ


def test_combine_applies_in_order():
    model = RateRNN(1, 6, 1, seed=2)
    u = torch.ones(2, 5, 1)
    later_wins = combine(clamp([1], 0.7), silence([1]))
    assert bool((simulate(model, u, intervention=later_wins).states[..., 1] == 0).all())
    other_order = combine(silence([1]), clamp([1], 0.7))
    assert bool((simulate(model, u, intervention=other_order).states[..., 1] == 0.7).all())
    kick = simulate(model, u, noise=False, intervention=pulse(torch.ones(6), 3.0, start=2))
    base = simulate(model, u, noise=False, fused=False)  # the loop an intervention runs
    torch.testing.assert_close(kick.states[:, 2] - base.states[:, 2], torch.full((2, 6), 3.0 / 6**0.5))
    assert torch.equal(kick.states[:, :2], base.states[:, :2])


def test_interventions_validate_their_arguments():
    model = RateRNN(1, 6, 1, seed=2)
    u = torch.ones(2, 5, 1)
    with pytest.raises(ConfigError, match=r"'units'.*\[0, 5\].*Got indices from 0 to 9"):
        simulate(model, u, intervention=silence([0, 9]))
    with pytest.raises(ShapeError, match=r"'units' mask.*\(6,\)"):
        simulate(model, u, intervention=silence(torch.ones(4, dtype=torch.bool)))
    with pytest.raises(ConfigError, match="'units'.*indices"):
        silence([0.5, 1.5])
    with pytest.raises(ShapeError, match=r"'values'.*\(2,\).*Got \(3,\)"):
        simulate(model, u, intervention=clamp([0, 1], [1.0, 2.0, 3.0]))
    with pytest.raises(ShapeError, match=r"'direction'.*\(6,\)"):
        simulate(model, u, intervention=pulse(torch.ones(4), 1.0))
    with pytest.raises(ConfigError, match="'direction'.*non-zero"):
        pulse(torch.zeros(6), 1.0)
    with pytest.raises(ConfigError, match="'unit' parameter of silence.*'step', 'ms'"):
        silence([0], unit="s")
    with pytest.raises(ConfigError, match="'start' parameter of pulse.*>= 0"):
        pulse(torch.ones(6), 1.0, start=-1)
    with pytest.raises(ConfigError, match=r"bind\(batch\)"):
        simulate(model, u, intervention=silence([0], period="decision"))
    task = tasks.make("perceptual_decision")
    with pytest.raises(ConfigError, match="Unknown period 'response'"):
        silence([0], period="response").bind(task.sample(2, seed=0))
    with pytest.raises(ConfigError, match="combine needs at least one"):
        combine()
