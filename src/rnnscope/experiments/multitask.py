"""One network, twenty tasks (Yang, Joglekar, Song, Newsome & Wang 2019, Nature Neuroscience): train a
softplus network on the 20 tasks at once, score each task, then read how it shares its units among
them (task variance, clusters, fractional task variance, lesions) and whether rule inputs compose
(Dly Anti performed with Anti + (Dly Go - Go) in place of its own rule input).

The full version trains 256 units (the paper's size, noise and initialisation: recurrent noise 0.05,
input noise 0.01, both with the paper's scaling, recurrent weights 0.5 I and input weights of standard
deviation 1 / sqrt(85), Adam at 1e-3, batches of 64 trials of one rule)
until every task scores >= 0.9 or an hour has passed. The quick version trains a small network for a
few hundred steps and checks the pipeline end to end.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ..analysis.rule_algebra import rule_combination_effect
from ..analysis.task_variance import cluster_units, lesion_effect, task_variance
from ..dynamics import simulate
from ..models import RateRNN
from ..plotting.multitask import (plot_fractional_variance, plot_lesion_effect, plot_task_variance,
                                  plot_training_curves)
from ..tasks import make
from ..tasks.multitask import RULES
from ..training import Trainer, TrainingConfig, load_checkpoint
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


#: Trials per task of the running check (every ``check_every`` steps) and of the final score.
CHECK_TRIALS, FINAL_TRIALS = 128, 512


def paper_initialisation(model: RateRNN) -> RateRNN:
    """The paper's initialisation of a softplus network: recurrent weights 0.5 I, input weights of
    standard deviation ``1 / sqrt(n_inputs)`` (RateRNN's default is 1, ten times the paper's for 85
    inputs), biases 0."""
    with torch.no_grad():
        model.recurrent_weight.copy_(0.5 * torch.eye(model.hidden_size))
        model.input_weight.mul_(1.0 / math.sqrt(model.input_size))
    return model


def train_multitask(model: RateRNN, *, steps_per_check: int, budget_s: float, seed: int, progress: bool,
                    max_checks: int | None = None, log=None, checkpoint: Path | None = None,
                    resume: bool = False, seconds_before: float = 0.0
                    ) -> tuple[Trainer, dict[str, float], list[dict]]:
    """Train ``model`` on the 20 tasks until every task scores >= 0.9 or ``budget_s`` seconds have
    passed (or ``max_checks`` checks were made), as the original code trains: Adam at 1e-3, batches of
    64 trials of one rule with one draw of the epochs (so a batch costs its own length), no gradient
    clipping to speak of (the original clips each gradient entry at 1).

    Every ``steps_per_check`` steps each task is scored on 128 fresh trials; once all reach 0.9 the
    claim is confirmed on 512 trials per task (training goes on if it fails). ``log`` (a callable)
    receives each check's record; ``checkpoint`` (a path) is rewritten at each check (weights, Adam's
    state and the step, written atomically); with ``resume`` the training goes on from it, the
    records' ``seconds`` counting from ``seconds_before``. Returns the trainer, the last scores and
    the history of this call's checks.
    """
    t0 = time.perf_counter()
    task = make("multitask", rule_per="batch", timing="batch")
    config = TrainingConfig(steps=10**7, batch_size=64, learning_rate=1e-3, grad_clip=None,
                            eval_every=10**7, eval_batch_size=64, stop_at_criterion=False,
                            checkpoint_every=10**7, seed=seed)
    trainer = Trainer(model, task, config, progress=progress)
    if resume:
        trainer.resume(checkpoint)
    history: list[dict] = []
    check = trainer.step // steps_per_check  # the checks' trials are those of an uninterrupted run
    first = check
    while True:
        trainer.fit(steps=trainer.step + steps_per_check)
        check += 1
        by_task = performance_by_task(model, CHECK_TRIALS, seed=10_000 + 100 * check + seed)
        confirmed = None
        if min(by_task.values()) >= 0.9:
            by_task = performance_by_task(model, FINAL_TRIALS, seed=20_000 + 100 * check + seed)
            confirmed = min(by_task.values()) >= 0.9
        record = {"step": trainer.step, "trials": trainer.step * config.batch_size,
                  "seconds": seconds_before + time.perf_counter() - t0, "training_seconds": trainer.elapsed,
                  "mean": float(np.mean(list(by_task.values()))), "min": min(by_task.values()),
                  "trials_per_task": FINAL_TRIALS if confirmed is not None else CHECK_TRIALS,
                  "confirmed": bool(confirmed), "by_task": by_task}
        history.append(record)
        if log is not None:
            log(record)
        if checkpoint is not None:
            trainer.save_checkpoint(checkpoint)
        if confirmed or time.perf_counter() - t0 > budget_s or (max_checks is not None and check - first >= max_checks):
            return trainer, by_task, history


def run_multitask(out: Path, *, quick: bool, seed: int, progress: bool, budget_s: float,
                  quick_hidden: int = 128, quick_steps: int = 1000) -> Reproduction:
    """The reproduction, training until every task scores >= 0.9 or ``budget_s`` seconds have passed
    (checked every 500 steps; the quick version trains ``quick_steps`` steps of ``quick_hidden`` units).

    The full version keeps its checkpoint and training log in ``out``: run it again on the same folder
    and it goes on training from where it stopped (another ``budget_s``), or, once the network is at
    criterion, only runs the analyses again.
    """
    t0 = time.perf_counter()
    out = Path(out)
    hidden = quick_hidden if quick else 256
    task = make("multitask")
    model = RateRNN(task.input_size, hidden, task.output_size, dt=task.dt, tau=100.0, nonlinearity="softplus",
                    noise_std=0.05, seed=seed)
    paper_initialisation(model)
    before = performance_by_task(model, 64, seed=30_000 + seed) if quick else None
    log_path, checkpoint = out / "training_log.jsonl", out / "checkpoint.safetensors"
    previous = _read_log(log_path) if not quick and checkpoint.is_file() else []
    if not previous:
        log_path.unlink(missing_ok=True)

    def log(record):
        with log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    if previous and previous[-1]["confirmed"]:
        print(f"multitask: the network in {out} is at criterion (step {previous[-1]['step']}); running the "
              "analyses again on it (delete the folder to train a new one)", file=sys.stderr)
        model.load_state_dict(load_checkpoint(checkpoint).model_state)
        by_task, history = previous[-1]["by_task"], previous
    else:
        if previous:
            print(f"multitask: going on with the training in {out} from step {previous[-1]['step']} "
                  f"({previous[-1]['seconds'] / 60:.0f} min so far; delete the folder to start again)",
                  file=sys.stderr)
        trainer, by_task, history = train_multitask(
            model, steps_per_check=quick_steps if quick else 500, budget_s=budget_s, seed=seed, progress=progress,
            max_checks=1 if quick else None, log=log, checkpoint=None if quick else checkpoint,
            resume=bool(previous), seconds_before=previous[-1]["seconds"] if previous else 0.0)
        history = previous + history
        if not history[-1]["confirmed"]:  # the budget ran out: score the network on as many trials
            by_task = performance_by_task(model, FINAL_TRIALS, seed=40_000 + seed)
    train_seconds = history[-1]["seconds"]
    reached = min(by_task.values()) >= 0.9
    n_eval = 64 if quick else 256

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

    figures = _figures(out, tv, clusters, lesions, history)
    numbers = {
        "hidden_size": hidden,
        "training_steps": history[-1]["step"],
        "training_trials": history[-1]["trials"],
        "training_seconds": train_seconds,
        "minutes_to_criterion": train_seconds / 60 if reached else None,
        "seconds_per_step": history[-1]["training_seconds"] / max(history[-1]["step"], 1),
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
        numbers["performance_before_training"] = before
        gain = float(np.mean(list(by_task.values())) - np.mean(list(before.values())))
        numbers["mean_performance_gain"] = gain
        learnt = [r for r in ("fdgo", "reactgo") if by_task[r] >= 0.8]
        checks.append(Check(f"quick: mean performance gained in {quick_steps} steps (> 0.1)", gain, 0.3, 0.2))
        checks.append(Check("quick: fdgo and reactgo at 0.8 or more (of 2)", float(len(learnt)), 2.0, 0.0))
    else:
        checks += [Check(f"{rule}: performance (>= 0.9)", float(p), 1.0, 0.1, source="the paper's criterion")
                   for rule, p in by_task.items()]
    return Reproduction("multitask", checks=checks, numbers=numbers, figures=figures)


def _read_log(path: Path) -> list[dict]:
    """The records of a training log written by this reproduction (empty if there is none)."""
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"confirmed": False, **r} for r in records]


def _figures(out: Path, tv, clusters, lesions, history) -> list[Path]:
    paths = []
    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    plot_training_curves(history, fig.subplots())
    paths.append(out / "training.png")
    fig.savefig(paths[-1], dpi=100)
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
