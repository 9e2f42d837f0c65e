"""Phase-portrait figures build without warnings (warnings are errors) and save to PNG."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rnnscope import RateRNN, simulate
from rnnscope.analysis import flow_field, latent_flow_field, nullclines
from rnnscope.errors import ConfigError, ShapeError
from rnnscope.plotting import plot_flow_field

f64 = torch.float64


def _saddle_network() -> RateRNN:
    return RateRNN.from_weights(torch.tensor([[1.5, 0.0], [0.0, 0.5]], dtype=f64), nonlinearity="linear",
                                tau=10.0, dt=1.0, bias=False)


def _rank_one(g: float = 2.0, N: int = 100) -> RateRNN:
    v = torch.where(torch.rand(N, generator=torch.Generator().manual_seed(0)) < 0.5, -1.0, 1.0).double()
    I = torch.randn(N, 1, generator=torch.Generator().manual_seed(1), dtype=f64)
    return RateRNN.from_low_rank(v, g * v, I, tau=100.0, dt=20.0)


def test_phase_portrait_of_a_linear_saddle_with_nullclines_and_trajectories(tmp_path):
    model = _saddle_network()
    flow = flow_field(model, torch.eye(2), extent=2.0, resolution=31)
    starts = torch.tensor([[0.05, 1.8], [-0.05, 1.8], [0.05, -1.8], [-0.05, -1.8]], dtype=f64)
    traj = simulate(model, torch.zeros(4, 40, 0, dtype=f64), initial_state=starts, noise=False)
    ax = plot_flow_field(flow, fixed_points=torch.zeros(1, 2), n_unstable=[1], nullclines=True,
                         trajectories=flow.project(traj.states), title="linear saddle")
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    labels = ax.get_legend_handles_labels()[1]
    assert "1 unstable direction" in labels and "daxis 1/dt = 0" in labels and "daxis 2/dt = 0" in labels
    assert len(ax.figure.axes) == 2  # the plot and the speed colour bar
    path = tmp_path / "saddle.png"
    ax.figure.savefig(path, dpi=80)
    assert path.stat().st_size > 10_000


def test_latent_phase_portrait_of_a_rank_one_network(tmp_path):
    g = 2.0
    model = _rank_one(g)
    flow = latent_flow_field(model, input_channel=0, extent=(-3.0, 3.0, -1.5, 1.5), resolution=41)
    lo, hi = 1e-9, g + 1.0  # k = g tanh(k)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid - g * math.tanh(mid) < 0 else (lo, mid)
    points = torch.tensor([[-lo, 0.0], [0.0, 0.0], [lo, 0.0]], dtype=f64)
    ax = plot_flow_field(flow, fixed_points=points, n_unstable=torch.tensor([0, 1, 0]), speed="state",
                         nullclines=nullclines(flow), density=1.5)
    assert ax.get_xlabel() == "kappa" and ax.get_ylabel() == "v0"
    assert {"stable", "1 unstable direction"} <= set(ax.get_legend_handles_labels()[1])
    path = tmp_path / "rank_one.png"
    ax.figure.savefig(path, dpi=80)
    assert path.stat().st_size > 10_000


def test_draws_on_a_given_axes_without_speed_and_with_a_zero_field(tmp_path):
    fig = Figure(figsize=(8, 3), layout="constrained")
    left, right = fig.subplots(1, 2)
    still = RateRNN.from_weights(torch.eye(2, dtype=f64), nonlinearity="linear", bias=False)  # F = 0 everywhere
    zero = flow_field(still, torch.eye(2), extent=1.0, resolution=5)
    assert plot_flow_field(zero, left) is left  # no streamlines, no heat map: nothing to draw, no warning
    moving = flow_field(_saddle_network(), torch.eye(2), extent=1.0, resolution=11)
    assert plot_flow_field(moving, right, show_speed=False, fixed_points=torch.zeros(1, 2)) is right
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "pair.png", dpi=60)


def test_plot_validates_its_arguments():
    flow = flow_field(_saddle_network(), torch.eye(2), extent=1.0, resolution=5)
    with pytest.raises(ShapeError, match=r"'fixed_points'.*\(n, 2\)"):
        plot_flow_field(flow, fixed_points=torch.zeros(3))
    with pytest.raises(ShapeError, match=r"'n_unstable'.*\(2,\)"):
        plot_flow_field(flow, fixed_points=torch.zeros(2, 2), n_unstable=[0])
    with pytest.raises(ShapeError, match="'trajectories'.*flow.project"):
        plot_flow_field(flow, trajectories=torch.zeros(2, 5, 3))
    with pytest.raises(ConfigError, match="'speed'.*'plane', 'state'"):
        plot_flow_field(flow, speed="fast")
    with pytest.raises(ConfigError, match="'flow'.*FlowField"):
        plot_flow_field(torch.zeros(2, 2))
    with pytest.raises(ConfigError, match="'frame'.*'grid', 'content'"):
        plot_flow_field(flow, frame="tight")


def test_frame_content_zooms_on_what_is_drawn_inside_the_grid():
    flow = flow_field(_saddle_network(), torch.eye(2), extent=10.0, resolution=9)
    points = torch.tensor([[-1.0, -0.5], [1.0, 0.5], [50.0, 0.0]])  # the last lies outside the grid
    trajectory = torch.tensor([[[0.0, 0.0], [0.5, 2.0]]])
    ax = plot_flow_field(flow, fixed_points=points, trajectories=trajectory, frame="content")
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    # the box of the drawn points inside the grid, x in [-1, 1] and y in [-0.5, 2], with a margin of
    # a tenth of its size but at least 2% of the grid's 20 (0.4 here on both axes)
    assert (x0, x1) == pytest.approx((-1.4, 1.4)) and (y0, y1) == pytest.approx((-0.9, 2.4))
    wide = plot_flow_field(flow, trajectories=torch.tensor([[[-8.0, -5.0], [8.0, 5.0]]]), frame="content")
    assert wide.get_xlim() == pytest.approx((-9.6, 9.6)) and wide.get_ylim() == pytest.approx((-6.0, 6.0))
    grid = plot_flow_field(flow, fixed_points=points, trajectories=trajectory)
    assert grid.get_xlim() == pytest.approx((-10.0, 10.0)) and grid.get_ylim() == pytest.approx((-10.0, 10.0))
    nothing = plot_flow_field(flow, frame="content")  # nothing drawn: the grid
    assert nothing.get_xlim() == pytest.approx((-10.0, 10.0))
