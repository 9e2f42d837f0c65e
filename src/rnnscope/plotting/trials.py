"""Figures of trials: inputs, targets and a network's outputs."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from ..tasks._base import TrialBatch

__all__ = ["plot_trials"]


def plot_trials(
    batch: TrialBatch,
    outputs: torch.Tensor | None = None,
    *,
    n_trials: int = 3,
    input_names: tuple[str, ...] | None = None,
    output_names: tuple[str, ...] | None = None,
    title: str | None = None,
) -> Figure:
    """Inputs (left) and targets with outputs (right) of the first ``n_trials`` trials.

    Unscored steps (mask 0) of the targets are drawn faint. With more than 8 outputs (e.g. place
    cells) targets and outputs are heat maps of channel against time instead of lines. Returns a matplotlib Figure (no pyplot
    state is touched; save it with ``fig.savefig(path)``).

    Shape:
        - outputs: (batch, time, output_size) or None to show the trial structure only
    """
    n = min(n_trials, batch.batch_size)
    n_out = batch.targets.shape[2]
    if n_out > _MAX_OUTPUT_LINES:
        return _plot_many_outputs(batch, outputs, n, input_names, title)
    fig = Figure(figsize=(10, 2.2 * n + 0.6), layout="constrained")
    axes = fig.subplots(n, 2, squeeze=False, sharex=True)
    t = batch.times.numpy()
    colors = [f"C{i}" for i in range(10)]
    for i in range(n):
        L = int(batch.lengths[i])
        ax_in, ax_out = axes[i]
        _plot_inputs(ax_in, batch, i, input_names)
        for c in range(n_out):
            col = colors[c % 10]
            label = output_names[c] if output_names else f"output {c}"
            tgt = batch.targets[i, :L, c].numpy().copy()
            m = batch.mask[i, :L, c].numpy() > 0
            ax_out.plot(t[:L], tgt, color=col, lw=1, alpha=0.25)
            scored = tgt.copy()
            scored[~m] = float("nan")
            ax_out.plot(t[:L], scored, color=col, lw=2, ls="--", label=f"{label} target")
            if outputs is not None:
                ax_out.plot(t[:L], outputs[i, :L, c].detach().cpu().numpy(), color=col, lw=1.5, label=f"{label} output")
        ax_in.set_ylabel(f"trial {i}")
        for ax in (ax_in, ax_out):
            ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_title("inputs")
    axes[0, 1].set_title("targets (dashed, scored) and outputs" if outputs is not None else "targets")
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 1].set_xlabel("time (ms)")
    if batch.inputs.shape[2] <= 6:
        axes[0, 0].legend(fontsize=7, loc="upper right", frameon=False)
    if n_out <= 4:
        axes[0, 1].legend(fontsize=7, loc="upper right", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


#: Up to this many output channels are drawn as lines; more (e.g. 512 place cells) as heat maps.
_MAX_OUTPUT_LINES = 8


def _plot_inputs(ax, batch: TrialBatch, i: int, input_names) -> None:
    L = int(batch.lengths[i])
    t = batch.times.numpy()
    for c in range(batch.inputs.shape[2]):
        label = input_names[c] if input_names else f"input {c}"
        ax.plot(t[:L], batch.inputs[i, :L, c].numpy(), color=f"C{c % 10}", lw=1, label=label)


def _plot_many_outputs(batch: TrialBatch, outputs, n: int, input_names, title) -> Figure:
    """Inputs as lines, targets and outputs as heat maps (output channel against time) on one colour
    scale, unscored steps of the targets hatched out: hundreds of lines would be unreadable."""
    has_out = outputs is not None
    cols = 3 if has_out else 2
    fig = Figure(figsize=(12 if has_out else 9, 2.3 * n + 0.8), layout="constrained")
    axes = fig.subplots(n, cols, squeeze=False)
    t = batch.times.numpy()
    dt = float(t[1] - t[0]) if len(t) > 1 else 1.0
    values = [batch.targets[:n]] + ([outputs[:n].detach().cpu().float()] if has_out else [])
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    mesh = None
    for i in range(n):
        L = int(batch.lengths[i])
        _plot_inputs(axes[i, 0], batch, i, input_names)
        axes[i, 0].set_ylabel(f"trial {i}")
        axes[i, 0].spines[["top", "right"]].set_visible(False)
        extent = (float(t[0]) - dt / 2, float(t[L - 1]) + dt / 2, -0.5, batch.targets.shape[2] - 0.5)
        tgt = batch.targets[i, :L].numpy().T.copy()
        tgt[(batch.mask[i, :L].numpy().T <= 0)] = float("nan")
        images = [tgt] + ([outputs[i, :L].detach().cpu().float().numpy().T] if has_out else [])
        for j, img in enumerate(images):
            ax = axes[i, 1 + j]
            mesh = ax.imshow(img, aspect="auto", origin="lower", extent=extent, cmap="magma", vmin=lo, vmax=hi,
                             interpolation="nearest")
            ax.set_facecolor("0.85")  # unscored target steps (NaN) show as grey
            ax.set_ylabel("output channel")
    axes[0, 0].set_title("inputs")
    axes[0, 1].set_title("targets (scored steps; grey: not scored)")
    if has_out:
        axes[0, 2].set_title("outputs")
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    if batch.inputs.shape[2] <= 6:
        axes[0, 0].legend(fontsize=7, loc="upper right", frameon=False)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes[:, 1:], shrink=0.8, label="value")
    if title:
        fig.suptitle(title)
    return fig
