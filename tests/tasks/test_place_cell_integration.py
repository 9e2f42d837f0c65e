"""Sorscher et al.'s place-cell path integration: the rat's trajectories, the place-cell code, scoring."""

import math

import pytest
import torch

from rnnscope import ConfigError
from rnnscope.tasks import check_task, make


def test_contract_and_paper_defaults():
    task = make("place_cell_integration")
    b = check_task(task)
    assert (task.n_place_cells, task.box_size, task.place_cell_width, task.sequence_length) == (512, 2.2, 0.12, 20)
    assert task.dt == 20.0 and task.surround_scale == 2.0 and task.default_loss == "cross_entropy"
    assert task.input_names[:2] == ("velocity_x", "velocity_y") and task.input_size == 514
    assert b.n_steps == 21


def test_velocity_inputs_integrate_to_the_positions_inside_the_box():
    task = make("place_cell_integration", n_place_cells=64, box_size=0.5, sequence_length=200)
    b = task.sample(64, seed=1)
    pos = b.conditions["position"]
    rebuilt = pos[:, :1] + torch.cumsum(b.inputs[..., 0:2].double() * task.dt / 1000.0, dim=1)
    assert torch.allclose(rebuilt, pos, atol=1e-4)
    assert pos.min() >= 0.0 and pos.max() <= task.box_size
    # the start is encoded on the first step only, and that step is not scored
    code = task.n_place_cells * task.place_cell_activity(pos[:, 0])
    assert torch.allclose(b.inputs[:, 0, 2:].double(), code, atol=1e-5)
    assert (b.inputs[:, 1:, 2:] == 0).all() and (b.inputs[:, 0, :2] == 0).all()
    assert (b.mask[:, 0] == 0).all() and (b.mask[:, 1:] == 1).all()


def test_speeds_are_rayleigh_and_turning_has_the_rotation_std():
    # a huge box: the walls never interfere
    task = make("place_cell_integration", n_place_cells=8, box_size=1000.0, sequence_length=50)
    g = torch.Generator().manual_seed(0)
    pos = task.trajectories(2000, g)
    # start far from the walls is not guaranteed: keep runs that stayed 1 m away from them
    step = torch.diff(pos, dim=1)
    speed = step.norm(dim=-1) / (task.dt / 1000)
    assert speed.mean().item() == pytest.approx(task.speed_scale * math.sqrt(math.pi / 2), rel=0.02)
    heading = torch.atan2(step[..., 1], step[..., 0])
    turn = torch.remainder(torch.diff(heading, dim=1) + math.pi, 2 * math.pi) - math.pi
    assert (turn.std() / (task.dt / 1000)).item() == pytest.approx(task.rotation_std, rel=0.03)


def test_the_rat_turns_away_from_walls():
    task = make("place_cell_integration", n_place_cells=8, box_size=0.3, sequence_length=150)
    blind = make("place_cell_integration", n_place_cells=8, box_size=0.3, sequence_length=150, border_region=0.0)

    def at_wall(t):  # fraction of steps that end pressed against a wall (clipped there)
        pos = t.trajectories(100, torch.Generator().manual_seed(3))
        return ((pos < 1e-9) | (pos > t.box_size - 1e-9)).any(-1).double().mean().item()

    assert at_wall(task) < 0.05 and at_wall(task) < at_wall(blind) / 4


def test_difference_of_softmax_code():
    task = make("place_cell_integration", n_place_cells=256, place_cell_seed=5)
    c = task.place_cell_centres
    assert c.shape == (256, 2) and c.min() >= 0 and c.max() <= task.box_size
    assert not torch.equal(c, make("place_cell_integration", n_place_cells=256).place_cell_centres)
    code = task.place_cell_activity(c[:10])
    assert torch.allclose(code.sum(-1), torch.ones(10, dtype=torch.float64)) and code.min() >= 0
    # each cell's own centre gives it the largest response, and the code decodes back to the position
    assert (code.argmax(-1) == torch.arange(10)).all()
    pos = task.box_size * torch.rand(500, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    err = (task.decode_position(task.place_cell_activity(pos)) - pos).norm(dim=-1).mean()
    assert err < 0.1
    # centre minus surround (variance x surround_scale), shifted to >= 0 and normalised, by hand
    d2 = ((pos[0] - c) ** 2).sum(-1)
    w2 = task.place_cell_width**2
    raw = torch.softmax(-d2 / (2 * w2), 0) - torch.softmax(-d2 / (4 * w2), 0)
    raw = raw - raw.min()
    assert torch.allclose(task.place_cell_activity(pos[0]), raw / raw.sum())


def test_evaluate_scores_the_decoded_targets_as_the_floor():
    task = make("place_cell_integration", n_place_cells=128)
    b = task.sample(32, seed=0)
    perfect = task.evaluate(b.targets.clone(), b)
    assert perfect["decoding_error_cm"] == pytest.approx(perfect["target_error_cm"])
    bad = task.evaluate(torch.zeros_like(b.targets).uniform_(), b)
    assert perfect["performance"] == 1.0
    assert bad["decoding_error_cm"] > 3 * perfect["decoding_error_cm"] and bad["performance"] < 0.8


def test_rejects_bad_parameters():
    with pytest.raises(ConfigError, match="'surround_scale' parameter"):
        make("place_cell_integration", surround_scale=0.5)
    with pytest.raises(ConfigError, match="'border_region' parameter"):
        make("place_cell_integration", border_region=5.0)
