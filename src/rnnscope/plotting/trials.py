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

    Unscored steps (mask 0) of the targets are drawn faint. Returns a matplotlib Figure (no pyplot
    state is touched; save it with ``fig.savefig(path)``).

    Shape:
        - outputs: (batch, time, output_size) or None to show the trial structure only
    """
    n = min(n_trials, batch.batch_size)
    fig = Figure(figsize=(10, 2.2 * n + 0.6), layout="constrained")
    axes = fig.subplots(n, 2, squeeze=False, sharex=True)
    t = batch.times.numpy()
    colors = [f"C{i}" for i in range(10)]
    for i in range(n):
        L = int(batch.lengths[i])
        ax_in, ax_out = axes[i]
        for c in range(batch.inputs.shape[2]):
            label = input_names[c] if input_names else f"input {c}"
            ax_in.plot(t[:L], batch.inputs[i, :L, c].numpy(), color=colors[c % 10], lw=1, label=label)
        for c in range(batch.targets.shape[2]):
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
    if batch.targets.shape[2] <= 4:
        axes[0, 1].legend(fontsize=7, loc="upper right", frameon=False)
    if title:
        fig.suptitle(title)
    return fig
