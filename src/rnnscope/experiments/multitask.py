"""One network, twenty tasks (Yang, Joglekar, Song, Newsome & Wang 2019, Nature Neuroscience): train a
softplus network on the 20 tasks at once, score each task, then read how it shares its units among
them (task variance, clusters, fractional task variance, lesions) and whether rule inputs compose
(Dly Anti performed with Anti + (Dly Go - Go) in place of its own rule input).

The full version trains 256 units (the paper's size, noise and initialisation: recurrent noise 0.05,
input noise 0.01, both with the paper's scaling, recurrent weights 0.5 I, Adam at 1e-3, batches of 64)
until every task scores >= 0.9 or an hour has passed. The quick version trains a small network for a
few hundred steps and checks the pipeline end to end.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ..analysis.rule_algebra import rule_combination_effect
from ..analysis.task_variance import cluster_units, lesion_effect, task_variance
from ..dynamics import simulate
from ..models import RateRNN
from ..plotting.multitask import plot_fractional_variance, plot_lesion_effect, plot_task_variance
from ..tasks import make
from ..tasks.multitask import RULES
from ..training import Trainer, TrainingConfig
from ._registry import Check, Reproduction, register

#: Dly Anti from Anti + (Dly Go - Go) (the paper's Fig. 6).
RULE_ALGEBRA = {"rule_fdanti": 1.0, "rule_delaygo": 1.0, "rule_fdgo": -1.0}
#: Pairs of tasks whose fractional task variance the paper shows (Fig. 3).
PAIRS = (("contextdm1", "contextdm2"), ("contextdm1", "fdgo"), ("dm1", "fdanti"), ("dmsgo", "dmcgo"),
         ("fdgo", "fdanti"))


def performance_by_task(model: RateRNN, n_trials: int, seed: int) -> dict[str, float]:
    """The paper's performance on each of the 20 tasks, with the network's noise."""
    scores = {}
    with torch.no_grad():
        for k, rule in enumerate(RULES):
            task = make(rule)
            batch = task.sample(n_trials, seed=seed + k)
            out = simulate(model, batch.inputs, noise=True, generator=torch.Generator().manual_seed(seed + k)).outputs
            scores[rule] = task.evaluate(out, batch)["performance"]
    return scores


@register("multitask", summary="one network trained on Yang et al.'s 20 tasks: task variance, clusters, "
          "lesions, rule algebra", reference="Yang, Joglekar, Song, Newsome & Wang 2019")
def multitask(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    return run_multitask(out, quick=quick, seed=seed, progress=progress, budget_s=600.0 if quick else 3600.0)


def run_multitask(out: Path, *, quick: bool, seed: int, progress: bool, budget_s: float) -> Reproduction:
    """The reproduction, training until every task scores >= 0.9 or ``budget_s`` seconds have passed
    (checked every 250 steps; the quick version trains 200 steps)."""
    t0 = time.perf_counter()
    out = Path(out)
    hidden = 64 if quick else 256
    task = make("multitask")
    model = RateRNN(task.input_size, hidden, task.output_size, dt=task.dt, tau=100.0, nonlinearity="softplus",
                    noise_std=0.05, seed=seed)
    with torch.no_grad():
        model.recurrent_weight.copy_(0.5 * torch.eye(hidden))
    steps_per_round = 200 if quick else 250
    config = TrainingConfig(steps=10**7, batch_size=64, learning_rate=1e-3, eval_every=steps_per_round,
                            eval_batch_size=256, stop_at_criterion=False, checkpoint_every=10**7, seed=seed)
    trainer = Trainer(model, task, config, progress=progress)
    n_eval = 64 if quick else 256
    history = []
    while True:
        trainer.fit(steps=trainer.step + steps_per_round)
        by_task = performance_by_task(model, n_eval, seed=10_000 + seed)
        history.append({"step": trainer.step, "seconds": time.perf_counter() - t0,
                        "mean": float(np.mean(list(by_task.values()))), "min": min(by_task.values())})
        if quick or min(by_task.values()) >= 0.9 or time.perf_counter() - t0 > budget_s:
            break
    train_seconds = time.perf_counter() - t0
    if not quick:
        trainer.save_checkpoint(out / "checkpoint.safetensors")
    reached = min(by_task.values()) >= 0.9

    # task variance on fixed timings, noise off; clusters; fractional variance
    fixed = {r: make(r, timing="fixed", input_noise=0.0) for r in RULES}
    tv = task_variance(model, fixed, n_trials=32 if quick else 128, seed=seed)
    n_active = int(tv.active.sum())
    clusters = cluster_units(tv.normalised, k_range=range(2, 12 if quick else 30), n_init=5 if quick else 20,
                             seed=seed) if n_active >= 3 else None
    fractional = {f"{a} vs {b}": np.nan_to_num(tv.fractional(a, b).numpy()).tolist() for a, b in PAIRS}

    # lesions of each cluster (the largest in the quick version)
    active_units = np.flatnonzero(tv.active.numpy())
    lesions = {}
    if clusters is not None:
        sizes = np.bincount(clusters.labels)
        chosen = np.argsort(-sizes)[:1] if quick else np.arange(clusters.n_clusters)
        scored = {r: make(r) for r in RULES}
        for c in sorted(chosen.tolist()):
            units = active_units[clusters.members(c)]
            lesions[f"cluster {c} ({len(units)} units)"] = lesion_effect(model, scored, units,
                                                                         n_trials=32, seed=seed)

    algebra = rule_combination_effect(model, make("delayanti"), RULE_ALGEBRA, n_trials=n_eval, seed=seed)
    wrong_rule = rule_combination_effect(model, make("delayanti"), {"rule_fdanti": 1.0}, n_trials=n_eval, seed=seed)

    figures = _figures(out, tv, clusters, lesions)
    numbers = {
        "hidden_size": hidden,
        "training_steps": trainer.step,
        "training_trials": trainer.step * config.batch_size,
        "training_seconds": train_seconds,
        "training_budget_seconds": budget_s,
        "all_tasks_at_0.9": reached,
        "performance_by_task": by_task,
        "history": history,
        "n_active_units": n_active,
        "n_clusters": clusters.n_clusters if clusters is not None else 0,
        "silhouette_by_k": dict(zip(map(int, clusters.k_values), map(float, clusters.silhouette)))
        if clusters is not None else {},
        "fractional_task_variance": fractional,
        "lesions": {name: dict(zip(e.tasks, map(float, e.change))) for name, e in lesions.items()},
        "rule_algebra_delayanti": {"own_rule": algebra.original_performance,
                                   "anti_plus_delaygo_minus_go": algebra.combined_performance,
                                   "anti_only": wrong_rule.combined_performance},
        "seconds": time.perf_counter() - t0,
    }
    checks = [Check("tasks scored", float(len(by_task)), 20.0, 0.0, source="Yang et al. 2019: 20 tasks")]
    if quick:
        evals = [h["eval"]["loss"] for h in trainer.history if "eval" in h]
        numbers["held_out_loss"] = evals
        checks.append(Check("quick: held-out loss after / before training (< 0.5)", evals[-1] / evals[0], 0.25, 0.25))
    else:
        checks += [Check(f"{rule}: performance (>= 0.9)", float(p), 1.0, 0.1, source="the paper's criterion")
                   for rule, p in by_task.items()]
    return Reproduction("multitask", checks=checks, numbers=numbers, figures=figures)


def _figures(out: Path, tv, clusters, lesions) -> list[Path]:
    paths = []
    fig = Figure(figsize=(9.0, 4.8), layout="constrained")
    plot_task_variance(tv, clusters, fig.subplots())
    paths.append(out / "task_variance.png")
    fig.savefig(paths[-1], dpi=100)
    fig = Figure(figsize=(3.0 * len(PAIRS), 2.6), layout="constrained")
    for ax, (a, b) in zip(fig.subplots(1, len(PAIRS)), PAIRS):
        plot_fractional_variance(tv, a, b, ax)
    paths.append(out / "fractional_variance.png")
    fig.savefig(paths[-1], dpi=100)
    fig = Figure(figsize=(9.0, 1.5 + 0.35 * max(1, len(lesions))), layout="constrained")
    plot_lesion_effect(lesions, fig.subplots())
    paths.append(out / "lesions.png")
    fig.savefig(paths[-1], dpi=100)
    return paths
