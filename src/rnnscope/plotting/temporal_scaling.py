"""Temporal scaling: single units across intervals and matched times (KiNeT); data in, Axes out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.temporal_scaling import TemporalScaling

__all__ = ["plot_responses_by_condition", "plot_matched_times"]


def _colours(values: Sequence[float], cmap: str) -> list:
    v = np.asarray(values, dtype=np.float64)
    span = np.ptp(v) if v.size > 1 and np.ptp(v) > 0 else 1.0
    return [colormaps[cmap](0.1 + 0.8 * (x - v.min()) / span) for x in v]


def plot_responses_by_condition(responses: Sequence[torch.Tensor | np.ndarray], dt: float, unit: int,
                                values: Sequence[float], ax: Axes | None = None, *, normalise_time: bool = False,
                                cmap: str = "viridis", value_label: str = "interval (ms)") -> Axes:
    """One unit's response in each condition against time (ms from the epoch's start), or against
    the fraction of the epoch (``normalise_time``), each line coloured by the condition's value.

    Shape: responses[i] (T_i, units); values (conditions,)
    """
    ax = Figure(figsize=(3.6, 2.8), layout="constrained").subplots() if ax is None else ax
    for r, c, v in zip(responses, _colours(values, cmap), values):
        y = (r.detach().cpu().numpy() if isinstance(r, torch.Tensor) else np.asarray(r))[:, unit]
        t = np.arange(len(y)) * dt
        ax.plot(t / t[-1] if normalise_time else t, y, color=c, lw=1.2, label=f"{v:g}")
    ax.set_xlabel("fraction of the interval" if normalise_time else "time (ms)")
    ax.set_ylabel(f"unit {unit}")
    ax.legend(fontsize=6, title=value_label, title_fontsize=6)
    return ax


def plot_matched_times(result: TemporalScaling, values: Sequence[float] | None = None, ax: Axes | None = None, *,
                       cmap: str = "viridis") -> Axes:
    """KiNeT: for each trajectory, the time of its point nearest the reference state against the
    reference time, with each trajectory's relative speed in the legend (a line of slope
    ``1 / speed``; perfect scaling: slope ``T_i / T_ref``)."""
    ax = Figure(figsize=(3.6, 3.0), layout="constrained").subplots() if ax is None else ax
    vals = result.durations.numpy() if values is None else np.asarray(values, dtype=np.float64)
    t_ref = result.reference_times.numpy()
    for i, c in enumerate(_colours(vals, cmap)):
        ax.plot(t_ref, result.matched_times[i].numpy(), color=c, lw=1.2,
                label=f"{vals[i]:g}: speed {result.relative_speed[i]:.2f}")
    ax.set_xlabel("time on the reference (ms)")
    ax.set_ylabel("matched time (ms)")
    ax.legend(fontsize=6)
    return ax
