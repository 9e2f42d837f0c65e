"""Attractors, bifurcation diagrams and automata: data in, matplotlib Axes out."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from ..analysis.attractors import KINDS, Attractor, AttractorScan
from ..analysis.automata import Automaton

__all__ = ["plot_attractor", "plot_attractor_scan", "plot_automaton"]

_KIND_COLORS = dict(zip(KINDS, ("C0", "C2", "C4", "C3", "0.5")))


def _axes(ax: Axes | None, size=(4.2, 4.0)) -> Axes:
    return Figure(figsize=size, layout="constrained").subplots() if ax is None else ax


def plot_attractor(attractor: Attractor, ax: Axes | None = None, *, dims: tuple[int, int] = (0, 1),
                   title: str | None = None) -> Axes:
    """The sampled trajectory on the attractor in two state coordinates, with the fixed point or
    the periodic orbit found; the title gives the kind and the largest exponent."""
    ax = _axes(ax)
    i, j = dims
    t = attractor.trajectory.numpy()
    color = _KIND_COLORS[attractor.kind]
    ax.plot(t[:, i], t[:, j], lw=0.8, color=color, alpha=0.8, label="trajectory")
    if attractor.orbit is not None:
        o = attractor.orbit.states.numpy()
        ax.plot(np.r_[o[:, i], o[:1, i]], np.r_[o[:, j], o[:1, j]], color="k", lw=1.5, ls="--",
                label=f"orbit, T = {attractor.orbit.period:.4g} ms")
    if attractor.point is not None:
        p = attractor.point.numpy()
        ax.plot(p[i], p[j], "o", color="k", ms=7, label="stable fixed point")
    le = attractor.largest_exponent
    tail = "" if math.isnan(le) else f", $\\lambda_1$ = {le:.3g}"
    ax.set_title(title or f"{attractor.kind}{tail}", fontsize=10)
    ax.set_xlabel(f"$x_{i + 1}$")
    ax.set_ylabel(f"$x_{j + 1}$")
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_attractor_scan(scan: AttractorScan, ax: Axes | None = None, *, quantity: str = "amplitude") -> Axes:
    """A bifurcation diagram: ``quantity`` (``"amplitude"``, ``"period"`` or ``"largest_exponent"``)
    against the parameter, each point coloured by the kind of attractor."""
    ax = _axes(ax, (5.0, 3.4))
    x = scan.values.numpy()
    y = getattr(scan, quantity).numpy()
    ax.plot(x, y, color="0.7", lw=1, zorder=1)
    for kind in KINDS:
        sel = np.array([k == kind for k in scan.kinds])
        if sel.any():
            ax.scatter(x[sel], y[sel], s=22, color=_KIND_COLORS[kind], label=kind, zorder=2)
    ax.set_xlabel(scan.parameter)
    ax.set_ylabel(quantity.replace("_", " "))
    ax.legend(fontsize=7)
    return ax


def plot_automaton(automaton: Automaton, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """The automaton as a graph: states on a circle (accepting: double ring; the start marked by an
    arrow), one labelled arrow per transition (a loop for a self-transition)."""
    ax = _axes(ax)
    n = automaton.n_states
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    pos = np.stack([np.cos(angle), np.sin(angle)], axis=1) * (0 if n == 1 else 1.0)
    r = 0.16
    T = automaton.transitions.tolist()
    for q in range(n):
        targets: dict[int, list[str]] = {}
        for a, p in enumerate(T[q]):
            targets.setdefault(p, []).append(automaton.alphabet[a])
        for p, symbols in targets.items():
            label = ",".join(symbols)
            if p == q:
                c = pos[q] * 1.35 if n > 1 else np.array([0.0, 0.3])
                ax.add_patch(FancyArrowPatch(pos[q] + [-0.08, 0.1], pos[q] + [0.08, 0.1], connectionstyle="arc3,rad=-2.5",
                                             arrowstyle="-|>", mutation_scale=10, color="0.3"))
                ax.text(*(c if n > 1 else pos[q] + [0, 0.42]), label, ha="center", va="center", fontsize=8)
                continue
            ax.add_patch(FancyArrowPatch(pos[q], pos[p], connectionstyle="arc3,rad=0.2", arrowstyle="-|>",
                                         mutation_scale=12, shrinkA=14, shrinkB=14, color="0.3"))
            mid = 0.5 * (pos[q] + pos[p])
            normal = np.array([pos[p][1] - pos[q][1], pos[q][0] - pos[p][0]])
            ax.text(*(mid + 0.12 * normal), label, ha="center", va="center", fontsize=8)
    for q in range(n):
        ax.add_patch(_circle(pos[q], r, "C2" if bool(automaton.accepting[q]) else "white"))
        if bool(automaton.accepting[q]):
            ax.add_patch(_circle(pos[q], r * 0.8, "none"))
        ax.text(*pos[q], str(q), ha="center", va="center", fontsize=9)
    start = pos[automaton.initial]
    ax.annotate("", xy=start + [-r, 0], xytext=start + [-r - 0.3, 0], arrowprops=dict(arrowstyle="-|>"))
    ax.set_xlim(-1.7, 1.7)
    ax.set_ylim(-1.6, 1.7)
    ax.set_aspect("equal")
    ax.axis("off")
    agree = "" if math.isnan(automaton.agreement) else f", agreement {automaton.agreement:.3f}"
    ax.set_title(title or f"{n} states{agree}", fontsize=10)
    return ax


def _circle(centre, radius: float, face: str):
    from matplotlib.patches import Circle

    return Circle(tuple(centre), radius, facecolor=face, edgecolor="k", lw=1.2, zorder=3)
