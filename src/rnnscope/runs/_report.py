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
   where the reduced dynamics is exact), framed on the region the drawn trajectories visit;
6. estimates the largest Lyapunov exponent under the first analysis input;
and writes ``analysis/analysis.json``, the figures and a self-contained ``analysis/report.html``: an
interactive 3-D state space (plotly.js inline when the ``plotly`` package is installed, the static
figures otherwise), the numbers rounded for people and the nested ones as tables.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.colors import Normalize, to_hex
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
from ._html import grid_table, human, image_html, mapping_table, page_html, plotly_script
from ._state_space_view import VIEW_SCRIPT, Trajectories, fixed_point_traces, state_space_view

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
        names = [", ".join(f"{k} = {_fmt(avg.conditions[k][i], task.condition_names.get(k))}" for k in reversed(keys))
                 for i in range(len(shown))]
    else:
        n_shown = min(_SINGLE_TRIALS, n_trials)
        shown, shown_lengths = states[:n_shown], batch.lengths[:n_shown]
        color_by = style_by = None
        names = _trial_names(batch.conditions, n_shown)
    view_trajectories = _view_trajectories(pca, shown, shown_lengths, names, color_by, style_by, task.dt,
                                           model.time)
    view_points: list[dict] = []
    segment = 0.1 * float(np.ptp(view_trajectories.xyz.reshape(-1, 3), axis=0).max() or 1.0)

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
        view_points += fixed_point_traces(name, len(report["conditions"]) - 1, fps, *_view_basis(pca),
                                          segment=segment)
        proj = pca.transform(shown)[..., : min(3, n_pc)]
        slow_pts = fps.slow()
        ax = plot_trajectories(
            proj, color_by, style_by=style_by, lengths=shown_lengths, labels=None if keys else names,
            fixed_points=_pcs(pca, fixed.states, n_pc, states.dtype) if len(fixed) else None,
            n_unstable=fixed.n_unstable if len(fixed) else None,
            slow_points=_pcs(pca, slow_pts.states, n_pc, states.dtype) if len(slow_pts) else None,
            axis_labels=[f"PC{i + 1}" for i in range(proj.shape[-1])],
            color_label="choice" if color_by is not None else None,
            style_label="context" if style_by is not None else None,
            style_names=task.condition_names.get("context"),
            title=f"{task.name}: trajectories and fixed points ({name})",
        )
        save(ax, f"state_space_{slug}.png",
             f"Trajectories in the top principal components with the {len(fixed)} fixed points found under "
             f"'{name}' (filled: stable; open: saddles, coloured by the number of unstable directions)"
             + (f" and {len(slow_pts)} slow points (grey crosses)." if len(slow_pts) else "."))

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
            style_names=task.condition_names.get("context"),
            title=f"{task.name}: regression axes",
        )
        save(ax, "regression_axes.png", "Condition-averaged trajectories on the first two regression axes "
             "(targeted dimensionality reduction, Mante et al. 2013).")

    # flow field in the plane where the fixed points that matter lie, framed on the drawn trajectories
    first_name, u0 = next(iter(task.analysis_inputs().items()))
    fixed0 = fps_by_condition[first_name].fixed()
    visited = _visited_region(pca, shown, shown_lengths, fixed0)
    drawn = fixed0
    if factors is not None and factors.rank == 2 and factors.bulk is None:
        flow = latent_flow_field(model, inputs=u0, resolution=25, states=visited)
        plane = "latent coordinates kappa of the rank-2 network (exact reduced dynamics)"
    else:
        origin, basis, in_plane, plane = _flow_plane(fixed0, pca)
        if in_plane is not None:
            drawn = fixed0[in_plane]
            visited = torch.cat([visited, drawn.states.to(torch.float64)])
        flow = flow_field(model, basis, origin=origin, inputs=u0, states=visited, resolution=25,
                          labels=("PC1", "PC2") if in_plane is None else ("plane axis 1", "plane axis 2"))
    ax = plot_flow_field(
        flow,
        fixed_points=flow.project(drawn.states) if len(drawn) else None,
        n_unstable=drawn.n_unstable if len(drawn) else None,
        trajectories=flow.project(shown[:8]),
        frame="content",
        title=f"{task.name}: flow field ({first_name})",
    )
    save(ax, "flow_field.png", f"Flow field in {plane}, under '{first_name}', framed on the drawn trajectories and "
         "the fixed points among them; log speed as a heat map.")
    x0, x1, y0, y1 = flow.extent
    report["flow_field"] = {"plane": plane, "input_condition": first_name, "extent": [x0, x1, y0, y1],
                            "fixed_points_drawn": len(drawn)}

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
    _write_html(out, report, figures, view_trajectories, view_points, fps_by_condition)
    return report


def _pcs(pca: PCA, x: torch.Tensor, n_pc: int, dtype: torch.dtype) -> torch.Tensor:
    """States (n, hidden_size) in the top 3 principal components: (n, min(3, n_pc))."""
    return pca.transform(x.to(dtype))[..., : min(3, n_pc)]


#: Fixed points within this fraction of their extent of a plane are drawn in it.
_PLANE_TOLERANCE = 0.05
#: The plane is sought through triples of at most this many fixed points (stable ones first).
_PLANE_CANDIDATES = 12


def _flow_plane(fixed, pca: PCA) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, str]:
    """The plane of the flow field: ``(origin, basis (2, N), in_plane, description)``.

    A flow field shows the dynamics within one plane, so the plane should hold the fixed points that
    matter, not merely their projections (the plane of the top two PCs through the mean state of a
    3-bit flip-flop cuts only the central saddle). Of the planes through three fixed points (stable
    ones first), the one that holds the most fixed points (within 5% of their extent), then the most
    kinds of them (by number of unstable directions), then the most stable ones; its axes are the
    principal axes of the fixed points in it. Collinear fixed points (two attractors and the saddle
    between them) span the plane with the top PC of the trajectories; with fewer than two fixed points
    the plane is that of the top two PCs through the mean state (``in_plane`` None)."""
    pcs = pca.components_.to(torch.float64)
    if len(fixed) < 2:
        return (pca.mean_.to(torch.float64), pcs[:2], None,
                "the plane of the top two principal components, through the mean state")
    P = fixed.states.to(torch.float64)
    k = fixed.n_unstable
    scale = float(torch.cdist(P, P).max())
    if scale == 0.0:
        return (pca.mean_.to(torch.float64), pcs[:2], None,
                "the plane of the top two principal components, through the mean state")
    tol = _PLANE_TOLERANCE * scale
    order = torch.argsort(k, stable=True)[:_PLANE_CANDIDATES].tolist()
    best, best_key = None, None
    for a_i, a in enumerate(order):
        for b_i, b in enumerate(order[a_i + 1:], a_i + 1):
            for c in order[b_i + 1:]:
                E = torch.stack([P[b] - P[a], P[c] - P[a]], dim=1)  # (N, 2)
                sv = torch.linalg.svdvals(E)
                if float(sv[1]) < tol:  # (nearly) collinear: no plane
                    continue
                Q, _ = torch.linalg.qr(E)
                D = P - P[a]
                dist = (D - (D @ Q) @ Q.T).norm(dim=1)
                inside = dist < tol
                key = (int(inside.sum()), len(set(k[inside].tolist())), int((k[inside] == 0).sum()))
                if best_key is None or key > best_key:
                    best, best_key = inside, key
    if best is not None:
        X = P[best]
        origin = X.mean(dim=0)
        basis = torch.linalg.svd(X - origin, full_matrices=False).Vh[:2]
        return (origin, basis, best,
                f"the plane through the fixed points (the {int(best.sum())} of {len(fixed)} that lie in it, "
                f"within {_PLANE_TOLERANCE:.0%} of their extent, are drawn)")
    # collinear fixed points: their line, and the top principal component of the trajectories across it
    origin = P.mean(dim=0)
    line = torch.linalg.svd(P - origin, full_matrices=False).Vh[0]
    across = next((v - (v @ line) * line for v in pcs if float((v - (v @ line) * line).norm()) > 1e-6), None)
    if across is None:
        return (pca.mean_.to(torch.float64), pcs[:2], None,
                "the plane of the top two principal components, through the mean state")
    basis = torch.stack([line, across / across.norm()])
    return (origin, basis, torch.ones(len(fixed), dtype=torch.bool),
            "the plane through the line of the fixed points and the top principal component of the trajectories")


#: Single trials drawn for a task without condition variables.
_SINGLE_TRIALS = 8
#: Up to this many distinct values of a trial condition colour the single trials by it.
_MAX_GROUPS = 8


def _fmt(value: Any, names: tuple[str, ...] | None = None) -> str:
    """A condition value for a legend: ``1``, ``0.5``, ``(1, -1, 1)``; ``names[value]`` for a code the
    task names (``task.condition_names``)."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if names is not None and isinstance(value, (int, float)) and float(value).is_integer() \
            and 0 <= int(value) < len(names):
        return names[int(value)]
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _trial_names(conditions: Mapping[str, torch.Tensor], n: int) -> list[str]:
    """A legend name per single trial, by the trial condition (one value or a short row per trial)
    that takes the fewest distinct values, at least two and at most a few (e.g. the final memory of
    the flip-flop rather than its pulse counts); ``trial 1``, ``trial 2``, ... when none does."""
    best: tuple[int, str, list[str]] | None = None
    for key, value in conditions.items():
        v = value[:n]
        if v.ndim == 1 or (v.ndim == 2 and v.shape[1] <= 4):
            texts = [_fmt(row) for row in v]
            distinct = len(set(texts))
            if 1 < distinct <= _MAX_GROUPS and (best is None or distinct < best[0]):
                best = (distinct, key, texts)
    if best is None:
        return [f"trial {i + 1}" for i in range(n)]
    return [f"{best[1]} = {t}" for t in best[2]]


def _view_basis(pca: PCA) -> tuple[torch.Tensor, torch.Tensor]:
    """The three axes of the 3-D view (PC1-3; zeros for missing ones in a network of < 3 units) and its origin."""
    basis = torch.zeros(3, pca.components_.shape[1], dtype=torch.float64)
    k = min(3, pca.components_.shape[0])
    basis[:k] = pca.components_[:k].to(torch.float64)
    return basis, pca.mean_.to(torch.float64)


def _view_trajectories(pca: PCA, shown: torch.Tensor, lengths: torch.Tensor | None, names: list[str],
                       color_by: torch.Tensor | None, style_by: torch.Tensor | None, dt: float,
                       time: str) -> Trajectories:
    """The drawn trajectories in the top 3 PCs, coloured as in the static figures: by ``color_by``
    through the coolwarm map (the choice), else one colour per distinct name."""
    basis, origin = _view_basis(pca)
    xyz = ((shown.to(torch.float64) - origin) @ basis.T).numpy()
    n, T = xyz.shape[:2]
    if color_by is not None:
        values = color_by.to(torch.float64).numpy()
        lo, hi = float(values.min()), float(values.max())
        norm = Normalize(lo - 0.5, hi + 0.5) if lo == hi else Normalize(lo, hi)
        colors = [to_hex(matplotlib.colormaps["coolwarm"](norm(v))) for v in values]
    else:
        distinct = list(dict.fromkeys(names))
        colors = [to_hex(f"C{distinct.index(name) % 10}") for name in names]
    if style_by is not None:
        styles = list(dict.fromkeys(style_by.tolist()))
        dashes = [styles.index(v) for v in style_by.tolist()]
    else:
        dashes = [0] * n
    steps = np.arange(1, T + 1, dtype=float)
    return Trajectories(xyz=xyz, lengths=[T] * n if lengths is None else [int(v) for v in lengths], names=names,
                        colors=colors, dashes=dashes, times=steps * dt if time == "continuous" else steps,
                        time_unit="ms" if time == "continuous" else "step")


def _visited_region(pca: PCA, shown: torch.Tensor, lengths: torch.Tensor | None, fps) -> torch.Tensor:
    """The states the flow field is framed on: where the drawn trajectories spend their time (the
    valid steps between the 2nd and 98th percentiles of each of the top two PCs, so that a brief
    excursion, e.g. during an input pulse, does not set the frame) and the fixed points among them
    (within half that region's extent of it); fixed points far from every trajectory, and the
    excursions, would shrink the region where the dynamics happens to a few pixels."""
    x = shown if lengths is None else torch.cat([shown[i, : int(m)] for i, m in enumerate(lengths)])
    x = x.reshape(-1, shown.shape[-1]).to(torch.float64)
    k = min(2, pca.components_.shape[0])
    xy = pca.transform(x[:, None, :].to(pca.components_.dtype))[:, 0, :k].to(torch.float64)
    lo, hi = torch.quantile(xy, 0.02, dim=0), torch.quantile(xy, 0.98, dim=0)
    x = x[((xy >= lo) & (xy <= hi)).all(dim=1)]
    if len(fps) == 0:
        return x
    p = pca.transform(fps.states[:, None, :].to(pca.components_.dtype))[:, 0, :k].to(torch.float64)
    margin = 0.5 * (hi - lo)
    near = ((p >= lo - margin) & (p <= hi + margin)).all(dim=1)
    return torch.cat([x, fps.states[near].to(torch.float64)])


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


def _write_html(out: Path, report: dict[str, Any], figures: dict[str, str], trajectories: Trajectories,
                point_traces: list[dict], fps_by_condition: dict[str, Any]) -> None:
    figures = dict(figures)

    def figure(name: str) -> str:
        caption = figures.pop(name)
        return image_html((out / name).read_bytes(), name=name, caption=caption)

    plotly = plotly_script()
    rank = report["rank"] if report["rank"] is not None else "full"
    body = [
        f"<h1>Analysis of a network trained on <code>{html.escape(report['task'])}</code></h1>",
        mapping_table({"run": report["run"], "model": report["model"], "units": report["hidden_size"], "rank": rank,
                       "time": report["time"], "training steps": report["step"],
                       "performance without noise": report["performance_without_noise"],
                       "analysis wall time (s)": report["wall_time_s"]}),
        "<h2>State space</h2>",
    ]
    if plotly is not None:
        body += [state_space_view("state-space", trajectories, point_traces, axis_labels=("PC1", "PC2", "PC3"),
                                  title=f"{report['task']}: trajectories and fixed points in the top 3 PCs"),
                 "<p class='muted'>Drag to turn, scroll to zoom, click a legend entry to hide it; hover a fixed "
                 "point for its q, its unstable directions (grey segments, drawn in proportion to the part of "
                 "each that lies in this view) and its leading eigenvalues. The slider and the play button draw "
                 "the trajectories up to a time.</p>"]
        for name in [n for n in figures if n.startswith("state_space_")]:
            figures.pop(name)  # the interactive view replaces the static ones (still in this folder)
    else:
        body.append("<p class='note'>The interactive 3-D view needs the <code>plotly</code> package "
                    "(<code>pip install 'rnnscope[report]'</code>); the static figures follow.</p>")
        body += [figure(n) for n in list(figures) if n.startswith("state_space_")]
    evr = report["pca"]["explained_variance_ratio"]
    body.append(grid_table([[100 * v for v in evr]], columns=[f"PC{i + 1}" for i in range(len(evr))],
                           index=["variance explained (%)"]))
    body.append(f"<p>The top 3 components explain {human(100 * report['pca']['cumulative_top3'], 3)}% of the "
                "variance of the trajectories.</p>")
    body.append(figure("pca_variance.png"))
    if "regression_axes" in report:
        variables = report["regression_axes"]["variables"]
        body += ["<h3>Regression axes</h3>",
                 "<p>Overlaps (cosines) between the regression axes before orthogonalisation:</p>",
                 grid_table(report["regression_axes"]["overlap_before_orthogonalisation"], columns=variables,
                            index=variables)]
        if "regression_axes.png" in figures:
            body.append(figure("regression_axes.png"))

    body.append("<h2>Fixed points</h2>")
    for name, entry in report["conditions"].items():
        fp = entry["fixed_points"]
        rows: dict[str, Any] = {"constant input": entry["inputs"], "fixed points": fp["count"],
                                "by number of unstable directions": fp["by_n_unstable"] or "(none)",
                                "largest q": fp["max_q"], "slow points": fp["n_slow_points"]}
        body += [f"<h3>{html.escape(name)}</h3>", mapping_table(rows)]
        if "line_attractor" in entry:
            la = {k.replace("_", " "): v for k, v in entry["line_attractor"].items()}
            body += ["<p>Line attractor (Mante et al. 2013):</p>", mapping_table(la)]
        body.append(_fixed_point_list(fps_by_condition[name]))

    body += ["<h2>Flow field</h2>", figure("flow_field.png")]
    lyap = report["lyapunov"]
    body += ["<h2>Largest Lyapunov exponent</h2>",
             mapping_table({k.replace("_", " "): v for k, v in lyap.items()})]
    if "automaton" in report:
        body += ["<h2>Automaton</h2>", mapping_table({k.replace("_", " "): v for k, v in report["automaton"].items()})]
        if "automaton.png" in figures:
            body.append(figure("automaton.png"))
    if figures:
        body += ["<h2>Other figures</h2>", *(figure(n) for n in list(figures))]
    head = [plotly, VIEW_SCRIPT] if plotly is not None else []
    atomic_write_text(out / "report.html", page_html(f"rnnscope analysis: {report['task']}", body, head=head))


#: Fixed points listed one per row in the report (all are in the .npz file).
_MAX_LISTED = 40


def _fixed_point_list(fps) -> str:
    """A collapsed table of the fixed points of one condition: stability, q, leading eigenvalue and
    the slowest time constant (continuous time) or the largest modulus (discrete time)."""
    fixed = fps.fixed()
    if len(fixed) == 0:
        return ""
    continuous = fixed.time == "continuous"
    columns = ["stability", "q", "leading eigenvalue", "slowest time constant (ms)" if continuous else "largest |λ|"]
    rows = []
    for i in range(min(len(fixed), _MAX_LISTED)):
        lead = complex(fixed.eigenvalues[i, 0])
        last = -1.0 / lead.real if continuous and lead.real < 0 else (abs(lead) if not continuous else None)
        rows.append([fixed.stability[i], float(fixed.q[i]), lead if lead.imag else lead.real, last])
    more = f" (the first {_MAX_LISTED}; all are in the .npz file)" if len(fixed) > _MAX_LISTED else ""
    return (f"<details><summary>Each fixed point{more}</summary>"
            f"{grid_table(rows, columns=columns, index=[str(i + 1) for i in range(len(rows))])}</details>")
