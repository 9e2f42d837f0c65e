"""Context-dependent decision trials (Mante et al. 2013): structure, conditions, evidence, scoring."""

import math

import pytest
import torch

from rnnscope import ConfigError
from rnnscope.tasks import check_task, make
from rnnscope.tasks.context_decision import ContextDecision


def test_contract_and_registry():
    task = make("context_decision")
    assert isinstance(task, ContextDecision)
    check_task(task)
    assert task.input_names == ("fixation", "motion", "colour", "context_motion", "context_colour")
    assert task.output_names == ("choice",)
    assert task.coherences == (6.4, 12.8, 25.6, 51.2)


def test_choice_is_the_sign_of_the_cued_coherence():
    task = make("context_decision", delay=(0.0, 200.0))
    b = task.sample(500, seed=1)
    c = b.conditions
    context = c["context"]
    assert context.dtype == torch.long and set(context.tolist()) == {0, 1}
    cued = torch.where(context == 0, c["coherence_motion"], c["coherence_colour"])
    assert torch.equal(c["coherence"], cued)
    assert torch.equal(c["choice"], torch.sign(cued))
    assert torch.equal(c["choice_motion"], torch.sign(c["coherence_motion"]))
    assert torch.equal(c["choice_colour"], torch.sign(c["coherence_colour"]))
    for key in ("coherence_motion", "coherence_colour"):
        assert set(c[key].abs().tolist()) == set(task.coherences)
    # the two streams are drawn independently: they disagree on about half of the trials
    disagree = (c["choice_motion"] != c["choice_colour"]).float().mean().item()
    assert 0.4 < disagree < 0.6
    # targets: the choice during the decision period only, scored only there
    dec = b.period_mask("decision")
    assert torch.equal(b.mask[..., 0] > 0, dec)
    assert torch.equal(b.targets[..., 0][dec], c["choice"][:, None].expand_as(dec)[dec].float())
    assert (b.targets[..., 0][~dec] == 0).all()
    assert len(set(b.lengths.tolist())) > 1


def test_fixation_and_context_cues():
    task = make("context_decision", delay=(0.0, 200.0))
    b = task.sample(64, seed=2)
    dec = b.period_mask("decision")
    before = (torch.arange(b.n_steps) < b.lengths[:, None]) & ~dec
    assert torch.equal(b.inputs[..., 0] > 0, before)
    one_hot = torch.nn.functional.one_hot(b.conditions["context"], 2).float()
    assert torch.equal(b.inputs[..., 3:5], before[..., None].float() * one_hot[:, None, :])
    stim = b.period_mask("stimulus")
    assert (b.inputs[..., 1:3][~stim] == 0).all()


def test_noiseless_streams_carry_their_coherence():
    task = make("context_decision", stimulus_noise=0.0)
    b = task.sample(32, seed=3)
    stim = b.period_mask("stimulus")
    for channel, key in ((1, "coherence_motion"), (2, "coherence_colour")):
        expected = (b.conditions[key] / 100.0).float()[:, None].expand_as(stim)
        assert torch.equal(b.inputs[..., channel][stim], expected[stim])


def test_noise_is_white_and_independent_between_streams():
    dt = 10.0
    task = make("context_decision", dt=dt, coherences=[25.6])
    b = task.sample(1000, seed=4)
    stim = b.period_mask("stimulus")
    motion = b.inputs[..., 1][stim] - (b.conditions["coherence_motion"] / 100).float()[:, None].expand_as(stim)[stim]
    colour = b.inputs[..., 2][stim] - (b.conditions["coherence_colour"] / 100).float()[:, None].expand_as(stim)[stim]
    assert motion.std().item() == pytest.approx(1.0 / math.sqrt(dt), rel=0.02)
    assert colour.std().item() == pytest.approx(1.0 / math.sqrt(dt), rel=0.02)
    assert abs(torch.corrcoef(torch.stack([motion, colour]))[0, 1].item()) < 0.01


def test_scores_per_context():
    task = make("context_decision")
    b = task.sample(400, seed=5)
    s = task.evaluate(b.targets, b)
    assert s["performance"] == 1.0 and s["accuracy_context_motion"] == 1.0 and s["accuracy_context_colour"] == 1.0
    assert s["accuracy_above_middle"] == 1.0 and "accuracy_6.4" in s
    assert task.evaluate(-b.targets, b)["performance"] == 0.0
    # a network that always follows motion is right in the motion context, at chance in the colour one
    dec = b.period_mask("decision").float()
    follow_motion = (dec * b.conditions["choice_motion"][:, None].float())[..., None]
    s = task.evaluate(follow_motion, b)
    assert s["accuracy_context_motion"] == 1.0
    assert 0.35 < s["accuracy_context_colour"] < 0.65
    assert 0.6 < s["performance"] < 0.9


def test_same_seed_same_batch():
    task = make("context_decision")
    a, b = task.sample(8, seed=7), task.sample(8, seed=7)
    assert torch.equal(a.inputs, b.inputs)
    assert all(torch.equal(a.conditions[k], b.conditions[k]) for k in a.conditions)


def test_bad_dt_message():
    message = r"^The 'dt' parameter of ContextDecision must be a float > 0. Got -1.0 instead.$"
    with pytest.raises(ConfigError, match=message):
        ContextDecision(dt=-1.0)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"stimulus": (500.0, 100.0)}, "'stimulus' parameter"),
        ({"delay": -10.0}, "'delay' parameter"),
        ({"coherences": []}, "'coherences' parameter"),
        ({"coherences": [-5.0]}, "'coherences' parameter"),
        ({"coherences": 12.8}, "'coherences' parameter"),
        ({"decision": 5.0}, "at least one step"),
        ({"stimulus_noise": -1.0}, "'stimulus_noise'"),
    ],
)
def test_bad_parameters(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make("context_decision", **kwargs)
