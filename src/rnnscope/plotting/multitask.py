"""Task variance, clusters and lesions of a network trained on many tasks (Yang et al. 2019):
data in, matplotlib Axes out."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.task_variance import LesionEffect, TaskVariance, UnitClusters

__all__ = ["plot_task_variance", "plot_fractional_variance", "plot_lesion_effect", "plot_training_curves"]


def _axes(ax: Axes | None, size=(6.0, 4.0)) -> Axes:
    return Figure(figsize=size, layout="constrained").subplots() if ax is None else ax


def plot_task_variance(variance: TaskVariance, clusters: UnitClusters | None = None, ax: Axes | None = None) -> Axes:
    """The normalised task variance of the active units (tasks x units), units sorted by cluster, with
    a line between clusters."""
    ax = _axes(ax, (8.0, 4.5))
    profiles = variance.normalised.numpy()
    order = clusters.order if clusters is not None else np.arange(profiles.shape[0])
    image = ax.imshow(profiles[order].T, aspect="auto", cmap="hot", vmin=0, vmax=1, interpolation="nearest")
    if clusters is not None:
        for edge in np.flatnonzero(np.diff(clusters.labels[order])) + 0.5:
            ax.axvline(edge, color="w", lw=0.8)
    ax.set_yticks(range(len(variance.tasks)), variance.tasks, fontsize=7)
    ax.set_xlabel("active units" + (f", {clusters.n_clusters} clusters" if clusters is not None else ""))
    ax.figure.colorbar(image, ax=ax, label="normalised task variance")
    return ax


def plot_fractional_variance(variance: TaskVariance, task_a: str, task_b: str, ax: Axes | None = None) -> Axes:
    """Histogram of the fractional task variance ``(v_A - v_B) / (v_A + v_B)`` of the active units."""
    ax = _axes(ax, (3.2, 2.6))
    f = variance.fractional(task_a, task_b).numpy()
    ax.hist(f[np.isfinite(f)], bins=np.linspace(-1, 1, 21), color="0.3")
    ax.set_xlim(-1, 1)
    ax.set_xlabel(f"FTV({task_a}, {task_b})", fontsize=8)
    ax.set_ylabel("units")
    return ax


def plot_lesion_effect(effects: dict[str, LesionEffect], ax: Axes | None = None) -> Axes:
    """The change in performance on each task when each group of units is silenced (groups x tasks)."""
    ax = _axes(ax, (8.0, 0.5 + 0.35 * max(1, len(effects))))
    names = list(effects)
    if not names:
        ax.axis("off")
        return ax
    change = np.stack([effects[n].change for n in names])
    image = ax.imshow(change, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
    tasks = effects[names[0]].tasks
    ax.set_xticks(range(len(tasks)), tasks, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.figure.colorbar(image, ax=ax, label="change in performance")
    return ax


def plot_training_curves(history: list[dict], ax: Axes | None = None, criterion: float = 0.9) -> Axes:
    """Performance on each task against training time, from a list of records with ``seconds`` and
    ``by_task`` (task -> performance), as ``rnnscope reproduce multitask`` logs them: one thin line
    per task (coloured by family, in the order given), the worst task in black, the criterion dashed."""
    ax = _axes(ax, (8.0, 3.8))
    if not history:
        ax.axis("off")
        return ax
    minutes = np.array([r["seconds"] for r in history]) / 60
    tasks = list(history[-1]["by_task"])
    colours = {"go": "tab:blue", "anti": "tab:orange", "dm": "tab:green", "delaydm": "tab:red",
               "dms": "tab:purple", "dmc": "tab:brown"}

    def family(task: str) -> str:
        for key in ("delaydm", "dms", "dmc", "dm", "anti"):
            if key in task:
                return key
        return "go"

    shown = set()
    for task in tasks:
        f = family(task)
        ax.plot(minutes, [r["by_task"][task] for r in history], color=colours[f], lw=0.8, alpha=0.7,
                label=None if f in shown else f)
        shown.add(f)
    ax.plot(minutes, [r["min"] for r in history], color="k", lw=1.8, label="worst task")
    ax.axhline(criterion, color="k", ls="--", lw=0.8)
    ax.set_xlabel("training time (min)")
    ax.set_ylabel("performance")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=4, loc="lower right")
    return ax
