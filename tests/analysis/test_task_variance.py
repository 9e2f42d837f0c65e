"""Task variance, clusters, fractional variance, lesions and rule algebra (Yang et al. 2019) on activity
and networks whose answer is known by construction."""

import math

import numpy as np
import pytest
import torch

from rnnscope import ConfigError, RateRNN, ShapeError
from rnnscope.analysis import (
    TaskVariance,
    cluster_units,
    condition_variance,
    lesion_effect,
    replace_inputs,
    rule_combination_effect,
    task_variance,
)
from rnnscope.dynamics import simulate
from rnnscope.tasks import make

RING1, RING2 = slice(1, 33), slice(33, 65)


def test_condition_variance_is_the_variance_across_trials_averaged_over_steps():
    g = torch.Generator().manual_seed(0)
    c = torch.randn(200, 1, 1, generator=g, dtype=torch.float64)  # one condition value per trial
    gains = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    activity = c * gains * torch.ones(200, 10, 3, dtype=torch.float64)
    # a unit that changes over time identically in every trial has no variance across conditions
    activity[..., 0] = torch.linspace(0, 5, 10)
    steps = torch.ones(200, 10, dtype=torch.bool)
    v = condition_variance(activity, steps)
    expected = c.flatten().var(unbiased=False) * gains**2
    assert torch.allclose(v, expected)
    # steps left out do not count, even if wild
    activity[:, :3, 1] = torch.randn(200, 3, generator=g, dtype=torch.float64) * 100
    steps[:, :3] = False
    assert torch.allclose(condition_variance(activity, steps), expected)
    with pytest.raises(ShapeError, match="'steps'"):
        condition_variance(activity, steps[:, :5])


def test_task_variance_properties():
    v = torch.tensor([[4.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1e-5, 0.0]], dtype=torch.float64)
    tv = TaskVariance(variance=v, tasks=("a", "b"))
    assert tv.active.tolist() == [True, True, True, False]
    assert torch.allclose(tv.normalised, torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64))
    assert tv.fractional("a", "b").tolist() == [1.0, 0.0, -1.0]
    with pytest.raises(ConfigError, match="Unknown task 'c'"):
        tv.fractional("a", "c")


def test_task_variance_round_trip(tmp_path):
    tv = TaskVariance(variance=torch.rand(5, 3, dtype=torch.float64), tasks=("x", "y", "z"), threshold=0.01)
    back = TaskVariance.load(tv.save(tmp_path / "tv"))
    assert torch.equal(back.variance, tv.variance) and back.tasks == tv.tasks and back.threshold == 0.01


def test_clusters_of_synthetic_profiles():
    g = np.random.default_rng(0)
    centres = np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0.3, 1]], dtype=float)
    profiles = np.concatenate([c + 0.05 * g.standard_normal((n, 5)) for c, n in zip(centres, (30, 20, 10))])
    out = cluster_units(profiles, k_range=range(2, 8), n_init=5)
    assert out.n_clusters == 3
    assert list(out.k_values) == list(range(2, 8)) and int(np.argmax(out.silhouette)) == 1
    # clusters numbered by the feature where they peak: the first 30 units are cluster 0, and so on
    assert out.labels.tolist() == [0] * 30 + [1] * 20 + [2] * 10
    assert sorted(out.order.tolist()) == list(range(60)) and (np.diff(out.labels[out.order]) >= 0).all()
    assert out.members(2).tolist() == list(range(50, 60))


def _ring_model():
    """Units 0-9 read ring 1, units 10-19 ring 2, units 20-23 only the rule inputs; no recurrence.

    So units 0-9 vary across conditions only where ring 1 carries stimuli (dm1, contextdm1), units
    10-19 only where ring 2 does (dm2, contextdm1), units 20-23 never (inactive)."""
    N = 24
    inp = torch.zeros(N, 85)
    for i in range(10):
        inp[i, 1 + 3 * i] = 1.0
        inp[10 + i, 33 + 3 * i] = 1.0
    inp[20:, 65:] = 0.5
    return RateRNN.from_weights(torch.zeros(N, N), inp, torch.zeros(33, N), nonlinearity="relu", dt=20.0, tau=100.0)


def _quiet_tasks(*names):
    return {n: make(n, timing="fixed", input_noise=0.0) for n in names}


def test_task_variance_of_a_network_built_to_split_the_rings():
    tv = task_variance(_ring_model(), _quiet_tasks("dm1", "dm2", "contextdm1"), n_trials=64)
    assert tv.tasks == ("dm1", "dm2", "contextdm1") and tv.variance.shape == (24, 3)
    assert tv.active.tolist() == [True] * 20 + [False] * 4
    assert (tv.variance[:10, 1] == 0).all() and (tv.variance[:10, 0] > 1e-3).all()
    assert (tv.variance[10:20, 0] == 0).all() and (tv.variance[10:20, 1] > 1e-3).all()
    assert torch.equal(tv.fractional("dm1", "dm2"), torch.tensor([1.0] * 10 + [-1.0] * 10, dtype=torch.float64))
    clusters = cluster_units(tv.normalised, k_range=range(2, 6), n_init=5)
    assert clusters.n_clusters == 2
    assert clusters.labels.tolist() == [0] * 10 + [1] * 10


def _copy_model():
    """Unit 0 copies the fixation input (and the dmsnogo rule input) to the fixation output; units 1-32
    copy the summed stimulus rings to the response ring. Linear, no recurrence: it performs fdgo and
    delaygo (the direction of a decaying bump is still its direction)."""
    N = 33
    inp = torch.zeros(N, 85)
    inp[0, 0] = 1.0
    inp[0, 65 + 17] = 1.0  # rule_dmsnogo
    for k in range(32):
        inp[1 + k, 1 + k] = 1.0
        inp[1 + k, 33 + k] = 1.0
    return RateRNN.from_weights(torch.zeros(N, N), inp, torch.eye(33), nonlinearity="linear", dt=20.0, tau=100.0,
                                bias=False)


def test_lesion_of_the_ring_units_breaks_the_saccades():
    model = _copy_model()
    tasks = {n: make(n, input_noise=0.0) for n in ("fdgo", "delaygo")}
    out = lesion_effect(model, tasks, list(range(1, 33)), n_trials=128)
    assert out.tasks == ("fdgo", "delaygo")
    assert out.baseline.tolist() == [1.0, 1.0]
    # a silent ring reads out as direction 0: only targets within 0.2 pi of 0 stay correct (~20%)
    assert (out.lesioned < 0.35).all() and (out.change < -0.6).all()
    # silencing the fixation unit costs nothing here: the fixation output is low at the end anyway
    assert lesion_effect(model, tasks, [0], n_trials=64).lesioned.tolist() == [1.0, 1.0]


def test_rule_algebra_replaces_the_rule_inputs():
    model = _copy_model()
    task = make("fdgo", input_noise=0.0)
    same = rule_combination_effect(model, task, {"rule_fdgo": 1.0}, n_trials=64)
    assert same.original_performance == 1.0 and same.combined_scores == same.original_scores
    # the dmsnogo rule input holds the fixation output up: the network no longer saccades
    held = rule_combination_effect(model, task, {"rule_dmsnogo": 1.0}, n_trials=64)
    assert held.combined_performance == 0.0
    # a weaker dose leaves the fixation output below 0.5: the saccade comes back
    cancel = rule_combination_effect(model, task, {"rule_dmsnogo": 0.4, "rule_fdgo": 1.0}, n_trials=64)
    assert cancel.combined_performance == 1.0
    with pytest.raises(ConfigError, match="unknown rule channels 'rule_go'"):
        rule_combination_effect(model, task, {"rule_go": 1.0})


def test_replace_inputs_sets_the_channels_on_valid_steps_only():
    b = make("multitask", input_noise=0.0).sample(16, seed=0)
    r = replace_inputs(b, {70: 2.0}, range(65, 85))
    valid = torch.arange(b.n_steps)[None, :] < b.lengths[:, None]
    assert torch.equal(r.inputs[..., 70], 2.0 * valid.float())
    assert (r.inputs[..., 65:70] == 0).all() and torch.equal(r.inputs[..., :65], b.inputs[..., :65])
    assert math.isclose(r.dt, b.dt)


def test_lesion_removes_outgoing_weights_as_the_paper_and_silences_other_models():
    torch.manual_seed(0)
    model = RateRNN(85, 24, 33, dt=20.0, tau=100.0, nonlinearity="softplus", seed=2)
    tasks = {"fdgo": make("fdgo", input_noise=0.0)}
    units = [3, 5, 8]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    removed = lesion_effect(model, tasks, units, n_trials=16)
    assert removed.method == "remove"
    # the same as simulating a network built without those units' outgoing weights
    W, out = model.recurrent_weight.detach().clone(), model.output_weight.detach().clone()
    W[:, units], out[:, units] = 0.0, 0.0
    by_hand = RateRNN.from_weights(W, model.input_weight.detach(), out, bias=model.bias.detach(),
                                   output_bias=model.output_bias.detach(), nonlinearity="softplus", dt=20.0,
                                   tau=100.0)
    batch = tasks["fdgo"].sample(16, seed=0)
    expected = tasks["fdgo"].evaluate(simulate(by_hand, batch.inputs, noise=False).outputs, batch)["performance"]
    assert removed.lesioned.tolist() == [expected]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model untouched
    # a silenced softplus unit still sends log 2: not the same lesion
    silenced = lesion_effect(model, tasks, units, n_trials=16, method="silence")
    assert silenced.method == "silence"
    from rnnscope.analysis import silence
    from rnnscope.analysis.task_variance import _without_outgoing_weights
    held = simulate(model, batch.inputs, noise=False, intervention=silence(units).bind(batch)).outputs
    gone = simulate(_without_outgoing_weights(model, torch.tensor(units)), batch.inputs, noise=False).outputs
    assert (held - gone).abs().max() > 0.05
    # other models: silenced; "remove" refused with the reason
    from rnnscope.models import GRU
    gru = GRU(85, 8, 33, seed=0)
    assert lesion_effect(gru, tasks, [1], n_trials=8).method == "silence"
    with pytest.raises(ConfigError, match="'method' parameter of lesion_effect is 'remove'.*such as RateRNN"):
        lesion_effect(gru, tasks, [1], n_trials=8, method="remove")


def test_lesion_of_a_low_rank_network_removes_its_units_n_and_readout():
    model = RateRNN(85, 20, 33, dt=20.0, rank=2, nonlinearity="softplus", seed=1)
    from rnnscope.analysis.task_variance import _has_outgoing_weights, _without_outgoing_weights
    assert _has_outgoing_weights(model)
    cut = _without_outgoing_weights(model, torch.tensor([2, 7]))
    J = cut.recurrent_matrix()
    assert (J[:, [2, 7]] == 0).all() and (J[:, 3] != 0).any() and (cut.output_weight[:, [2, 7]] == 0).all()
    assert lesion_effect(model, {"fdgo": make("fdgo", input_noise=0.0)}, [2, 7], n_trials=8).method == "remove"
