"""Tests of the Measure-Set-Go interval reproduction task."""

from __future__ import annotations

import math

import pytest
import torch

from rnnscope.errors import ConfigError, ShapeError
from rnnscope.tasks import check_task, make
from rnnscope.tasks.measure_set_go import MeasureSetGo, produced_intervals, timing_scores


def test_registered_and_default_parameters():
    task = make("measure_set_go")
    assert isinstance(task, MeasureSetGo)
    assert task.params() == {
        "dt": 20.0, "fixation": [200.0, 200.0], "sample_interval": [500.0, 1000.0],
        "cue_duration": 40.0, "gain": 1.0, "post_go": 0.3,
    }
    assert task.input_names == ("ready", "set") and task.output_names == ("ramp",)
    assert task.default_criterion == 0.95


@pytest.mark.parametrize(
    "params",
    [{}, {"dt": 5.0}, {"dt": 20.0, "gain": 1.5}, {"dt": 7.0, "gain": 0.7, "fixation": [100.0, 300.0]}],
)
def test_contract(params):
    check_task(make("measure_set_go", **params), batch_size=16)


@pytest.mark.parametrize("params", [{}, {"dt": 5.0}, {"dt": 20.0, "gain": 1.5}, {"dt": 10.0, "post_go": 0.1}])
def test_trial_structure(params):
    task = MeasureSetGo(**params)
    batch = task.sample(8, seed=2)
    dt, cue = task.dt, round(task.cue_duration / task.dt)
    ts = batch.conditions["sample_interval"]
    assert torch.allclose(batch.conditions["target_interval"], task.gain * ts)
    assert bool((ts >= task.sample_interval[0] - dt / 2).all() and (ts <= task.sample_interval[1] + dt / 2).all())
    for i in range(batch.batch_size):
        n = int(batch.lengths[i])
        ready = int(batch.periods["measure"][i, 0])
        set_ = int(batch.periods["produce"][i, 0])
        assert int(batch.periods["fixation"][i, 1]) == ready
        assert (set_ - ready) * dt == pytest.approx(float(ts[i]))
        expected_inputs = torch.zeros(batch.n_steps, 2)
        expected_inputs[ready:ready + cue, 0] = 1.0
        expected_inputs[set_:set_ + cue, 1] = 1.0
        assert torch.equal(batch.inputs[i], expected_inputs)
        # target: 0 until Set, then a line through 0 at Set (time set_ * dt) with slope 1 / tp,
        # reading step t at the end of the step, (t + 1) * dt
        tp = float(batch.conditions["target_interval"][i])
        expected = [0.0 if t < set_ else (t + 1 - set_) * dt / tp for t in range(n)]
        assert batch.targets[i, :n, 0].tolist() == pytest.approx(expected, abs=1e-6)
        assert bool((batch.targets[i, n:] == 0).all())
        assert bool((batch.mask[i, :n] == 1).all() and (batch.mask[i, n:] == 0).all())
        # the scored window goes past Go by post_go * tp (within a step) and the ramp crosses 1
        assert (n - set_) * dt >= (1 + task.post_go) * tp - 1e-6
        assert (n - set_) * dt < (1 + task.post_go) * tp + dt
        assert float(batch.targets[i, n - 1, 0]) > 1.0
        # Go: the produce period ends within half a step of Set + tp
        assert abs(int(batch.periods["produce"][i, 1]) * dt - (set_ * dt + tp)) <= dt / 2 + 1e-9
        assert int(batch.periods["post"][i, 1]) == n


@pytest.mark.parametrize("params", [{}, {"dt": 5.0}, {"dt": 20.0, "gain": 1.5}, {"dt": 13.0, "gain": 0.8}])
def test_produced_intervals_of_targets_recover_target_interval(params):
    task = MeasureSetGo(**params)
    batch = task.sample(64, seed=0)
    produced = produced_intervals(batch.targets, batch)
    assert produced.shape == (64,) and produced.dtype == torch.float64
    target = batch.conditions["target_interval"]
    assert bool(((produced - target).abs() <= task.dt).all())
    assert torch.allclose(produced, target, atol=1e-2)  # exact up to float32 rounding of the targets
    assert torch.equal(produced_intervals(batch.targets[..., 0], batch), produced)
    scores = task.evaluate(batch.targets, batch)
    assert scores["performance"] >= 0.99
    assert scores["correlation"] == pytest.approx(1.0, abs=1e-6)
    assert scores["fraction_responded"] == 1.0


def test_shifted_and_scaled_ramps_give_expected_errors():
    task = MeasureSetGo()
    batch = task.sample(32, seed=1)
    target = batch.conditions["target_interval"]
    # a ramp raised by 0.1 reaches 1 at 0.9 * tp: relative error 0.1
    shifted = task.evaluate(batch.targets + 0.1, batch)
    assert shifted["relative_error"] == pytest.approx(0.1, abs=1e-4)
    assert shifted["performance"] == pytest.approx(0.9, abs=1e-4)
    assert shifted["correlation"] == pytest.approx(1.0, abs=1e-6)
    # a ramp with 1.25x the slope produces 0.8 * tp
    fast = produced_intervals(1.25 * batch.targets, batch)
    assert torch.allclose(fast, 0.8 * target, atol=1e-2)
    assert task.evaluate(1.25 * batch.targets, batch)["relative_error"] == pytest.approx(0.2, abs=1e-4)
    # a ramp with 0.9x the slope crosses 1 within the post-Go window (post_go = 0.3)
    slow = produced_intervals(0.9 * batch.targets, batch)
    assert torch.allclose(slow, target / 0.9, atol=1e-2)


def test_non_crossing_trials_and_zero_outputs():
    task = MeasureSetGo()
    batch = task.sample(10, seed=4)
    zero = task.evaluate(torch.zeros_like(batch.targets), batch)
    assert zero == {"performance": 0.0, "relative_error": 1.0, "correlation": 0.0, "fraction_responded": 0.0}
    # half the trials never reach threshold, the others are perfect
    outputs = batch.targets.clone()
    outputs[::2] *= 0.5
    produced = produced_intervals(outputs, batch)
    assert bool(torch.isnan(produced[::2]).all()) and not bool(torch.isnan(produced[1::2]).any())
    scores = task.evaluate(outputs, batch)
    assert scores["fraction_responded"] == 0.5
    assert scores["relative_error"] == pytest.approx(0.5, abs=1e-4)
    assert scores["performance"] == pytest.approx(0.5, abs=1e-4)


def test_crossing_before_set_is_ignored_and_padding_is_not_searched():
    task = MeasureSetGo()
    batch = task.sample(8, seed=5)
    outputs = batch.targets.clone()
    set_ = batch.periods["produce"][:, 0]
    for i in range(8):
        outputs[i, : int(set_[i]) - 1, 0] = 2.0  # above threshold during fixation / measure only
    assert torch.allclose(produced_intervals(outputs, batch), batch.conditions["target_interval"], atol=1e-2)
    # an output only above threshold in the padding after a short trial counts as no response
    short = int(batch.lengths.argmin())
    outputs = torch.zeros_like(batch.targets)
    outputs[short, int(batch.lengths[short]):, 0] = 2.0
    assert math.isnan(float(produced_intervals(outputs, batch)[short]))


def test_timing_scores_by_hand():
    produced = torch.tensor([500.0, 660.0, float("nan"), 2000.0])
    sample = torch.tensor([500.0, 600.0, 700.0, 800.0])
    target = 1.0 * sample
    scores = timing_scores(produced, sample, target)
    # errors 0, 0.1, 1 (no response), min(1.5, 1): no trial counts worse than no response
    assert scores["relative_error"] == pytest.approx((0 + 0.1 + 1 + 1) / 4)
    assert scores["fraction_responded"] == 0.75
    p, s = torch.tensor([500.0, 660.0, 2000.0]), torch.tensor([500.0, 600.0, 800.0])
    assert scores["correlation"] == pytest.approx(float(torch.corrcoef(torch.stack([p, s]))[0, 1]))
    assert timing_scores(torch.tensor([500.0, float("nan")]), sample[:2], target[:2])["correlation"] == 0.0


def test_produced_intervals_checks_shape():
    batch = MeasureSetGo().sample(4, seed=0)
    with pytest.raises(ShapeError):
        produced_intervals(batch.targets[:, :-1], batch)
    with pytest.raises(ShapeError):
        produced_intervals(batch.targets.numpy(), batch)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dt": -1.0}, "The 'dt' parameter of MeasureSetGo must be a float > 0"),
        ({"sample_interval": [1000.0, 500.0]}, "The 'sample_interval' parameter of MeasureSetGo"),
        ({"sample_interval": [20.0, 100.0]}, "'sample_interval'.*'cue_duration'"),
        ({"cue_duration": 5.0}, "The 'cue_duration' parameter of MeasureSetGo must be a float >= 20"),
        ({"fixation": -5.0}, "'fixation'"),
        ({"gain": 0.0}, "'gain'"),
        ({"post_go": 0.0}, "'post_go'"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        make("measure_set_go", **params)
