"""Grid-cell and temporal-scaling figures draw what they are given."""

import numpy as np

from rnnscope.analysis import grid_scores, rate_maps, temporal_scaling, unit_scaling
from rnnscope.plotting import (
    plot_grid_score_histogram,
    plot_grid_units,
    plot_matched_times,
    plot_responses_by_condition,
)


def test_grid_figures(tmp_path):
    rng = np.random.default_rng(0)
    pos = rng.random((3000, 2))
    act = np.stack([np.cos(20 * pos[:, 0]) + np.cos(10 * pos[:, 0] + 17 * pos[:, 1]), rng.random(3000),
                    pos[:, 1]], axis=1)
    maps = rate_maps(pos, act, bins=12, box=1.0)
    scores = grid_scores(maps)
    fig = plot_grid_units(maps, scores, n=2)
    assert len(fig.axes) == 4 and fig.axes[0].get_title().startswith(f"unit {int(scores.best(1)[0])}")
    fig.savefig(tmp_path / "units.png")
    ax = plot_grid_score_histogram(scores)
    assert "score60 > 0.3" in ax.get_legend().get_texts()[-1].get_text()
    ax.figure.savefig(tmp_path / "hist.png")


def test_timing_figures(tmp_path):
    t = [np.arange(n + 1) / n for n in (30, 40, 50)]
    runs = [np.stack([np.sin(3 * s), np.cos(3 * s), s], 1) for s in t]
    ax = plot_responses_by_condition(runs, 20.0, 0, [600, 800, 1000], normalise_time=True)
    assert len(ax.lines) == 3 and ax.lines[0].get_xdata()[-1] == 1.0
    k = temporal_scaling(runs, 20.0)
    ax = plot_matched_times(k, [600, 800, 1000])
    assert len(ax.lines) == 3 and "speed" in ax.get_legend().get_texts()[0].get_text()
    ax.figure.savefig(tmp_path / "kinet.png")
    assert unit_scaling(runs, 20.0).fraction_scaling() == 1.0
