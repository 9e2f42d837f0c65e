"""``rnnscope analyse``: the analyses that fit a trained run, as figures, numbers and one HTML page.

For a run folder, :func:`analyse_run`
1. simulates fresh trials of the run's task without noise;
2. finds fixed and slow points under each of the task's :meth:`~rnnscope.tasks.AbstractTask.analysis_inputs`
   (e.g. one per context of the context-dependent decision task), starting from visited states,
   and checks for an approximate line attractor along them where the task has a choice variable;
3. fits PCA to the trajectories and draws them with the fixed points in the top 3 PCs;
4. fits regression axes (targeted dimensionality reduction, Mante et al. 2013) for the task's
   :attr:`~rnnscope.tasks.AbstractTask.analysis_variables`;
5. draws the flow field in the plane of the top two PCs (the latent plane for a rank-2 network,
   where the reduced dynamics is exact);
6. estimates the largest Lyapunov exponent under the first analysis input;
and writes ``analysis/analysis.json``, the figures and a self-contained ``analysis/report.html``.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from .._validation import check_finite, check_int, check_seed
from ..analysis import (
    PCA,
    RegressionAxes,
    condition_average,
    find_fixed_points,
    find_slow_points,
    flow_field,
    extract_automaton,
    largest_lyapunov_exponent,
    latent_flow_field,
    line_attractor_report,
    linearise,
)
from ..dynamics import simulate
from ..errors import ConvergenceError
from ..plotting import plot_automaton, plot_flow_field, plot_trajectories, plot_variance_explained
from ..tasks import FormalLanguage
from ..training import atomic_write_text, strict_json
from ._guards import check_output_folder
from ._folders import load_run

__all__ = ["analyse_run"]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "condition"


def _num(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def analyse_run(
    run_dir: str | Path,
    *,
    n_trials: int = 256,
    n_candidates: int = 1024,
    lyapunov_steps: int = 2000,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Analyse a trained run; writes ``RUN_DIR/analysis/`` and returns the content of ``analysis.json``.

    Args:
        run_dir: a run folder written by ``rnnscope train``.
        n_trials: fresh trials simulated for the state-space analyses.
        n_candidates: starting states of the fixed-point search per input condition.
        lyapunov_steps: measured steps of the largest Lyapunov exponent.
        seed: seed of the trials and of the candidate draw.
        progress: progress bars; default only when stderr is a terminal.
    """
    own = "analyse_run"
    n_trials = check_int(own, "n_trials", n_trials, low=2)
    n_candidates = check_int(own, "n_candidates", n_candidates, low=1)
    lyapunov_steps = check_int(own, "lyapunov_steps", lyapunov_steps, low=10)
    seed = check_seed(own, "seed", seed)
    run = load_run(run_dir, device="cpu")
    model, task = run.model.eval(), run.task
    check_finite(own, "run_dir", model.state_dict(), "weights")
    factors = model.low_rank_factors()
    out = check_output_folder(Path(run_dir) / "analysis", "analysis")
    out.mkdir(exist_ok=True)
    figures: dict[str, str] = {}
    t_start = time.perf_counter()

    def save(ax, name: str, caption: str) -> None:
        ax.figure.savefig(out / name, dpi=100)
        figures[name] = caption

    batch = task.sample(n_trials, seed=seed)
    with torch.no_grad():
        traj = simulate(model, batch.inputs, noise=False)
    states = traj.states
    scores = task.evaluate(traj.outputs, batch)
    report: dict[str, Any] = {
        "task": task.name,
        "run": str(Path(run_dir)),
        "step": run.step,
        "model": run.config.model.kind,
        "hidden_size": model.hidden_size,
        "rank": None if factors is None else factors.rank,
        "time": model.time,
        "performance_without_noise": _num(scores["performance"]),
        "conditions": {},
    }

    # PCA of the trajectories (valid steps only)
    n_pc = min(10, model.hidden_size)
    pca = PCA(n_components=n_pc).fit(states, lengths=batch.lengths)
    evr = pca.explained_variance_ratio_
    report["pca"] = {
        "explained_variance_ratio": [round(float(v), 5) for v in evr],
        "cumulative_top3": round(float(evr[: min(3, n_pc)].sum()), 5),
    }
    ax = plot_variance_explained(pca)
    save(ax, "pca_variance.png", "Variance of the trajectories explained by each principal component.")

    # the trajectories to draw: condition averages where the task has variables, else single trials
    keys = [k for k in ("context", "choice") if k in task.analysis_variables]
    if keys:
        avg = condition_average(states, batch.conditions, keys, lengths=batch.lengths)
        shown, shown_lengths = avg.averages, None  # averages hold their last value after a trial ends
        color_by = avg.conditions["choice"] if "choice" in avg.conditions else None
        style_by = avg.conditions["context"] if "context" in avg.conditions else None
    else:
        shown, shown_lengths = states[:4], batch.lengths[:4]
        color_by = style_by = None

    # fixed points under each analysis input
    fps_by_condition = {}
    for name, u in task.analysis_inputs().items():
        fps = find_fixed_points(model, u, traj, n_candidates=n_candidates, seed=seed, progress=progress)
        fps_by_condition[name] = fps
        slug = _slug(name)
        fps.save(out / f"fixed_points_{slug}.npz")
        fixed = fps.fixed()
        entry: dict[str, Any] = {
            "inputs": [float(v) for v in u],
            "fixed_points": {
                "count": len(fixed),
                "by_n_unstable": {str(k): int(v) for k, v in sorted(fixed.by_n_unstable().items())},
                "max_q": _num(float(fixed.q.max())) if len(fixed) else None,
                "n_slow_points": len(fps.slow()),
            },
        }
        mask = task.analysis_mask(batch, name) if "choice" in task.analysis_variables else None
        slow = None
        if mask is not None and bool(mask.any()):
            # the slow points visited under this input (Mante et al.): where a line attractor shows
            slow = find_slow_points(model, u, states[mask], n_candidates=n_candidates, seed=seed, progress=progress)
            slow.save(out / f"slow_points_{slug}.npz")
        la_points = slow if slow is not None else fps
        if "choice" in task.analysis_variables and len(la_points) >= 2:
            la = line_attractor_report(la_points)
            lin = linearise(model, la_points.states, u.expand(len(la_points), -1).to(la_points.states.dtype))
            overlaps = lin.input_overlaps()
            entry["line_attractor"] = {
                "searched": "slow points" if slow is not None else "fixed points",
                "points": len(la),
                "fraction_passing": round(float(la.ok.float().mean()), 4),
                "variance_along_line": _num(la.variance_explained),
                "median_slowest_time_constant_ms": _num(float(lin.time_constants[:, 0].real.median())),
                "median_next_time_constant_ms": _num(float(lin.time_constants[:, 1].real.median())),
                "median_selection_vector_overlap": {
                    task.input_names[k]: _num(float(overlaps[:, k].nanmedian())) for k in range(task.input_size)
                },
            }
        report["conditions"][name] = entry
        proj = pca.transform(shown)[..., : min(3, n_pc)]
        fp_proj = pca.transform(fps.states.to(states.dtype))[..., : min(3, n_pc)] if len(fps) else None
        ax = plot_trajectories(
            proj, color_by, style_by=style_by, lengths=shown_lengths,
            fixed_points=fp_proj, n_unstable=fps.n_unstable if len(fps) else None,
            axis_labels=[f"PC{i + 1}" for i in range(proj.shape[-1])],
            color_label="choice" if color_by is not None else None,
            style_label="context" if style_by is not None else None,
            title=f"{task.name}: trajectories and fixed points ({name})",
        )
        save(ax, f"state_space_{slug}.png",
             f"Trajectories in the top principal components with the fixed points found under '{name}' "
             "(filled: stable; open: saddles, coloured by the number of unstable directions).")

    # regression axes (targeted dimensionality reduction)
    if task.analysis_variables:
        tdr = RegressionAxes(task.analysis_variables, n_pcs=max(len(task.analysis_variables), min(12, model.hidden_size)))
        tdr.fit(states, batch.conditions, task.dt, lengths=batch.lengths)
        report["regression_axes"] = {
            "variables": list(tdr.variables_),
            "overlap_before_orthogonalisation": [
                [round(float(v), 4) for v in row]
                for row in (torch.nn.functional.normalize(tdr.raw_axes_, dim=1) @ torch.nn.functional.normalize(tdr.raw_axes_, dim=1).T)
            ],
        }
        proj = tdr.transform(shown)[..., :2]
        ax = plot_trajectories(
            proj, color_by, style_by=style_by, lengths=shown_lengths,
            axis_labels=[f"{v} axis" for v in tdr.variables_[:2]],
            color_label="choice" if color_by is not None else None,
            style_label="context" if style_by is not None else None,
            title=f"{task.name}: regression axes",
        )
        save(ax, "regression_axes.png", "Condition-averaged trajectories on the first two regression axes "
             "(targeted dimensionality reduction, Mante et al. 2013).")

    # flow field in the most informative plane
    first_name, u0 = next(iter(task.analysis_inputs().items()))
    fps0 = fps_by_condition[first_name]
    if factors is not None and factors.rank == 2 and factors.bulk is None:
        flow = latent_flow_field(model, inputs=u0, resolution=25, states=states)
        plane = "latent coordinates kappa of the rank-2 network (exact reduced dynamics)"
    else:
        basis = pca.components_[:2].to(torch.float64)
        flow = flow_field(model, basis, origin=pca.mean_.to(torch.float64), inputs=u0, states=states,
                          resolution=25, labels=("PC1", "PC2"))
        plane = "the plane of the top two principal components, through the mean state"
    ax = plot_flow_field(
        flow,
        fixed_points=flow.project(fps0.states) if len(fps0) else None,
        n_unstable=fps0.n_unstable if len(fps0) else None,
        trajectories=flow.project(shown[:8]),
        title=f"{task.name}: flow field ({first_name})",
    )
    save(ax, "flow_field.png", f"Flow field in {plane}, under '{first_name}'; log speed as a heat map.")
    report["flow_field"] = {"plane": plane, "input_condition": first_name}

    # the largest Lyapunov exponent
    le = largest_lyapunov_exponent(model, u0[None], n_steps=lyapunov_steps, transient_steps=lyapunov_steps // 2,
                                   progress=progress)
    lyap = {"input_condition": first_name, "largest": _num(le.largest), "standard_error": _num(float(le.convergence[0])),
            "units": "1/ms" if model.time == "continuous" else "1/step"}
    if model.time == "continuous" and model.time_constant is not None:
        lyap["largest_per_tau"] = _num(le.largest * model.time_constant)
    report["lyapunov"] = lyap
    if isinstance(task, FormalLanguage):
        report["automaton"] = _automaton_section(model, task, out, save)
    report["wall_time_s"] = round(time.perf_counter() - t_start, 2)

    atomic_write_text(out / "analysis.json", strict_json(report, indent=2))
    _write_html(out, report, figures)
    return report


def _automaton_section(model, task: FormalLanguage, out: Path, save) -> dict[str, Any]:
    """The automaton the network implements (the observation table with the network as oracle; state
    quantisation where the table does not close), drawn next to the network's states after each prefix."""
    try:
        dfa = extract_automaton(model, task)
    except ConvergenceError:
        dfa = extract_automaton(model, task, method="quantise")
    dfa.save(out / "automaton.npz")
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    pcs = PCA(n_components=2).fit(dfa.state_points[:, None, :]).transform(dfa.state_points[:, None, :])[:, 0]
    ax1.scatter(pcs[:, 0], pcs[:, 1], c=dfa.state_labels.numpy(), cmap="tab10", s=8, vmin=0, vmax=9)
    ax1.set(xlabel="PC1", ylabel="PC2", title="states after each prefix, by automaton state")
    plot_automaton(dfa, ax2)
    save(ax1, "automaton.png", "The automaton extracted from the network (right) and the network's states after "
         "every prefix in the top two principal components, coloured by the automaton state it reaches (left).")
    return {"n_states": dfa.n_states, "agreement": _num(dfa.agreement), "minimal_states": task.minimal_states,
            "method": dfa.details["method"], "equivalent_to_language": dfa.details["equivalent_to_language"],
            "network_accuracy_all_strings": _num(dfa.details["network_accuracy"]), "max_length": dfa.agreement_length}


def _write_html(out: Path, report: dict[str, Any], figures: dict[str, str]) -> None:
    def table(rows: list[tuple[str, Any]]) -> str:
        cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
                        for k, v in rows)
        return f"<table>{cells}</table>"

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>rnnscope analysis: {html.escape(report['task'])}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left;font-size:90%}th{background:#f4f4f4}img{max-width:100%;border:1px solid #eee}"
        "figure{margin:1em 0 2em}figcaption{font-size:90%;color:#555}</style></head><body>",
        f"<h1>Analysis of a network trained on <code>{html.escape(report['task'])}</code></h1>",
        table([("run", report["run"]), ("training steps", report["step"]), ("units", report["hidden_size"]),
               ("rank", report["rank"] if report["rank"] is not None else "full"), ("time", report["time"]),
               ("performance (no noise)", report["performance_without_noise"]),
               ("analysis wall time (s)", report["wall_time_s"])]),
        "<h2>Fixed points</h2>",
    ]
    for name, entry in report["conditions"].items():
        fp = entry["fixed_points"]
        rows = [("input", entry["inputs"]), ("fixed points", fp["count"]),
                ("by number of unstable directions", fp["by_n_unstable"]), ("max q", fp["max_q"]),
                ("slow points", fp["n_slow_points"])]
        if "line_attractor" in entry:
            rows += [(f"line attractor: {k}", v) for k, v in entry["line_attractor"].items()]
        parts += [f"<h3>{html.escape(name)}</h3>", table(rows)]
    parts += ["<h2>State space</h2>", table([("PCA variance explained (top 10)", report["pca"]["explained_variance_ratio"]),
                                            ("cumulative, top 3", report["pca"]["cumulative_top3"])])]
    if "regression_axes" in report:
        parts.append(table([("regression variables", report["regression_axes"]["variables"]),
                            ("overlaps before orthogonalisation", report["regression_axes"]["overlap_before_orthogonalisation"])]))
    lyap = report["lyapunov"]
    parts += ["<h2>Largest Lyapunov exponent</h2>", table(list(lyap.items()))]
    if "automaton" in report:
        parts += ["<h2>Automaton</h2>", table(list(report["automaton"].items()))]
    parts.append("<h2>Figures</h2>")
    for name, caption in figures.items():
        data = base64.b64encode((out / name).read_bytes()).decode()
        parts.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    atomic_write_text(out / "report.html", "\n".join(parts))
