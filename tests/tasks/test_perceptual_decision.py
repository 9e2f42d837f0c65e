"""Perceptual decision trials: structure, evidence statistics, scoring."""

import math

import pytest
import torch

from rnnscope import ConfigError
from rnnscope.tasks import make


def test_structure_and_conditions():
    task = make("perceptual_decision", delay=(0.0, 200.0))
    b = task.sample(64, seed=1)
    assert set(b.periods) == {"fixation", "stimulus", "delay", "decision"}
    dec = b.period_mask("decision")
    stim = b.period_mask("stimulus")
    # fixation cue off exactly in the decision period, evidence only during the stimulus
    assert torch.equal(b.inputs[..., 0] == 0, dec | (torch.arange(b.n_steps) >= b.lengths[:, None]))
    assert (b.inputs[..., 1][~stim] == 0).all()
    assert torch.equal(b.mask[..., 0] > 0, dec)
    assert torch.equal(b.targets[..., 0][dec], b.conditions["choice"][:, None].expand_as(dec)[dec].float())
    assert torch.equal(torch.sign(b.conditions["coherence"]), b.conditions["choice"])
    assert set(b.conditions["coherence"].abs().tolist()) <= set(task.coherences)
    assert len(set(b.lengths.tolist())) > 1  # variable delays give padded trials


@pytest.mark.parametrize("dt", [5.0, 20.0])
def test_evidence_mean_and_noise_follow_the_white_noise_convention(dt):
    task = make("perceptual_decision", dt=dt, coherences=[25.6], stimulus_noise=1.0)
    b = task.sample(2000, seed=0)
    stim = b.period_mask("stimulus")
    ev = b.inputs[..., 1][stim].reshape(2000, -1) * b.conditions["choice"][:, None].float()
    assert ev.mean().item() == pytest.approx(0.256, abs=0.01)
    assert ev.std().item() == pytest.approx(1.0 / math.sqrt(dt), rel=0.02)
    # the integrated evidence has the same signal-to-noise ratio at any dt
    integral = (ev * dt).sum(1)
    assert (integral.mean() / integral.std()).item() == pytest.approx(0.256 * 800 / math.sqrt(800), rel=0.08)


def test_scores_targets_and_anti_targets():
    task = make("perceptual_decision")
    b = task.sample(100, seed=0)
    assert task.evaluate(b.targets, b)["performance"] == 1.0
    assert task.evaluate(-b.targets, b)["performance"] == 0.0
    s = task.evaluate(b.targets, b)
    assert s["accuracy_above_middle"] == 1.0 and "accuracy_3.2" in s


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"stimulus": (500.0, 100.0)}, "'stimulus' parameter"),
        ({"coherences": []}, "'coherences' parameter"),
        ({"coherences": [-5.0]}, "'coherences' parameter"),
        ({"decision": 5.0}, "at least one step"),
        ({"stimulus_noise": -1.0}, "'stimulus_noise'"),
    ],
)
def test_bad_parameters(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make("perceptual_decision", **kwargs)
