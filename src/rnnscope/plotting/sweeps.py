"""Figures of many runs: a score against the value of one setting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import ShapeError

__all__ = ["plot_score_against"]


def plot_score_against(values: Sequence[Any], scores: Sequence[float], *, key: str,
                       score_name: str = "performance", title: str | None = None) -> Figure:
    """One point per run at its value of setting ``key``, and the mean over runs of each value
    (with the standard deviation as an error bar).

    Numbers are placed on a numeric axis (logarithmic when all are positive and span a factor of 10 or
    more); anything else one category per value, in order of first appearance. Runs without a score
    (NaN) are left out.

    Shape:
        - values, scores: (runs,)
    """
    if len(values) != len(scores):
        raise ShapeError(f"'values' and 'scores' must have one entry per run. Got {len(values)} and {len(scores)}.")
    keep = [(v, float(s)) for v, s in zip(values, scores) if s is not None and math.isfinite(float(s))]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in keep)
    order = list(dict.fromkeys(v for v, _ in keep))
    if numeric:
        order.sort()
    fig = Figure(figsize=(5, 3.4), layout="constrained")
    ax = fig.subplots()
    position = {v: (float(v) if numeric else i) for i, v in enumerate(order)}
    rng = np.random.default_rng(0)
    spread = 0.0 if numeric else 0.08
    xs = [position[v] + spread * rng.uniform(-1, 1) for v, _ in keep]
    ax.scatter(xs, [s for _, s in keep], s=14, alpha=0.5, color="C0", label="runs")
    means = [np.mean([s for w, s in keep if w == v]) for v in order]
    stds = [np.std([s for w, s in keep if w == v]) for v in order]
    ax.errorbar([position[v] for v in order], means, yerr=stds, color="C3", marker="o", capsize=3, label="mean +- sd")
    if numeric and order and min(order) > 0 and max(order) >= 10 * min(order):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(order)), [str(v) for v in order])
    ax.set_xlabel(key)
    ax.set_ylabel(score_name)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{score_name} against {key}")
    return fig
