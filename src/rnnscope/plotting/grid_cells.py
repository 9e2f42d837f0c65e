"""Rate maps, autocorrelograms and grid scores: data in, matplotlib Figure or Axes out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.grid_cells import GridScores, RateMaps

__all__ = ["plot_grid_units", "plot_grid_score_histogram"]


def plot_grid_units(maps: RateMaps, scores: GridScores, units: Sequence[int] | None = None, *, n: int = 8,
                    which: str = "score60") -> Figure:
    """Rate maps (top row) and their spatial autocorrelograms (bottom row) of ``units``, by default
    the ``n`` units with the highest ``which`` score; each titled with its unit index and scores."""
    chosen = [int(u) for u in (scores.best(n, which) if units is None else units)]
    fig = Figure(figsize=(1.6 * max(len(chosen), 1), 3.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(2, max(len(chosen), 1), squeeze=False))
    (x0, x1), (y0, y1) = maps.box
    for col, u in enumerate(chosen):
        top, bottom = axes[0, col], axes[1, col]
        top.imshow(maps.maps[u].numpy(), origin="lower", extent=(x0, x1, y0, y1), cmap="jet", interpolation="none")
        top.set_title(f"unit {u}\n60: {scores.score60[u]:.2f}  90: {scores.score90[u]:.2f}", fontsize=7)
        bottom.imshow(scores.autocorrelograms[u].numpy(), origin="lower", cmap="jet", vmin=-1, vmax=1,
                      interpolation="none")
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("rate map", fontsize=8)
    axes[1, 0].set_ylabel("autocorrelogram", fontsize=8)
    return fig


def plot_grid_score_histogram(scores: GridScores, ax: Axes | None = None, *, threshold: float = 0.3,
                              bins: int = 30) -> Axes:
    """Histograms of score60 and score90 over units, with the grid-cell threshold on score60 marked
    and the fraction of units above it in the legend."""
    ax = Figure(figsize=(4.4, 3.2), layout="constrained").subplots() if ax is None else ax
    s60, s90 = scores.score60.numpy(), scores.score90.numpy()
    finite = np.concatenate([s60[np.isfinite(s60)], s90[np.isfinite(s90)]])
    edges = np.linspace(min(finite.min(initial=-0.5), -0.5), max(finite.max(initial=1.5), 1.5), bins + 1)
    ax.hist(s60[np.isfinite(s60)], bins=edges, alpha=0.7, color="C0", label="score60")
    ax.hist(s90[np.isfinite(s90)], bins=edges, alpha=0.5, color="C1", label="score90")
    ax.axvline(threshold, color="k", ls="--", lw=1,
               label=f"{scores.fraction_above(threshold):.0%} of units: score60 > {threshold:g}")
    ax.set_xlabel("grid score")
    ax.set_ylabel("units")
    ax.legend(fontsize=7)
    return ax
