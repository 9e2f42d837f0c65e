"""Tests of the state-space figures: they build without warnings, draw what they say, and save."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d import Axes3D

from rnnscope.analysis import PCA
from rnnscope.errors import NotFittedError
from rnnscope.errors import ConfigError, ShapeError
from rnnscope.plotting import plot_trajectories, plot_variance_explained


def _spirals(n=6, T=40, d=2):
    t = torch.linspace(0, 3, T)
    amp = torch.linspace(0.5, 2.0, n)[:, None]
    xyz = [amp * torch.cos(t), amp * torch.sin(t), 0.3 * amp * t][:d]
    return torch.stack(xyz, dim=-1)  # (n, T, d)


@pytest.mark.parametrize("d", [2, 3])
def test_plot_trajectories_draws_lines_end_markers_and_fixed_points(d, tmp_path):
    projected = _spirals(d=d)
    coherence = torch.tensor([-51.2, -12.8, -3.2, 3.2, 12.8, 51.2])
    context = torch.tensor([0, 1, 0, 1, 0, 1])
    fixed = torch.randn(5, d, generator=torch.Generator().manual_seed(0))
    n_unstable = torch.tensor([0, 0, 1, 2, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_trajectories(projected, coherence, style_by=context, color_label="coherence", style_label="context",
                               fixed_points=fixed, n_unstable=n_unstable, axis_labels=["choice", "motion", "colour"][:d],
                               title=f"{d}-D")
        ax.figure.savefig(tmp_path / f"traj{d}.png", dpi=80)
    assert isinstance(ax.figure, Figure) and isinstance(ax, Axes3D) == (d == 3)
    assert len(ax.lines) == 6
    # one collection for the end markers, one per number of unstable directions (0, 1, 2)
    assert len(ax.collections) == 4
    stable, one, two = ax.collections[1:]
    assert stable.get_facecolors()[0, 3] == 1.0  # filled
    assert one.get_facecolors().size == 0 or one.get_facecolors()[0, 3] == 0.0  # open
    assert len(one.get_offsets()) == 2 and len(two.get_offsets()) == 1
    # the colour map orders the conditions: the most negative and most positive differ
    assert ax.lines[0].get_color() != ax.lines[-1].get_color()
    assert [ln.get_linestyle() for ln in ax.lines[:2]] == ["-", "--"]
    legend = ax.get_legend() if d == 2 else ax.figure.legends[0]  # 3-D: beside the axes
    labels = [t.get_text() for t in legend.get_texts()]
    assert "coherence = -51.2" in labels and "context = 1" in labels and "stable" in labels
    assert "1 unstable direction" in labels and "2 unstable directions" in labels
    assert ax.get_xlabel() == "choice" and ax.get_title() == f"{d}-D"
    assert (tmp_path / f"traj{d}.png").stat().st_size > 5000


def test_plot_trajectories_variants():
    projected = _spirals(n=12)
    lengths = torch.arange(29, 41)
    ax = plot_trajectories(projected, torch.linspace(-1, 1, 12), lengths=lengths, cmap="viridis", mark_end=False)
    assert len(ax.lines) == 12 and len(ax.collections) == 0
    assert len(ax.lines[0].get_xdata()) == 29
    assert len(ax.figure.axes) == 2  # more than 8 values: a colour bar instead of a legend
    ax = plot_trajectories(projected[0], labels=["only"])  # a single (time, 2) trajectory
    assert len(ax.lines) == 1 and [t.get_text() for t in ax.get_legend().get_texts()] == ["only"]
    fig = Figure()
    given = fig.add_subplot()
    out = plot_trajectories(projected, fixed_points=torch.zeros(2))
    assert len(out.collections) == 2  # end markers + fixed points without stability
    assert plot_trajectories(projected[:3], ax=given) is given


def test_plot_trajectories_errors():
    with pytest.raises(ShapeError, match=r"'projected' parameter of plot_trajectories must have shape"):
        plot_trajectories(torch.zeros(3, 10, 4))
    with pytest.raises(ShapeError, match=r"'color_by' parameter .* \(3,\)"):
        plot_trajectories(torch.zeros(3, 10, 2), torch.zeros(4))
    with pytest.raises(ShapeError, match=r"'fixed_points' parameter .* \(n_points, 2\)"):
        plot_trajectories(torch.zeros(3, 10, 2), fixed_points=torch.zeros(4, 3))
    with pytest.raises(ShapeError, match="'n_unstable' parameter"):
        plot_trajectories(torch.zeros(3, 10, 2), fixed_points=torch.zeros(4, 2), n_unstable=torch.zeros(3))
    with pytest.raises(ConfigError, match=r"must be a 3-D Axes"):
        plot_trajectories(torch.zeros(3, 10, 3), ax=Figure().add_subplot())
    with pytest.raises(ConfigError, match="'cmap' parameter"):
        plot_trajectories(torch.zeros(3, 10, 2), cmap="no-such-map")


def test_plot_variance_explained(tmp_path):
    states = torch.randn(200, 8, generator=torch.Generator().manual_seed(0)) * torch.linspace(3, 0.5, 8)
    pca = PCA(n_components=5).fit(states)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot_variance_explained(pca, title="PCA")
        ax.figure.savefig(tmp_path / "variance.png", dpi=80)
    assert isinstance(ax, Axes)
    assert len(ax.patches) == 5 and len(ax.lines) == 1
    heights = [p.get_height() for p in ax.patches]
    assert np.allclose(heights, 100 * pca.explained_variance_ratio_.numpy())
    assert np.isclose(ax.lines[0].get_ydata()[-1], 100 * float(pca.explained_variance_ratio_.sum()))
    assert (tmp_path / "variance.png").stat().st_size > 2000
    ax = plot_variance_explained(torch.tensor([0.5, 0.3]), cumulative=False)
    assert len(ax.patches) == 2 and len(ax.lines) == 0
    with pytest.raises(NotFittedError):
        plot_variance_explained(PCA(2))
    with pytest.raises(ShapeError, match="'pca' parameter of plot_variance_explained"):
        plot_variance_explained(torch.zeros(2, 2))


@pytest.mark.parametrize("d", [2, 3])
def test_slow_points_are_not_drawn_as_fixed_points_and_values_carry_their_names(d):
    """Issue 19: `rnnscope analyse` reported 1 fixed point and drew 6 (its slow points as fixed
    points), and its legends read "context = 0/1" instead of the task's names for the contexts."""
    projected = _spirals(d=d)
    context = torch.tensor([0, 1, 0, 1, 0, 1])
    fixed = torch.zeros(1, d)
    slow = torch.randn(5, d, generator=torch.Generator().manual_seed(1))
    ax = plot_trajectories(projected, style_by=context, style_label="context", style_names=("motion", "colour"),
                           fixed_points=fixed, n_unstable=torch.tensor([0]), slow_points=slow)
    legend = ax.get_legend() if d == 2 else ax.figure.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert "context = motion" in labels and "context = colour" in labels and "context = 0" not in labels
    assert "stable" in labels and "slow points (5)" in labels
    by_label = {c.get_label(): len(c.get_offsets()) for c in ax.collections}
    assert by_label["stable"] == 1 and by_label["slow points (5)"] == 5
    with pytest.raises(ConfigError, match="style_names"):
        plot_trajectories(projected, style_by=context, style_names=3)


def test_fixed_point_colours_are_the_same_in_every_figure():
    """One colour per number of unstable directions in plot_trajectories, plot_flow_field and the
    report's 3-D view (issue 19: 2 unstable directions were orange in one, purple in the other)."""
    from matplotlib.colors import to_hex

    from rnnscope.analysis import flow_field
    from rnnscope.models import RateRNN
    from rnnscope.plotting import plot_flow_field
    from rnnscope.plotting._style import unstable_color

    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k = torch.tensor([0, 1, 2, 3])
    ax = plot_trajectories(_spirals(d=2), fixed_points=points, n_unstable=k)
    traj_edges = {c.get_label(): to_hex(c.get_edgecolors()[0]) for c in ax.collections if "unstable" in c.get_label()}
    model = RateRNN.from_weights(torch.eye(2) * 0.5, nonlinearity="linear", tau=10.0, dt=1.0, bias=False)
    flow_ax = plot_flow_field(flow_field(model, torch.eye(2), extent=2.0, resolution=9), fixed_points=points,
                              n_unstable=k)
    flow_edges = {c.get_label(): to_hex(c.get_edgecolors()[0]) for c in flow_ax.collections
                  if "unstable" in str(c.get_label())}
    assert traj_edges == flow_edges and len(traj_edges) == 3
    assert [traj_edges[f"{j} unstable direction{'s' if j > 1 else ''}"] for j in (1, 2, 3)] == \
        [to_hex(unstable_color(j)) for j in (1, 2, 3)]
