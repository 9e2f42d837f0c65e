"""Cue-Set-Go: the tonic context input sets the interval to produce."""

import pytest
import torch

from rnnscope import ConfigError
from rnnscope.tasks import check_task, make


def test_contract_and_trial_structure():
    task = make("cue_set_go", dt=10.0)
    check_task(task, batch_size=16)
    b = task.sample(16, seed=1)
    ts = b.conditions["sample_interval"]
    assert ((ts >= 500 - 5) & (ts <= 1000 + 5)).all() and torch.equal(ts, b.conditions["target_interval"])
    for i in range(16):
        n, set_ = int(b.lengths[i]), int(b.periods["produce"][i, 0])
        # the context is on, at ts in seconds, on every valid step and only there
        assert torch.allclose(b.inputs[i, :n, 0], torch.full((n,), float(ts[i]) / 1000))
        assert (b.inputs[i, n:, 0] == 0).all()
        assert b.inputs[i, :, 1].nonzero().flatten().tolist() == [set_ + k for k in range(4)]
        go = set_ + round(float(ts[i]) / task.dt) - 1  # the step that ends at Go
        assert b.targets[i, go, 0].item() == pytest.approx(1.0, abs=1e-6)
        assert (b.targets[i, :set_] == 0).all()


def test_scores_the_ideal_ramp_as_perfect_and_rejects_bad_parameters():
    task = make("cue_set_go", context_scale=2.0)
    b = task.sample(32, seed=0)
    assert torch.allclose(b.conditions["context"], 2 * b.conditions["sample_interval"] / 1000)
    assert task.evaluate(b.targets, b)["performance"] > 0.99
    with pytest.raises(ConfigError, match="'context_scale' parameter"):
        make("cue_set_go", context_scale=0.0)
