"""Context-dependent integration on a trained network (Mante, Sussillo, Shenoy & Newsome 2013, Fig. 5).

Train (about 2-4 minutes on 2 CPU cores), then analyse::

    rnnscope train context_decision --hidden-size 100 --noise-std 0.1 --steps 4000 --lr 3e-3 --seed 1 \\
        --set training.stop_at_criterion=false --set training.rate_l2=1e-4 \\
        --set "task_params.coherences=[1.6,3.2,6.4,12.8,25.6]" --set "task_params.stimulus=[200,1500]" \\
        --out runs/mante
    python examples/mante_line_attractor.py runs/mante [--out DIR]

For each context (the context cue on, zero-coherence stimulus) it finds the slow points visited on
that context's trials (q minimisation stopped once the speed is below a tenth of the median speed
on those trials, no Newton polishing: the slow points of Mante et al.), linearises the network there, and prints the numbers of the docs: how the slow points line up
along the choice axis, the time constant of their slowest mode against the next one, and the overlap
of the selection vector (the left eigenvector of the slowest mode) with the motion and colour input
weights. Then a causal test: a kick along the slow points' line during the stimulus moves choices;
one of the same length orthogonal to it barely does. Figures: ``mante_state_space.png`` (Fig. 5
layout: rows contexts, columns the choice-motion and choice-colour planes), ``mante_selection.png``,
and the numbers in ``mante_analysis.json``, all in DIR (default: ``./rnnscope-examples/mante_line_attractor/``;
the docs' figures are made with ``--out docs/figures/analysis``).
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from rnnscope import simulate  # noqa: E402
from rnnscope.analysis import (  # noqa: E402
    RegressionAxes, condition_average, find_slow_points, linearise, perturbation_effect, pulse,
)
from rnnscope.runs import load_run  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/mante"),
                    help="the trained run folder (default: runs/mante)")
parser.add_argument("--out", type=Path, default=Path("rnnscope-examples/mante_line_attractor"),
                    help="folder for the figures and numbers (default: ./rnnscope-examples/mante_line_attractor)")
args = parser.parse_args()
run_dir, out = args.run_dir, args.out
out.mkdir(parents=True, exist_ok=True)
run = load_run(run_dir)
model, task = run.model, run.task
names = list(task.input_names)
batch = task.sample(1024, seed=0)
torch.set_grad_enabled(False)  # analysis only
traj = simulate(model, batch.inputs, noise=False)

# regression axes in state space (zscore=False: directions of x, so states project directly)
ra = RegressionAxes(["choice", "coherence_motion", "coherence_colour", "context"], n_pcs=12,
                    smoothing_ms=40.0, zscore=False).fit(traj.states, batch.conditions, task.dt, batch.lengths)
axes = ra.axes_.to(torch.float64)  # (4, N): choice, motion, colour, context
W_in = model.drive(torch.eye(model.input_size)) - model.drive(torch.zeros(model.input_size))  # (inputs, N)

report: dict = {"run": str(run_dir), "accuracy": task.evaluate(traj.outputs, batch)["performance"], "contexts": {}}
fig, grid = plt.subplots(2, 2, figsize=(9.5, 8.5))
coh_colors = plt.get_cmap("coolwarm")
for row, (ctx, u) in enumerate(task.analysis_inputs().items()):
    k = 0 if "motion" in ctx else 1
    trials = batch.conditions["context"] == k
    states = traj.states[trials]
    # slow points among the states visited during this context's stimulus periods
    visited = traj.states[task.analysis_mask(batch, ctx)]
    fps = find_slow_points(model, u, visited, speed_fraction=0.1, n_candidates=1024, seed=0)
    lin = linearise(model, fps.states, u.to(torch.float64).expand(len(fps), -1))
    rates = lin.eigenvalues.real
    tc_slow, tc_next = -1 / rates[:, 0], -1 / rates[:, 1]
    # the line: first principal axis of the slow points; and each point's slow right eigenvector
    centred = fps.states - fps.states.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    line = vh[0]
    slow_right = lin.right_eigenvectors[:, :, 0].real
    slow_right = slow_right / slow_right.norm(dim=1, keepdim=True)
    overlaps = lin.input_overlaps()
    rel, irr = ("motion", "colour") if k == 0 else ("colour", "motion")
    entry = {
        "points": len(fps),
        "by_n_unstable": {str(a): b for a, b in sorted(fps.by_n_unstable().items())},
        "max_q": float(fps.q.max()),
        "variance_along_line": float(s[0] ** 2 / (s**2).sum()),
        "line_extent_on_choice_axis": float((fps.states @ axes[0]).max() - (fps.states @ axes[0]).min()),
        "trajectory_extent_on_choice_axis": float((visited.to(torch.float64) @ axes[0]).max()
                                                   - (visited.to(torch.float64) @ axes[0]).min()),
        "cos_line_choice_axis": float((line @ axes[0]).abs()),
        "median_cos_slow_mode_line": float((slow_right @ line).abs().median()),
        "median_slowest_time_constant_ms": float(tc_slow.median()),
        "median_next_time_constant_ms": float(tc_next.median()),
        "fraction_slow_mode_3x_slower": float((tc_next * 3 <= tc_slow).double().mean()),
        "median_selection_overlap": {n: float(overlaps[:, i].median()) for i, n in enumerate(names)},
        "relevant_input": rel,
    }
    # causal test: kick along the line (towards choice +1) for the middle 200 ms of the stimulus
    # (a kick a quarter as long as the trajectories' extent on the choice axis, over 10 steps of 20 ms)
    sign = float(torch.sign(line @ axes[0]))
    amp = 0.25 * entry["trajectory_extent_on_choice_axis"] / 10
    ctx_batch = task.sample(1024, seed=1)
    in_ctx = ctx_batch.conditions["context"] == k
    ortho = torch.randn(line.shape[0], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ortho = ortho - (ortho @ line) * line - (ortho @ axes[0]) * axes[0]
    effects = {}
    for label, direction in (("along the line", sign * line), ("orthogonal", ortho)):
        p = pulse(direction, amp, start=300, duration=200, unit="ms", period="stimulus")
        res = perturbation_effect(model, task, p, batch=ctx_batch)
        chose = (res.perturbed.outputs[in_ctx, -1, 0] > 0)
        base = (res.baseline.outputs[in_ctx, -1, 0] > 0)
        effects[label] = {"fraction_choice_plus_before": float(base.float().mean()),
                          "fraction_choice_plus_after": float(chose.float().mean()),
                          "performance_change": res.performance_change}
    entry["kick"] = {"amplitude_per_step": amp, "steps": 10, "start_in_stimulus_ms": 300, **effects}
    report["contexts"][ctx] = entry

    # Fig. 5 layout: this context's trials averaged by (choice, coherence of the plotted input)
    for col, (var, ax_idx) in enumerate((("coherence_motion", 1), ("coherence_colour", 2))):
        ax = grid[row, col]
        cond = {key: val[trials] for key, val in batch.conditions.items()}
        avg = condition_average(states, cond, ["choice", var], lengths=batch.lengths[trials])
        P = avg.averages.to(torch.float64) @ axes[[0, ax_idx]].T
        cohs = avg.conditions[var]
        cmax = float(cohs.abs().max())
        for i in range(P.shape[0]):
            ax.plot(P[i, :, 0], P[i, :, 1], color=coh_colors(0.5 + 0.5 * float(cohs[i]) / cmax),
                    lw=1.2, ls="-" if float(avg.conditions["choice"][i]) > 0 else "--")
        F = fps.states @ axes[[0, ax_idx]].T
        D = slow_right @ axes[[0, ax_idx]].T
        scale = 0.08 * float(P[..., 0].max() - P[..., 0].min())
        for f, d in zip(F, D):
            ax.plot([f[0] - scale * d[0], f[0] + scale * d[0]], [f[1] - scale * d[1], f[1] + scale * d[1]], color="r", lw=1.5)
        ax.plot(F[:, 0], F[:, 1], "ko", ms=3)
        ax.set_xlabel("choice axis")
        ax.set_ylabel(f"{var.split('_')[1]} axis")
        ax.set_title(f"{ctx}: trajectories by choice and {var.split('_')[1]} coherence", fontsize=9)
fig.suptitle("Slow points (black) and their slow modes (red) on the choice axis; colour: coherence, "
             "solid/dashed: choice +1/-1", fontsize=9)
fig.tight_layout()
fig.savefig(out / "mante_state_space.png", dpi=100)
plt.close(fig)

fig, ax = plt.subplots(figsize=(5.5, 3.2))
ctxs = list(report["contexts"])
x = np.arange(len(ctxs))
for j, inp in enumerate(("motion", "colour")):
    ax.bar(x + (j - 0.5) * 0.35, [report["contexts"][c]["median_selection_overlap"][inp] for c in ctxs], 0.35, label=f"{inp} input")
ax.set_xticks(x, ctxs)
ax.set_ylabel("|selection vector . input| (cosine)")
ax.set_title("Selection vector of the slow mode picks the relevant input", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out / "mante_selection.png", dpi=100)
plt.close(fig)
(out / "mante_analysis.json").write_text(json.dumps(report, indent=2))
print(json.dumps(report, indent=2))
