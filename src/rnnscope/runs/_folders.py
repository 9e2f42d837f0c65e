"""Run folders: train a configured run, resume it, load it back, re-score it.

A run folder holds ``config.yaml`` (the resolved :class:`~rnnscope.runs.RunConfig`),
``checkpoint.safetensors``, ``metrics.jsonl``, ``summary.json`` and ``figures/``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..dynamics import simulate
from ..errors import CheckpointError, ConfigError, TrainingDivergedError
from ..models import AbstractRNN
from ..plotting import plot_trials
from ..tasks import AbstractTask
from ..training import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    Trainer,
    TrainingResult,
    atomic_write_text,
    derive_seed,
    load_checkpoint,
)
from ._config import RunConfig, build_run_config, load_config_file

__all__ = ["Run", "train_run", "resume_run", "load_run", "evaluate_run", "default_run_dir", "read_run_config",
           "CONFIG_NAME", "SUMMARY_NAME"]

CONFIG_NAME = "config.yaml"
SUMMARY_NAME = "summary.json"


@dataclass
class Run:
    """A run folder loaded back: its configuration, task and trained model."""

    path: Path
    config: RunConfig
    task: AbstractTask
    model: AbstractRNN
    step: int


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    """``runs/TASK``, or ``runs/TASK-2``, ``-3``, ... if taken."""
    root = Path(root)
    path = root / task
    k = 2
    while path.exists():
        path = root / f"{task}-{k}"
        k += 1
    return path


def _make_trainer(config: RunConfig, out: Path, progress: bool | None) -> Trainer:
    task = config.make_task()
    model = config.model.build(task.input_size, task.output_size, task.dt, config.seed)
    return Trainer(model, task, config.training, run_dir=out, device=config.device, progress=progress,
                   checkpoint_metadata={"run_config": config.to_dict()})


def train_run(config: RunConfig, out: str | Path, *, progress: bool | None = None) -> dict[str, Any]:
    """Train a new run into folder ``out``; returns the summary (also in ``summary.json``)."""
    out = Path(out)
    if (out / CHECKPOINT_NAME).exists() or (out / CONFIG_NAME).exists():
        raise ConfigError(f"{out} already holds a run. Continue it with --resume {out}, or choose another --out.")
    trainer = _make_trainer(config, out, progress)  # validates everything before a file is written
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG_NAME, config.to_yaml())
    return _fit_and_report(trainer, config, out)


def resume_run(out: str | Path, *, steps: int | None = None, progress: bool | None = None) -> dict[str, Any]:
    """Continue the run in folder ``out`` from its last checkpoint (to ``steps`` if given)."""
    out = Path(out)
    config = read_run_config(out)
    if steps is not None:
        config = RunConfig(**{**config.__dict__, "training": replace(config.training, steps=int(steps))})
        atomic_write_text(out / CONFIG_NAME, config.to_yaml())
    trainer = _make_trainer(config, out, progress)
    if (out / CHECKPOINT_NAME).exists():
        trainer.resume()
    return _fit_and_report(trainer, config, out)


def _fit_and_report(trainer: Trainer, config: RunConfig, out: Path) -> dict[str, Any]:
    try:
        result = trainer.fit()
    except TrainingDivergedError as exc:
        write_diverged(config, out, trainer.step, str(exc))
        raise
    return report_run(trainer, config, out, result)


def write_diverged(config: RunConfig, out: Path, steps: int, message: str) -> dict[str, Any]:
    """The summary of a run whose loss diverged (also written to ``summary.json``)."""
    summary = {"task": config.task, "steps": steps, "loss": None, "performance": None,
               "status": "diverged", "message": message}
    atomic_write_text(out / SUMMARY_NAME, json.dumps(summary, indent=2))
    return summary


def report_run(trainer: Trainer, config: RunConfig, out: Path, result: TrainingResult, *,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score a trained run on its final held-out trials, draw its figures and write ``summary.json``
    (with ``extra`` entries); returns the summary."""
    final = trainer.evaluate(seed=derive_seed(config.seed, "final"), batch_size=config.training.eval_batch_size)
    summary = {
        "task": config.task,
        "steps": result.steps,
        "loss": _num(final["loss"]),
        "performance": _clip01(final["performance"]),
        "status": "criterion" if result.stopped == "criterion" else "max_steps",
        "criterion": trainer.criterion,
        "train_loss": _num(result.loss),
        "evaluation": {k: _num(v) for k, v in final.items()},
        "wall_time_s": round(result.wall_time, 2),
        "model": config.model.kind,
        "hidden_size": config.model.hidden_size,
        "rank": config.model.get("rank"),
        "library_version": __version__,
        **(extra or {}),
    }
    _write_figures(trainer, out)
    atomic_write_text(out / SUMMARY_NAME, json.dumps(summary, indent=2))
    return summary


def _write_figures(trainer: Trainer, out: Path) -> None:
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    task = trainer.task
    batch = task.sample(4, seed=derive_seed(trainer.config.seed, "figure"))
    with torch.no_grad():
        traj = simulate(trainer.model.cpu(), batch.inputs, generator=torch.Generator().manual_seed(0))
    trainer.model.to(trainer.device)
    fig = plot_trials(batch, traj.outputs, n_trials=3, input_names=task.input_names,
                      output_names=task.output_names, title=f"{task.name}: trained network")
    fig.savefig(figdir / "trials.png", dpi=110)


def read_run_config(path: str | Path) -> RunConfig:
    """The :class:`RunConfig` stored in a run folder."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a run folder (it does not exist).")
    if not (path / CONFIG_NAME).is_file():
        raise CheckpointError(f"{path} is not a run folder: it has no {CONFIG_NAME}.")
    return build_run_config(load_config_file(path / CONFIG_NAME), source=str(path / CONFIG_NAME))


def load_run(path: str | Path, device: str | None = None) -> Run:
    """Load a run folder: configuration, task and the model with its trained weights."""
    path = Path(path)
    config = read_run_config(path)
    task = config.make_task()
    model = config.model.build(task.input_size, task.output_size, task.dt, config.seed, device=device)
    ckpt = load_checkpoint(path / CHECKPOINT_NAME)
    try:
        model.load_state_dict(ckpt.model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"The checkpoint in {path} does not fit the model of its config.yaml: {exc}") from None
    return Run(path=path, config=config, task=task, model=model, step=ckpt.step)


def evaluate_run(path: str | Path, *, n_trials: int = 512, seed: int = 12345, device: str | None = None) -> dict[str, Any]:
    """Re-score a trained run on ``n_trials`` fresh trials; also writes ``evaluation.json``."""
    run = load_run(path, device=device)
    trainer = Trainer(run.model, run.task, run.config.training, progress=False, device=device)
    scores = trainer.evaluate(batch_size=n_trials, seed=seed)
    report = {"task": run.config.task, "step": run.step, "n_trials": n_trials, "seed": seed,
              **{k: _num(v) for k, v in scores.items()}}
    atomic_write_text(Path(path) / "evaluation.json", json.dumps(report, indent=2))
    return report


def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _clip01(v: float) -> float | None:
    v = _num(v)
    return None if v is None else min(1.0, max(0.0, float(v)))

