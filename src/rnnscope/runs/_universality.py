"""``rnnscope reproduce universality``: universality and individuality in trained networks
(Maheswaranathan, Williams, Golub, Ganguli & Sussillo 2019).

Rate networks (tanh, in discrete time: the paper's vanilla RNN), GRUs and LSTMs, several seeds each,
are trained on the 3-bit flip-flop through
the sweep machinery (one sweep folder, ``OUT/sweep``: its runs can be trained anywhere first, e.g.
``rnnscope sweep OUT/sweep --executor slurm``, and this recipe then finds them done). For every network:

- **topology**: its fixed points at zero input (:func:`~rnnscope.analysis.find_fixed_points`), the
  output bits of each stable point (the sign of the readout), and where the unstable manifold of each
  saddle with one unstable direction leads (:func:`~rnnscope.analysis.saddle_connections`). The
  shared topology is 8 stable points, one per bit pattern, joined by saddles exactly along the 12
  edges of the cube (pairs of patterns that differ in one bit).
- **geometry**: its activity (rates; ``h`` for the gated networks) on the same trials as every other
  network (noise off: each trial, one input sequence, is its own condition), compared pairwise by
  SVCCA (the top 10 principal components) and the angular Procrustes distance
  (:func:`~rnnscope.analysis.similarity_matrix`), within and between architectures, and placed in
  two dimensions by multidimensional scaling of the CCA angle and of the Procrustes distance.

This recipe lives in the application layer (it runs a sweep and reads run folders) and registers
itself in the catalogue of :mod:`rnnscope.experiments` when :mod:`rnnscope.runs` is imported (the
command line always imports it).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from .._threads import few_threads
from ..analysis import PCA, find_fixed_points, saddle_connections, similarity_matrix
from ..dynamics import simulate
from ..experiments import Check, Reproduction, register
from ..models import AbstractRNN
from ..training import derive_seed
from ._folders import load_run
from ._sweep import SweepSpec, sweep

__all__ = ["universality", "cube_edges", "classical_mds"]

_PAPER = "Maheswaranathan, Williams, Golub, Ganguli & Sussillo 2019"
ARCHITECTURES = ("rate", "gru", "lstm")
_COLOURS = {"rate": "C0", "gru": "C1", "lstm": "C2"}


def cube_edges(n_bits: int = 3) -> set[tuple[str, str]]:
    """The edges of the n-cube on bit patterns written as ``"+-+"``: pairs that differ in one bit."""
    patterns = ["".join(p) for p in itertools.product("+-", repeat=n_bits)]
    return {tuple(sorted((a, b))) for a, b in itertools.combinations(patterns, 2)
            if sum(x != y for x, y in zip(a, b)) == 1}


def classical_mds(distances: np.ndarray, k: int = 2) -> np.ndarray:
    """Classical (Torgerson) multidimensional scaling: ``k`` coordinates per item whose Euclidean
    distances best match ``distances`` (n, n) in the sense of the double-centred squared distances."""
    n = distances.shape[0]
    centring = np.eye(n) - np.ones((n, n)) / n
    gram = -0.5 * centring @ (distances ** 2) @ centring
    w, v = np.linalg.eigh(gram)
    top = np.argsort(w)[::-1][:k]
    return v[:, top] * np.sqrt(np.clip(w[top], 0.0, None))


def _auc(within: list[float], between: list[float], higher_is_similar: bool) -> float:
    """The probability that a within-architecture pair is more similar than a between pair (ties: 1/2)."""
    w, b = np.asarray(within)[:, None], np.asarray(between)[None, :]
    more = (w > b) if higher_is_similar else (w < b)
    return float(np.mean(more + 0.5 * (w == b)))


# ---------------------------------------------------------------------------------------------- one network
def _topology(model: AbstractRNN, trials: torch.Tensor, n_candidates: int) -> dict[str, Any]:
    """Fixed points at zero input, the bits of the stable ones, and the saddles' graph on those bits."""
    with torch.no_grad():
        traj = simulate(model, trials, noise=False)
    # tol_q far below the default and outliers within 4x the spread of visited states: the gated
    # networks also have "points" where every unit saturates (q ~ 1e-12, all eigenvalues ~ 1), far
    # from any visited state; the true fixed points reach q ~ 1e-30
    points = find_fixed_points(model, initial_states=traj, n_candidates=n_candidates, tol_q=1e-20,
                               outlier_scale=4.0, progress=False)
    work = model.for_analysis()
    with torch.no_grad():
        bits = ["".join("+" if v > 0 else "-" for v in work.readout(x)) for x in points.states]
    links = saddle_connections(model, points, steps=5000)  # slow escapes need thousands of steps
    stable = [i for i in range(len(points)) if not points.is_slow[i] and points.n_unstable[i] == 0]
    edges = sorted({tuple(sorted((bits[a], bits[b]))) for a, b in links.ends.tolist() if min(a, b) >= 0})
    return {"traj": traj, "points": points, "bits": bits, "links": links, "stable": stable,
            "edges": [list(e) for e in edges],
            "by_n_unstable": {str(k): v for k, v in points.by_n_unstable().items()},
            "stable_bits": sorted(bits[i] for i in stable),
            "activity": model.rates(traj.states).detach().numpy()}


def _is_cube(topo: dict[str, Any]) -> bool:
    """8 stable points with distinct bit patterns, and the saddles join exactly the cube's 12 edges."""
    return (len(topo["stable"]) == 8 and len(set(topo["stable_bits"])) == 8
            and {tuple(e) for e in topo["edges"]} == cube_edges(3))


# ---------------------------------------------------------------------------------------------- the recipe
@register("universality", summary="rate, GRU and LSTM networks on the 3-bit flip-flop: one fixed-point topology, "
                                  "geometry by architecture", reference=_PAPER)
def universality(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    n_seeds = 3 if quick else 10
    hidden = 24 if quick else 32
    seeds = list(range(seed, seed + n_seeds))
    settings: dict[str, Any] = {"model.hidden_size": hidden, "training.steps": 4000, "training.criterion": 0.99,
                                "training.eval_every": 25}
    if quick:
        settings["task_params.duration"] = 500.0
    # the rate networks in discrete time, x(t+1) = J tanh(x(t)) + I u(t) + b: the paper's vanilla RNN
    models = [{"kind": "rate", "time": "discrete"}, {"kind": "gru"}, {"kind": "lstm"}]
    spec = SweepSpec.from_dict({"task": "flipflop", "grid": {"model": models}, "seeds": seeds, "set": settings})
    swept = sweep(spec, out / "sweep", workers=min(os.cpu_count() or 1, 4), progress=progress)
    result = Reproduction("universality")
    trained = [row for row in swept.rows if row["status"] == "done"]
    kinds = [row["model"]["kind"] for row in trained]
    names = [f"{kind}/seed{row['seed']}" for kind, row in zip(kinds, trained)]
    result.checks.append(Check("networks trained (of the sweep's runs)", float(len(trained)),
                               float(len(swept.rows)), 0.0, source="the sweep"))
    if not trained:
        return result
    runs = [load_run(out / "sweep" / "runs" / row["run"]) for row in trained]
    task = runs[0].task
    trials = task.sample(32 if quick else 64, seed=derive_seed(seed, "universality-trials")).inputs
    with few_threads(0):  # small networks: one thread (two made the analysis 5x slower on a busy machine)
        topos = [_topology(run.model, trials, 512 if quick else 1024) for run in runs]

    # topology: shared
    stable_counts = {n: len(t["stable"]) for n, t in zip(names, topos)}
    cube = {n: _is_cube(t) for n, t in zip(names, topos)}
    edge_counts = {f"{a} {b}": sum([a, b] in t["edges"] for t in topos) for a, b in sorted(cube_edges(3))}
    result.checks.append(Check("fraction of networks with 8 stable fixed points, one per bit pattern",
                               float(np.mean([len(set(t["stable_bits"])) == 8 == len(t["stable"]) for t in topos])),
                               1.0, 0.0, source=_PAPER))
    result.checks.append(Check("fraction of networks whose one-unstable-direction saddles join exactly the 12 "
                               "cube edges", float(np.mean(list(cube.values()))), 1.0, 0.0, source=_PAPER))

    # geometry: individual, by architecture
    n = len(runs)
    activity = [t["activity"] for t in topos]
    cca = similarity_matrix(activity, metric="cca")  # SVCCA, the top 10 components
    proc = similarity_matrix(activity, metric="shape", alpha=1.0)  # the angular Procrustes distance
    pairs = list(itertools.combinations(range(n), 2))
    same = [kinds[i] == kinds[j] for i, j in pairs]
    split = lambda M: ([M[p] for p, s in zip(pairs, same) if s], [M[p] for p, s in zip(pairs, same) if not s])  # noqa: E731
    cca_w, cca_b = split(cca)
    proc_w, proc_b = split(proc)
    off = ~np.eye(n, dtype=bool)
    nearest_cca = [kinds[int(np.argmax(np.where(off[i], cca[i], -np.inf)))] == kinds[i] for i in range(n)]
    nearest_proc = [kinds[int(np.argmin(np.where(off[i], proc[i], np.inf)))] == kinds[i] for i in range(n)]
    auc_cca = _auc(cca_w, cca_b, True) if cca_w and cca_b else None
    auc_proc = _auc(proc_w, proc_b, False) if proc_w and proc_b else None
    if auc_cca is not None:
        # chance is 1/2; three seeds of smaller networks on shorter trials (quick) separate less
        result.checks.append(Check("SVCCA: P(a within-architecture pair is more similar than a between pair)",
                                   auc_cca, 1.0, 0.3 if quick else 0.2, source=_PAPER))
    cca_angle = np.arccos(np.clip(cca, 0.0, 1.0))  # the CCA angle: a metric for the embedding
    coords = {"cca": classical_mds(cca_angle), "procrustes": classical_mds(proc)}
    result.numbers.update({
        "networks": names,
        "hidden_size": hidden,
        "trial_duration_ms": task.duration,
        "training_performance_by_network": {nm: row["performance"] for nm, row in zip(names, trained)},
        "training_steps_by_network": {nm: row["steps"] for nm, row in zip(names, trained)},
        "stable_points_by_network": stable_counts,
        "fixed_points_by_network": {nm: t["by_n_unstable"] for nm, t in zip(names, topos)},
        "cube_topology_by_network": cube,
        "saddle_edges_by_network": {nm: t["edges"] for nm, t in zip(names, topos)},
        "networks_with_each_cube_edge": edge_counts,
        "cca_within": float(np.mean(cca_w)) if cca_w else None,
        "cca_between": float(np.mean(cca_b)) if cca_b else None,
        "cca_auc_within_over_between": auc_cca,
        "cca_nearest_neighbour_same_architecture": float(np.mean(nearest_cca)),
        "cca_within_by_architecture": {k: float(np.mean([cca[i, j] for i, j in pairs if kinds[i] == kinds[j] == k]))
                                       for k in ARCHITECTURES if kinds.count(k) > 1},
        "procrustes_within": float(np.mean(proc_w)) if proc_w else None,
        "procrustes_between": float(np.mean(proc_b)) if proc_b else None,
        "procrustes_auc_within_over_between": auc_proc,
        "procrustes_nearest_neighbour_same_architecture": float(np.mean(nearest_proc)),
        "cca_matrix": cca.round(4).tolist(),
        "procrustes_matrix": proc.round(4).tolist(),
        "mds_cca": coords["cca"].round(4).tolist(),
        "mds_procrustes": coords["procrustes"].round(4).tolist(),
        "sweep_folder": str(out / "sweep"),
    })
    result.figures.append(_geometry_figure(out / "universality_geometry.png", names, kinds, cca, coords))
    result.figures.append(_topology_figure(out / "universality_topology.png", names, kinds, topos, edge_counts))
    return result


# ---------------------------------------------------------------------------------------------- figures
def _geometry_figure(path: Path, names: list[str], kinds: list[str], cca: np.ndarray,
                     coords: dict[str, np.ndarray]) -> Path:
    fig = Figure(figsize=(15, 4.4), layout="constrained")
    ax_cca, ax_proc, ax_mat = fig.subplots(1, 3)
    for ax, key, title in ((ax_cca, "cca", "MDS of the SVCCA angle"), (ax_proc, "procrustes", "MDS of the Procrustes distance")):
        for k in ARCHITECTURES:
            idx = [i for i, kk in enumerate(kinds) if kk == k]
            ax.scatter(coords[key][idx, 0], coords[key][idx, 1], color=_COLOURS[k], label=k, s=30)
        ax.set_title(title)
        ax.set_xlabel("MDS 1")
        ax.set_ylabel("MDS 2")
        ax.legend(fontsize=8)
    image = ax_mat.imshow(cca, vmin=min(0.4, float(cca.min())), vmax=1.0, cmap="viridis")
    ax_mat.set_xticks(range(len(names)), names, rotation=90, fontsize=5)
    ax_mat.set_yticks(range(len(names)), names, fontsize=5)
    ax_mat.set_title("SVCCA similarity (top 10 components)")
    fig.colorbar(image, ax=ax_mat, shrink=0.8)
    fig.savefig(path, dpi=110)
    return path


def _topology_figure(path: Path, names: list[str], kinds: list[str], topos: list[dict[str, Any]],
                     edge_counts: dict[str, int]) -> Path:
    fig = Figure(figsize=(16, 4.2), layout="constrained")
    axes = fig.subplots(1, 4)
    for ax, k in zip(axes, ARCHITECTURES):
        if k not in kinds:
            ax.set_axis_off()
            continue
        i = kinds.index(k)
        t = topos[i]
        states = t["traj"].states.double()
        pca = PCA(n_components=2).fit(states)
        pcs = pca.transform(states).numpy()
        for trial in pcs[:8]:
            ax.plot(trial[:, 0], trial[:, 1], color="0.85", lw=0.6)
        pts = pca.transform(t["points"].states).numpy()
        for s, (a, b) in zip(t["links"].saddles.tolist(), t["links"].ends.tolist()):
            for e in (a, b):
                if e >= 0:
                    ax.plot([pts[s, 0], pts[e, 0]], [pts[s, 1], pts[e, 1]], color="C3", lw=0.8)
        st = t["stable"]
        ax.scatter(pts[st, 0], pts[st, 1], color="k", s=40, zorder=3, label="stable")
        for j in st:
            ax.annotate(t["bits"][j], pts[j], fontsize=7, xytext=(3, 3), textcoords="offset points")
        sad = t["links"].saddles.tolist()
        ax.scatter(pts[sad, 0], pts[sad, 1], color="C3", marker="x", s=30, zorder=3, label="saddle (1 unstable)")
        ax.set_title(f"{names[i]}: {len(st)} stable, {len(sad)} saddles")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.legend(fontsize=7, loc="lower right")
    ax = axes[3]
    corner = {p: np.array([(p[0] == "+") * 1.0 + 0.45 * (p[2] == "+"), (p[1] == "+") * 1.0 + 0.3 * (p[2] == "+")])
              for p in ("".join(q) for q in itertools.product("+-", repeat=3))}
    total = len(topos)
    for key, count in edge_counts.items():
        a, b = key.split()
        ax.plot(*zip(corner[a], corner[b]), color="C3", lw=0.5 + 4 * count / max(total, 1), alpha=0.8)
        mid = (corner[a] + corner[b]) / 2
        ax.annotate(f"{count}", mid, fontsize=8, ha="center", va="center", color="k",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
    for p, xy in corner.items():
        ax.scatter(*xy, color="k", s=40, zorder=3)
        ax.annotate(p, xy, fontsize=8, xytext=(4, -10), textcoords="offset points")
    ax.set_title(f"saddles per cube edge (of {total} networks)")
    ax.set_axis_off()
    fig.savefig(path, dpi=110)
    return path
