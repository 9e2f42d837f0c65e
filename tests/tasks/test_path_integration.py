"""Path integration trials (Cueva & Wei 2018; Sorscher et al. place cells): the walk, the code, scoring."""

import math

import pytest
import torch

from rnnscope import ConfigError, ShapeError
from rnnscope.tasks import check_task, make
from rnnscope.tasks.path_integration import PathIntegration


def _integrate(task, b):
    """Positions (m) rebuilt from the cued start and the velocity inputs alone."""
    n_cue = int(b.periods["walk"][0, 0])
    start = (b.inputs[:, 0, 2:4].double() + 0.5) * task.box_size
    assert n_cue >= 1
    steps = b.inputs[..., 0:2].double() * task.mean_speed * task.dt / 1000.0
    return start[:, None, :] + torch.cumsum(steps, dim=1)


@pytest.mark.parametrize("output", ["position", "place_cells"])
def test_contract(output):
    task = make("path_integration", output=output)
    b = check_task(task)
    assert task.input_names == ("velocity_x", "velocity_y", "cue_x", "cue_y")
    if output == "position":
        assert task.output_names == ("x", "y")
    else:
        assert task.output_names == tuple(f"place{i}" for i in range(64))
    assert b.n_steps == round((task.cue_duration + task.duration) / task.dt)


def test_integrating_the_velocity_inputs_gives_the_targets():
    task = make("path_integration")
    b = task.sample(64, seed=1)
    position = b.conditions["position"]
    assert torch.allclose(_integrate(task, b), position, atol=1e-5)
    assert torch.allclose(b.targets.double(), position / task.box_size - 0.5, atol=1e-6)
    assert torch.equal(b.conditions["start"], position[:, 0])


def test_reflections_keep_the_walk_in_the_box_and_integrable():
    # a small box and a fast agent: many wall hits
    task = make("path_integration", box_size=0.3, mean_speed=0.6, duration=3000.0)
    b = task.sample(128, seed=2)
    position = b.conditions["position"]
    assert position.min() >= 0.0 and position.max() <= task.box_size
    assert (position < 0.01).any() and (position > task.box_size - 0.01).any()
    assert torch.allclose(_integrate(task, b), position, atol=1e-5)


def test_cue_and_mask():
    task = make("path_integration", cue_duration=60.0)
    b = task.sample(16, seed=3)
    cue = b.period_mask("cue")
    assert int(cue[0].sum()) == 3
    start = (b.conditions["start"] / task.box_size - 0.5).float()
    assert torch.equal(b.inputs[..., 2:4], cue[..., None].float() * start[:, None, :])
    assert (b.inputs[..., 0:2][cue] == 0).all()  # the agent waits during the cue
    assert torch.equal(b.mask, (~cue)[..., None].float().expand_as(b.mask))


def test_speed_is_rayleigh_with_the_given_mean_and_heading_diffuses():
    # a box so large that the walls are never reached
    task = make("path_integration", box_size=1000.0, mean_speed=0.3, turn_std=2.0, duration=1000.0)
    b = task.sample(500, seed=4)
    walk = b.period_mask("walk")
    velocity = b.conditions["velocity"][walk]
    speed = velocity.norm(dim=-1)
    assert speed.mean().item() == pytest.approx(0.3, rel=0.02)
    # Rayleigh: std / mean = sqrt(4 / pi - 1)
    assert (speed.std() / speed.mean()).item() == pytest.approx(math.sqrt(4 / math.pi - 1), rel=0.03)
    heading = torch.atan2(b.conditions["velocity"][..., 1], b.conditions["velocity"][..., 0])[walk].reshape(500, -1)
    turns = torch.remainder(heading.diff(dim=1) + math.pi, 2 * math.pi) - math.pi
    assert turns.std().item() == pytest.approx(2.0 * math.sqrt(task.dt / 1000.0), rel=0.03)


def test_without_turning_noise_the_walk_is_straight():
    task = make("path_integration", box_size=1000.0, turn_std=0.0)
    b = task.sample(8, seed=5)
    v = b.conditions["velocity"][b.period_mask("walk")].reshape(8, -1, 2)
    direction = v / v.norm(dim=-1, keepdim=True)
    assert torch.allclose(direction, direction[:, :1].expand_as(direction), atol=1e-9)


def test_place_cell_targets_and_decoding():
    task = make("path_integration", output="place_cells")
    b = task.sample(64, seed=6)
    assert torch.allclose(b.targets.sum(-1), torch.ones(b.targets.shape[:2]), atol=1e-5)
    position = b.conditions["position"]
    assert torch.allclose(b.targets.double(), task.place_cell_activity(position), atol=1e-6)
    # the top-3 decoder recovers the positions within a few cm (64 random cells: ~6 cm on average)
    error = (task.decode_position(b.targets) - position).norm(dim=-1)
    assert error.mean().item() < 0.08 and error.median().item() < 0.07 and error.max().item() < 0.3
    other = (task.decode_position(b.targets.roll(1, dims=0)) - position).norm(dim=-1)
    assert other.mean().item() > 0.3
    # the most active cell is the nearest one
    nearest = (position[..., None, :] - task.place_cell_centres).norm(dim=-1).argmin(-1)
    assert torch.equal(b.targets.argmax(-1), nearest)


def test_place_cell_centres_are_fixed_by_the_parameters():
    a = make("path_integration", output="place_cells")
    b = make("path_integration", output="place_cells")
    assert torch.equal(a.place_cell_centres, b.place_cell_centres)
    assert a.place_cell_centres.shape == (64, 2)
    big = make("path_integration", output="place_cells", box_size=2.0)
    assert torch.allclose(big.place_cell_centres, 2.0 * a.place_cell_centres)
    assert big.place_cell_centres.min() >= 0 and big.place_cell_centres.max() <= 2.0
    # same batch seed, same targets, whichever task instance draws them
    assert torch.equal(a.sample(4, seed=0).targets, b.sample(4, seed=0).targets)


def test_evaluate_position_error():
    task = make("path_integration", box_size=2.0)
    b = task.sample(32, seed=7)
    s = task.evaluate(b.targets, b)
    assert s["performance"] == 1.0 and s["position_error"] < 1e-6 and s["decoding_error"] < 1e-6
    shifted = b.targets.clone()
    shifted[..., 0] += 0.05  # 5% of the box along x
    s = task.evaluate(shifted, b)
    assert s["position_error"] == pytest.approx(0.05, rel=1e-4)
    assert s["final_error"] == pytest.approx(0.05, rel=1e-4)
    assert s["performance"] == pytest.approx(0.95, rel=1e-4)
    # only the last step off: final error catches it, the mean barely moves
    last = b.targets.clone()
    last[:, -1, 1] += 0.2
    s = task.evaluate(last, b)
    assert s["final_error"] == pytest.approx(0.2, rel=1e-4) and s["position_error"] < 0.01


def test_evaluate_place_cells_counts_error_beyond_the_decoder():
    task = make("path_integration", output="place_cells")
    b = task.sample(32, seed=8)
    s = task.evaluate(b.targets, b)
    assert s["performance"] == 1.0
    assert s["position_error"] == pytest.approx(s["decoding_error"]) and 0.0 < s["decoding_error"] < 0.08
    # the code of positions shifted by 0.3 m: errors well beyond the decoder's floor
    far = task.place_cell_activity(torch.remainder(b.conditions["position"] + 0.3, 1.0)).float()
    s = task.evaluate(far, b)
    assert s["position_error"] > 0.2 and s["performance"] < 0.85


def test_decode_position_checks_the_shape():
    task = make("path_integration", output="place_cells")
    with pytest.raises(ShapeError, match="output_size 64"):
        task.decode_position(torch.zeros(3, 2))


def test_bad_dt_message():
    message = r"^The 'dt' parameter of PathIntegration must be a float > 0. Got -1.0 instead.$"
    with pytest.raises(ConfigError, match=message):
        PathIntegration(dt=-1.0)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"duration": 5.0}, "'duration' parameter .* at least one step"),
        ({"cue_duration": 0.0}, "'cue_duration' parameter"),
        ({"box_size": 0.0}, "'box_size' parameter"),
        ({"mean_speed": -0.1}, "'mean_speed' parameter"),
        ({"turn_std": -1.0}, "'turn_std' parameter"),
        ({"output": "grid_cells"}, "'output' parameter of PathIntegration must be one of 'position', 'place_cells'"),
        ({"n_place_cells": 2}, "'n_place_cells' parameter"),
        ({"n_place_cells": 64.0}, "'n_place_cells' parameter"),
        ({"place_cell_width": 0.0}, "'place_cell_width' parameter"),
    ],
)
def test_bad_parameters(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        make("path_integration", **kwargs)
