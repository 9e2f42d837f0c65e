"""Phase portraits: a :class:`~rnnscope.analysis.FlowField` as streamlines over a speed map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..analysis.flow_field import FlowField, Nullclines, nullclines as _nullclines
from ..errors import ConfigError, ShapeError
from ._style import SLOW_POINT_COLOR, unstable_color, unstable_label

__all__ = ["plot_flow_field"]


def _array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"The {name!r} parameter of plot_flow_field must be an array of numbers. "
                          f"Got {type(value).__name__} instead.") from None


def plot_flow_field(
    flow: FlowField,
    ax: Axes | None = None,
    *,
    fixed_points: torch.Tensor | np.ndarray | None = None,
    n_unstable: torch.Tensor | np.ndarray | Sequence[int] | None = None,
    slow_points: torch.Tensor | np.ndarray | None = None,
    trajectories: torch.Tensor | np.ndarray | None = None,
    show_speed: bool = True,
    speed: str = "plane",
    nullclines: bool | Nullclines = False,
    density: float = 1.0,
    trajectory_color: str | Sequence[str] = "C1",
    frame: str = "grid",
    title: str | None = None,
) -> Axes:
    """Streamlines of ``flow`` over a log-speed heat map, with fixed points and trajectories.

    Everything drawn must already be in plane coordinates: project states with
    ``flow.project(states)`` (e.g. ``flow.project(fixed_points.states)``).

    Args:
        flow: a :class:`~rnnscope.analysis.FlowField`.
        ax: the Axes to draw on; None makes a new Figure (``ax.figure``; no pyplot state is touched).
        fixed_points: plane coordinates of fixed points.
        n_unstable: number of unstable directions of each fixed point: 0 is drawn filled black
            (stable), k > 0 open with an edge colour per k (saddles; the colours of
            :func:`~rnnscope.plotting.plot_trajectories` and of the report's 3-D view). None: all
            drawn in grey.
        slow_points: plane coordinates of slow points (small but nonzero speed, e.g.
            ``FixedPoints.slow()``), drawn as small grey crosses, never as fixed points.
        trajectories: plane coordinates of trajectories; each is a line with a dot at its start.
        show_speed: draw the speed as a heat map with a colour bar (log scale from the 1st percentile
            of the speeds, lower values in the lowest colour, to the maximum).
        speed: ``"plane"`` (``flow.speed``, the in-plane speed) or ``"state"`` (``flow.state_speed``,
            the speed of the full state).
        nullclines: True draws the zero-level curves of the two velocity components
            (:func:`~rnnscope.analysis.nullclines`); or pass a :class:`~rnnscope.analysis.Nullclines`.
        density: streamline density (matplotlib ``streamplot``).
        trajectory_color: one colour, or one per trajectory.
        frame: ``"grid"`` frames the whole grid of ``flow``; ``"content"`` frames what is drawn on it
            (the trajectories and the fixed points inside the grid, with a margin of a tenth of their
            extent), so that a grid laid wide around a few far excursions does not shrink the fixed
            points to a few pixels. Falls back to the grid when nothing is drawn.
        title: the Axes title.

    Returns:
        The Axes.

    Shape:
        - fixed_points: (n, 2); n_unstable: (n,); slow_points: (m, 2)
        - trajectories: (..., time, 2)
    """
    own = "plot_flow_field"
    if not isinstance(flow, FlowField):
        raise ConfigError(f"The 'flow' parameter of {own} must be a FlowField. Got {type(flow).__name__} instead.")
    if speed not in ("plane", "state"):
        raise ConfigError(f"The 'speed' parameter of {own} must be one of 'plane', 'state'. Got {speed!r} instead.")
    if not isinstance(show_speed, bool):
        raise ConfigError(f"The 'show_speed' parameter of {own} must be a bool. Got {show_speed!r} instead.")
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not density > 0:
        raise ConfigError(f"The 'density' parameter of {own} must be a float > 0. Got {density!r} instead.")
    if frame not in ("grid", "content"):
        raise ConfigError(f"The 'frame' parameter of {own} must be one of 'grid', 'content'. Got {frame!r} instead.")
    drawn: list[np.ndarray] = []  # plane coordinates of what is drawn, for frame="content"
    if ax is None:
        fig = Figure(figsize=(5.6, 4.6), layout="constrained")
        ax = fig.add_subplot()
    elif not isinstance(ax, Axes):
        raise ConfigError(f"The 'ax' parameter of {own} must be a matplotlib Axes or None. "
                          f"Got {type(ax).__name__} instead.")

    X, Y = flow.X.detach().cpu().numpy(), flow.Y.detach().cpu().numpy()
    U, V = flow.U.detach().cpu().numpy(), flow.V.detach().cpu().numpy()
    x0, x1, y0, y1 = flow.extent
    per = "ms" if flow.time == "continuous" else "step"

    if show_speed:
        S = (flow.speed if speed == "plane" else flow.state_speed).detach().cpu().numpy()
        positive = S[np.isfinite(S) & (S > 0)]
        if positive.size:
            # the lower end of the colour scale is the 1st percentile, so that a grid point that falls
            # on a fixed point (speed ~1e-17) does not stretch the scale over 15 decades
            lo, hi = float(np.percentile(positive, 1.0)), float(positive.max())
            if hi <= lo:
                lo, hi = lo / 10.0, hi * 10.0
            masked = np.ma.masked_where(~np.isfinite(S) | (S <= 0), S)
            mesh = ax.pcolormesh(X, Y, masked, shading="nearest", cmap="viridis",
                                 norm=LogNorm(vmin=lo, vmax=hi), rasterized=True)
            what = "in-plane speed" if speed == "plane" else "state speed"
            ax.figure.colorbar(mesh, ax=ax, label=f"{what} (per {per})")

    finite = np.isfinite(U) & np.isfinite(V)
    if finite.any() and (np.abs(U[finite]).max() > 0 or np.abs(V[finite]).max() > 0):
        line_color = "white" if show_speed else "0.25"
        ax.streamplot(X[0], Y[:, 0], np.where(finite, U, 0.0), np.where(finite, V, 0.0), density=density,
                      color=line_color, linewidth=0.7, arrowsize=0.8)

    if nullclines is not False:
        if nullclines is True:
            nullclines = _nullclines(flow)
        if not isinstance(nullclines, Nullclines):
            raise ConfigError(f"The 'nullclines' parameter of {own} must be a bool or a Nullclines. "
                              f"Got {type(nullclines).__name__} instead.")
        for curves, color, label in ((nullclines.x_nullcline, "C0", flow.labels[0]),
                                     (nullclines.y_nullcline, "C6", flow.labels[1])):
            name = f"d{label}/dt = 0" if flow.time == "continuous" else f"\u0394{label} = 0"
            for i, c in enumerate(curves):
                c = c.detach().cpu().numpy()
                ax.plot(c[:, 0], c[:, 1], color=color, lw=1.8, ls="--", label=name if i == 0 else None)

    if trajectories is not None:
        T = _array("trajectories", trajectories)
        if T.ndim < 2 or T.shape[-1] != 2:
            raise ShapeError(f"The 'trajectories' parameter of {own} must have shape (..., time, 2) (plane "
                             f"coordinates; use flow.project(states)). Got {T.shape} instead.")
        T = T.reshape(-1, T.shape[-2], 2)
        drawn.append(T.reshape(-1, 2))
        if isinstance(trajectory_color, str):
            colors = [trajectory_color] * T.shape[0]
        else:
            colors = list(trajectory_color)
            if len(colors) != T.shape[0]:
                raise ConfigError(f"The 'trajectory_color' parameter of {own} must be one colour or one per "
                                  f"trajectory ({T.shape[0]}). Got {len(colors)} colours instead.")
        for tr, col in zip(T, colors):
            ax.plot(tr[:, 0], tr[:, 1], color=col, lw=1.2, alpha=0.9, zorder=3)
            ax.plot(tr[:1, 0], tr[:1, 1], "o", color=col, ms=3, zorder=3)

    if slow_points is not None:
        Q = _array("slow_points", slow_points)
        if Q.ndim != 2 or Q.shape[1] != 2:
            raise ShapeError(f"The 'slow_points' parameter of {own} must have shape (m, 2) (plane coordinates; "
                             f"use flow.project(points.states)). Got {Q.shape} instead.")
        if len(Q):
            drawn.append(Q)
            ax.scatter(Q[:, 0], Q[:, 1], s=14, marker="x", color=SLOW_POINT_COLOR, linewidth=0.9, zorder=4,
                       label=f"slow points ({len(Q)})")

    if fixed_points is not None:
        P = _array("fixed_points", fixed_points)
        if P.ndim != 2 or P.shape[1] != 2:
            raise ShapeError(f"The 'fixed_points' parameter of {own} must have shape (n, 2) (plane coordinates; "
                             f"use flow.project(fixed_points.states)). Got {P.shape} instead.")
        drawn.append(P)
        if n_unstable is None:
            ax.scatter(P[:, 0], P[:, 1], s=45, facecolor="0.6", edgecolor="k", zorder=5, label="fixed point")
        else:
            k = _array("n_unstable", n_unstable)
            if k.shape != (P.shape[0],):
                raise ShapeError(f"The 'n_unstable' parameter of {own} must have shape ({P.shape[0]},) (one per "
                                 f"fixed point). Got {k.shape} instead.")
            k = k.astype(int)
            for kk in sorted(set(k.tolist())):
                sel = k == kk
                if kk == 0:
                    ax.scatter(P[sel, 0], P[sel, 1], s=55, facecolor="k", edgecolor="white", linewidth=0.8,
                               zorder=7, label=unstable_label(0))
                else:
                    ax.scatter(P[sel, 0], P[sel, 1], s=55, facecolor="white", linewidth=1.8, zorder=6,
                               edgecolor=unstable_color(kk), label=unstable_label(kk))

    if frame == "content":
        x0, x1, y0, y1 = _content_frame(drawn, (x0, x1, y0, y1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(flow.labels[0])
    ax.set_ylabel(flow.labels[1])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    if title:
        ax.set_title(title)
    return ax


def _content_frame(drawn: list[np.ndarray], grid: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The bounding box of the drawn points inside the grid, with a margin of a tenth of its size
    (at least 2% of the grid's), clipped to the grid; the grid when nothing is drawn in it."""
    x0, x1, y0, y1 = grid
    points = np.concatenate(drawn) if drawn else np.zeros((0, 2))
    points = points[np.isfinite(points).all(axis=1)]
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    points = points[inside]
    if len(points) == 0:
        return grid
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.maximum(0.1 * (hi - lo), 0.02 * np.array([x1 - x0, y1 - y0]))
    lo, hi = np.maximum(lo - pad, [x0, y0]), np.minimum(hi + pad, [x1, y1])
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])
