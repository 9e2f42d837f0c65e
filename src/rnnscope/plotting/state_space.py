"""Figures of state space: trajectories by condition (2-D and 3-D) with fixed points, PCA spectra.

The functions only draw: project the data first (:class:`~rnnscope.analysis.PCA`,
:class:`~rnnscope.analysis.RegressionAxes`), then pass the coordinates in.

Example:
    >>> averages, table = condition_average(states, batch.conditions, ["context", "coherence_motion"])
    >>> pca = PCA(3).fit(averages)
    >>> points = find_fixed_points(model, ...)
    >>> ax = plot_trajectories(pca.transform(averages), color_by=table["coherence_motion"],
    ...                        style_by=table["context"], fixed_points=pca.transform(points.states),
    ...                        n_unstable=points.n_unstable)
    >>> ax.figure.savefig("state_space.png")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.mplot3d import Axes3D

from ..analysis.state_space import PCA, _check_fitted
from ..errors import ConfigError, ShapeError
from ._style import SLOW_POINT_COLOR, unstable_color, unstable_label

__all__ = ["plot_trajectories", "plot_variance_explained"]

#: Line styles given to successive values of ``style_by``.
_STYLES = ("-", "--", ":", "-.")
#: Up to this many distinct ``color_by`` values get a legend; more get a colour bar.
_MAX_LEGEND_VALUES = 8


def _array(owner: str, name: str, value: Any) -> np.ndarray:
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            value = value.double() if value.is_floating_point() or value.dtype == torch.bool else value
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        raise ShapeError(f"The {name!r} parameter of {owner} must be a tensor or array. "
                         f"Got {type(value).__name__} instead.") from None


def _per_condition(owner: str, name: str, value: Any, n: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = _array(owner, name, value)
    if arr.shape != (n,):
        raise ShapeError(f"The {name!r} parameter of {owner} must have shape (n_conditions,) = ({n},). "
                         f"Got {arr.shape} instead.")
    return arr


def _fmt(value: Any, names: Mapping | None = None) -> str:
    if names is not None:
        for key in (value, int(value) if isinstance(value, (float, np.floating)) and float(value).is_integer() else None):
            if key is not None and key in names:
                return str(names[key])
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def _check_names(owner: str, name: str, value: Any) -> Mapping | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str):
        return dict(enumerate(value))
    raise ConfigError(f"The {name!r} parameter of {owner} must be a mapping from values to names, a sequence of "
                      f"names (one per integer code 0, 1, ...) or None. Got {type(value).__name__} instead.")


def plot_trajectories(
    projected: torch.Tensor | np.ndarray,
    color_by: torch.Tensor | np.ndarray | None = None,
    *,
    style_by: torch.Tensor | np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    lengths: torch.Tensor | np.ndarray | None = None,
    cmap: str = "coolwarm",
    color_label: str | None = None,
    style_label: str | None = None,
    color_names: Mapping | Sequence[str] | None = None,
    style_names: Mapping | Sequence[str] | None = None,
    axis_labels: Sequence[str] | None = None,
    fixed_points: torch.Tensor | np.ndarray | None = None,
    n_unstable: torch.Tensor | np.ndarray | None = None,
    slow_points: torch.Tensor | np.ndarray | None = None,
    mark_end: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Trajectories of each condition in a 2-D or 3-D projection, with fixed points on top.

    Each condition is one line, coloured by ``color_by`` through ``cmap`` (with a legend for up to
    8 distinct values, a colour bar for more) or by the default colour cycle; ``style_by`` sets the
    line style (e.g. the context). A small dot marks where each trajectory ends. Fixed points are
    drawn filled when stable and open when they have unstable directions, coloured by their number
    of unstable directions (black: stable; red: 1; orange: 2; ...); slow points (small but nonzero
    speed) are small grey crosses, never drawn as fixed points.

    Args:
        projected: coordinates of the trajectories, e.g. ``pca.transform(averages)`` or
            ``axes.transform(averages)[..., :2]``.
        color_by: one value per condition (e.g. ``table["coherence_motion"]``).
        style_by: one value per condition, mapped to solid, dashed, dotted, dash-dotted lines.
        labels: one legend label per condition (used when ``color_by`` is None).
        lengths: number of valid steps of each trajectory (the rest is not drawn).
        cmap: matplotlib colour map name for ``color_by``.
        color_label, style_label: names of the ``color_by`` / ``style_by`` variables for the legend.
        color_names, style_names: the legend's name of each value of ``color_by`` / ``style_by``
            (e.g. ``("motion", "colour")`` for a context coded 0, 1; or a mapping value -> name);
            None: the values themselves.
        axis_labels: names of the 2 or 3 coordinates (default "dim 1", "dim 2", ...).
        fixed_points: fixed points in the same projection, e.g. ``pca.transform(points.states)``.
        n_unstable: number of unstable directions of each fixed point (``points.n_unstable``);
            None draws all points alike.
        slow_points: slow points in the same projection (e.g. of ``points.slow().states``).
        mark_end: mark the last step of each trajectory.
        ax: an Axes to draw into (a 3-D Axes for 3 coordinates); None makes a new Figure.
        title: the Axes title.

    Returns:
        The matplotlib Axes (its figure is ``ax.figure``; no pyplot state is touched).

    Shape:
        - projected: (n_conditions, time, 2 or 3), or (time, 2 or 3) for one trajectory
        - color_by, style_by, lengths: (n_conditions,)
        - fixed_points: (n_points, 2 or 3); n_unstable: (n_points,); slow_points: (n_slow, 2 or 3)
    """
    owner = "plot_trajectories"
    data = _array(owner, "projected", projected).astype(float)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[2] not in (2, 3) or data.shape[1] < 1:
        raise ShapeError(f"The 'projected' parameter of {owner} must have shape (n_conditions, time, 2 or 3). "
                         f"Got {tuple(np.shape(projected))} instead.")
    n, T, d = data.shape
    colors_in = _per_condition(owner, "color_by", color_by, n)
    styles_in = _per_condition(owner, "style_by", style_by, n)
    lens = _per_condition(owner, "lengths", lengths, n)
    lens = np.full(n, T) if lens is None else np.clip(lens.astype(int), 1, T)
    if labels is not None and len(labels) != n:
        raise ShapeError(f"The 'labels' parameter of {owner} must have one label per condition ({n}). "
                         f"Got {len(labels)} instead.")
    if axis_labels is not None and len(axis_labels) != d:
        raise ShapeError(f"The 'axis_labels' parameter of {owner} must have {d} names. Got {len(axis_labels)} instead.")
    color_names = _check_names(owner, "color_names", color_names)
    style_names = _check_names(owner, "style_names", style_names)
    if cmap not in matplotlib.colormaps:
        raise ConfigError(f"The 'cmap' parameter of {owner} must be a matplotlib colour map name. Got {cmap!r} instead.")

    own_figure = ax is None
    if ax is None:
        fig = Figure(figsize=(6.5, 4.8) if d == 3 else (5.5, 4.5), layout="constrained")
        ax = fig.add_subplot(projection="3d" if d == 3 else None)
    elif isinstance(ax, Axes3D) != (d == 3):
        need = "a 3-D Axes (projection='3d')" if d == 3 else "a 2-D Axes"
        raise ConfigError(f"The 'ax' parameter of {owner} must be {need} for {d} coordinates. "
                          f"Got {type(ax).__name__} instead.")

    # colours and styles of the trajectories
    handles: list[Line2D] = []
    if colors_in is not None:
        values = colors_in.astype(float)
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        norm = Normalize(lo - 0.5, hi + 0.5) if lo == hi else Normalize(lo, hi)
        colormap = matplotlib.colormaps[cmap]
        line_colors = [colormap(norm(v)) for v in values]
        distinct = np.unique(colors_in)
        if len(distinct) <= _MAX_LEGEND_VALUES:
            prefix = f"{color_label} = " if color_label else ""
            handles += [Line2D([], [], color=colormap(norm(float(v))), label=prefix + _fmt(v, color_names))
                        for v in distinct]
        else:
            mappable = ScalarMappable(norm=norm, cmap=colormap)
            ax.figure.colorbar(mappable, ax=ax, label=color_label or "", shrink=0.8)
    else:
        line_colors = [f"C{i % 10}" for i in range(n)]
    if styles_in is not None:
        distinct_styles = list(np.unique(styles_in))
        line_styles = [_STYLES[distinct_styles.index(v) % len(_STYLES)] for v in styles_in]
        prefix = f"{style_label} = " if style_label else ""
        handles += [Line2D([], [], color="0.3", ls=_STYLES[i % len(_STYLES)], label=prefix + _fmt(v, style_names))
                    for i, v in enumerate(distinct_styles)]
    else:
        line_styles = ["-"] * n

    for i in range(n):
        xyz = data[i, : lens[i]].T
        label = labels[i] if labels is not None and colors_in is None else None
        ax.plot(*xyz, color=line_colors[i], ls=line_styles[i], lw=1.4, label=label)
    if labels is not None and colors_in is None:
        handles = [*ax.get_legend_handles_labels()[0], *handles]
    if mark_end:
        ends = data[np.arange(n), lens - 1]
        kw = {"depthshade": False} if d == 3 else {}
        ax.scatter(*ends.T, s=14, color=line_colors, zorder=3, **kw)

    # slow points, then fixed points on top
    kw = {"depthshade": False} if d == 3 else {}
    if slow_points is not None:
        sp = _array(owner, "slow_points", slow_points).astype(float)
        if sp.ndim != 2 or sp.shape[1] != d:
            raise ShapeError(f"The 'slow_points' parameter of {owner} must have shape (n_slow, {d}) (the "
                             f"projection of the trajectories). Got {tuple(np.shape(slow_points))} instead.")
        if len(sp):
            handles.append(ax.scatter(*sp.T, s=12, marker="x", color=SLOW_POINT_COLOR, linewidths=0.8, zorder=3,
                                      label=f"slow points ({len(sp)})", **kw))
    if fixed_points is not None:
        fp = _array(owner, "fixed_points", fixed_points).astype(float)
        if fp.ndim == 1 and fp.shape[0] == d:
            fp = fp[None]
        if fp.ndim != 2 or fp.shape[1] != d:
            raise ShapeError(f"The 'fixed_points' parameter of {owner} must have shape (n_points, {d}) (the "
                             f"projection of the trajectories). Got {tuple(np.shape(fixed_points))} instead.")
        if n_unstable is None:
            groups = [(None, np.ones(len(fp), dtype=bool))]
        else:
            k_all = _array(owner, "n_unstable", n_unstable)
            if k_all.shape != (len(fp),):
                raise ShapeError(f"The 'n_unstable' parameter of {owner} must have shape (n_points,) = "
                                 f"({len(fp)},). Got {k_all.shape} instead.")
            k_all = k_all.astype(int)
            groups = [(int(k), k_all == k) for k in np.unique(k_all)]
        for k, sel in groups:
            if k is None:
                style = {"color": "0.2", "label": "fixed points"}
            elif k == 0:
                style = {"color": "black", "label": unstable_label(0)}
            else:
                style = {"facecolors": "none", "edgecolors": unstable_color(k), "linewidths": 1.5,
                         "label": unstable_label(k)}
            handles.append(ax.scatter(*fp[sel].T, s=46, marker="o", zorder=4, **style, **kw))

    names = list(axis_labels) if axis_labels is not None else [f"dim {j + 1}" for j in range(d)]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if d == 3:
        ax.set_zlabel(names[2])
    else:
        ax.spines[["top", "right"]].set_visible(False)
    if handles:
        if d == 3 and own_figure:
            # 3-D axes have no empty corner: the legend goes beside them, in space the layout reserves
            ax.figure.legend(handles=handles, fontsize=7, frameon=False, loc="outside right upper")
        else:
            ax.legend(handles=handles, fontsize=7, frameon=False, loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_variance_explained(
    pca: PCA | torch.Tensor | np.ndarray,
    *,
    cumulative: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Variance explained by each principal component (bars) and cumulatively (line), in percent.

    Args:
        pca: a fitted :class:`~rnnscope.analysis.PCA`, or its ``explained_variance_ratio_``.
        cumulative: also draw the cumulative fraction.
        ax: an Axes to draw into; None makes a new Figure.
        title: the Axes title.

    Returns:
        The matplotlib Axes.

    Shape:
        - pca: a PCA, or ratios of shape (n_components,)
    """
    owner = "plot_variance_explained"
    if isinstance(pca, PCA):
        _check_fitted(pca, "explained_variance_ratio_")
        ratios = pca.explained_variance_ratio_
    else:
        ratios = pca
    r = _array(owner, "pca", ratios).astype(float)
    if r.ndim != 1 or r.shape[0] < 1:
        raise ShapeError(f"The 'pca' parameter of {owner} must be a fitted PCA or a (n_components,) array of "
                         f"ratios. Got shape {r.shape} instead.")
    if ax is None:
        fig = Figure(figsize=(5.0, 3.4), layout="constrained")
        ax = fig.add_subplot()
    k = np.arange(1, len(r) + 1)
    ax.bar(k, 100 * r, color="C0", alpha=0.8, label="per component")
    if cumulative:
        ax.plot(k, 100 * np.cumsum(r), color="C1", marker="o", ms=3, lw=1.5, label="cumulative")
        ax.legend(fontsize=7, frameon=False, loc="center right")
    ax.set_xlabel("principal component")
    ax.set_ylabel("variance explained (%)")
    top = max(1.0, float(np.cumsum(r)[-1])) if cumulative else float(r.max())
    ax.set_ylim(0, 102 * top if top > 0 else 1.0)
    if len(k) <= 20:
        ax.set_xticks(k)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return ax
