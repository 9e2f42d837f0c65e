"""plot_trials: lines for a few outputs, heat maps for many (issue 19: 64 place-cell outputs as lines
made the path-integration training figure unreadable)."""

from __future__ import annotations

import torch

from rnnscope import tasks
from rnnscope.plotting import plot_trials


def test_a_few_outputs_are_lines():
    task = tasks.make("flipflop")
    batch = task.sample(3, seed=0)
    fig = plot_trials(batch, batch.targets, input_names=task.input_names, output_names=task.output_names)
    right = fig.axes[1]
    assert len(right.images) == 0 and len(right.lines) == 3 * task.output_size


def test_many_outputs_are_heat_maps_of_targets_and_outputs(tmp_path):
    task = tasks.make("path_integration", output="place_cells")
    assert task.output_size > 8
    batch = task.sample(2, seed=0)
    outputs = batch.targets + 0.01 * torch.randn(batch.targets.shape, generator=torch.Generator().manual_seed(0))
    fig = plot_trials(batch, outputs, n_trials=2, input_names=task.input_names)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 4  # a target and an output map per trial
    assert all(max(len(ax.lines) for ax in images) == 0 for ax in images)
    assert {ax.get_title() for ax in fig.axes} >= {"inputs", "outputs"}
    fig.savefig(tmp_path / "trials.png", dpi=60)
