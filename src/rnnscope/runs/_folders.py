"""Run folders: train a configured run, resume it, load it back, re-score it.

A run folder holds ``config.yaml`` (the resolved :class:`~rnnscope.runs.RunConfig`),
``checkpoint.safetensors``, ``metrics.jsonl``, ``summary.json`` and ``figures/``. Training and
resuming hold the folder's lock; loading checks ``config.yaml`` against the configuration the
checkpoint was trained with.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .._validation import check_device, check_int, check_seed
from ..dynamics import simulate
from ..errors import CheckpointError, ConfigError, TrainingDivergedError, TrainingInterruptedError
from ..models import AbstractRNN
from ..plotting import plot_trials
from ..tasks import AbstractTask
from ..training import (
    CHECKPOINT_NAME,
    CONFIG_NAME,
    SUMMARY_NAME,
    Checkpoint,
    Trainer,
    TrainingResult,
    atomic_write_text,
    derive_seed,
    load_checkpoint,
    run_summary,
    strict_json,
)
from ._config import RunConfig, build_run_config, load_config_file
from ._guards import check_output_folder, folder_lock, stop_on_signals

__all__ = ["Run", "train_run", "resume_run", "load_run", "evaluate_run", "write_evaluation", "default_run_dir",
           "read_run_config", "CONFIG_NAME", "SUMMARY_NAME", "EVALUATION_NAME"]

EVALUATION_NAME = "evaluation.json"
#: Settings that may differ between config.yaml and the checkpoint: more steps (``--resume
#: --steps``), the device (a run moves between machines) and where the module of a task of your own
#: is (the file moves with the run).
_MAY_DIFFER = frozenset({"training.steps", "device", "tasks_module"})

_LOG = logging.getLogger(__name__)


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
                   run_config=config.to_dict())


def train_run(config: RunConfig, out: str | Path, *, progress: bool | None = None) -> dict[str, Any]:
    """Train a new run into folder ``out``; returns the summary (also in ``summary.json``)."""
    out = check_output_folder(out, "--out")
    _refuse_existing_run(out)
    trainer = _make_trainer(config, out, progress)  # validates everything before a file is written
    with folder_lock(out):
        _refuse_existing_run(out)  # a second `train` may have started it meanwhile
        _LOG.info("training %s -> %s", config.task, out)
        return _fit_and_report(trainer, config, out)


def _refuse_existing_run(out: Path) -> None:
    if (out / CHECKPOINT_NAME).exists() or (out / CONFIG_NAME).exists():
        raise ConfigError(f"{out} already holds a run. Continue it with --resume {out}, or choose another --out.")


def resume_run(out: str | Path, *, steps: int | None = None, progress: bool | None = None) -> dict[str, Any]:
    """Continue the run in folder ``out`` from its last checkpoint (to ``steps`` if given).

    ``config.yaml`` must still be the configuration the checkpoint was trained with (only
    ``training.steps`` and ``device`` may differ); with ``steps`` it is rewritten once the checkpoint
    has been read and checked, never before.
    """
    out = Path(out)
    config = read_run_config(out)
    if steps is not None:
        steps = check_int("resume_run", "steps", steps, low=1)
        config = RunConfig(**{**config.__dict__, "training": replace(config.training, steps=steps)})
    trainer = _make_trainer(config, out, progress)
    with folder_lock(out):
        if (out / CHECKPOINT_NAME).exists():
            ckpt = load_checkpoint(out / CHECKPOINT_NAME)
            _check_matches_checkpoint(out, config, ckpt)
            if steps is not None and steps < ckpt.step:
                raise ConfigError(f"The run in {out} is at step {ckpt.step}; --steps {steps} is below it, so there is "
                                  f"nothing to train. Give --steps above {ckpt.step}, or leave it out.")
            trainer.resume()
        if steps is not None:
            atomic_write_text(out / CONFIG_NAME, config.to_yaml())
        _LOG.info("continuing %s from step %d to %d", out, trainer.step, config.training.steps)
        return _fit_and_report(trainer, config, out)


def _fit_and_report(trainer: Trainer, config: RunConfig, out: Path) -> dict[str, Any]:
    try:
        with stop_on_signals(trainer):
            result = trainer.fit()
    except TrainingDivergedError as exc:
        write_diverged(config, out, trainer.step, str(exc))
        raise
    except TrainingInterruptedError as exc:
        raise TrainingInterruptedError(f"{exc} Continue with: rnnscope train --resume {out}", step=exc.step,
                                       signal_name=exc.signal_name) from None
    return report_run(trainer, config, out, result)


def write_diverged(config: RunConfig, out: Path, steps: int, message: str) -> dict[str, Any]:
    """The summary of a run whose loss diverged (also written to ``summary.json``)."""
    summary = {"task": config.task, "steps": steps, "loss": None, "performance": None,
               "status": "diverged", "message": message}
    atomic_write_text(out / SUMMARY_NAME, strict_json(summary, indent=2))
    return summary


def report_run(trainer: Trainer, config: RunConfig, out: Path, result: TrainingResult, *,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Draw a trained run's figures and write ``summary.json`` (with ``extra`` entries); returns the
    summary. Its scores are those of the evaluation that ended the fit (the held-out batch that
    decided the criterion, :func:`~rnnscope.training.run_summary`), not of another batch: a run
    stopped at the criterion reports a performance at or above it. ``rnnscope evaluate`` re-scores a
    run on fresh trials."""
    summary = {**run_summary(result, config.to_dict(), trainer.criterion, config.training.eval_batch_size),
               **(extra or {})}
    _write_figures(trainer, out)
    atomic_write_text(out / SUMMARY_NAME, strict_json(summary, indent=2))
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
    if not path.exists():
        raise CheckpointError(f"{path} is not a run folder (it does not exist).")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file, not a run folder (written by rnnscope train).")
    if not (path / CONFIG_NAME).is_file():
        raise CheckpointError(f"{path} is not a run folder: it has no {CONFIG_NAME}.")
    data = load_config_file(path / CONFIG_NAME)
    if "data" in data and "task" not in data:
        raise CheckpointError(f"{path} is a fit folder (written by rnnscope fit), not a run folder (written by "
                              "rnnscope train); read it with rnnscope.runs.load_fit.")
    return build_run_config(data, source=str(path / CONFIG_NAME))


def load_run(path: str | Path, device: str | None = None) -> Run:
    """Load a run folder: configuration, task and the model with its trained weights.

    Raises CheckpointError when ``config.yaml`` no longer describes the run its checkpoint holds.
    """
    path = Path(path)
    config = read_run_config(path)
    if device is not None:
        check_device("load_run", "device", device)
    task = config.make_task()
    model = config.model.build(task.input_size, task.output_size, task.dt, config.seed, device=device)
    ckpt = load_checkpoint(path / CHECKPOINT_NAME)
    _check_matches_checkpoint(path, config, ckpt)
    try:
        model.load_state_dict(ckpt.model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"The checkpoint in {path} does not fit the model of its config.yaml: {exc}") from None
    return Run(path=path, config=config, task=task, model=model, step=ckpt.step)


def _check_matches_checkpoint(path: Path, config: RunConfig, ckpt: Checkpoint) -> None:
    """Refuse a run folder whose config.yaml differs from the configuration its checkpoint was trained
    with (an edited setting, or another run's checkpoint copied in), naming the settings."""
    stored = ckpt.metadata.get("run_config")
    if not isinstance(stored, dict):
        raise CheckpointError(f"The checkpoint in {path} holds no run configuration: it was not written by "
                              "rnnscope train, so it cannot be checked against config.yaml.")
    ours, theirs = _flat(config.to_dict()), _flat(stored)
    differ = sorted(k for k in ours.keys() & theirs.keys() if k not in _MAY_DIFFER and ours[k] != theirs[k])
    if differ:
        listed = "; ".join(f"{k} is {ours[k]!r} in {CONFIG_NAME} but {theirs[k]!r} in the checkpoint" for k in differ[:4])
        more = f" (and {len(differ) - 4} more)" if len(differ) > 4 else ""
        raise CheckpointError(f"{path / CONFIG_NAME} is not the configuration its checkpoint was trained with: "
                              f"{listed}{more}. Restore {CONFIG_NAME}, or train a new run with the new settings.")


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"tau": 1}}`` -> ``{"model.tau": 1}``, tuples as lists (as JSON and YAML store them)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.loads(strict_json(v))
    return out


def evaluate_run(path: str | Path, *, n_trials: int = 512, seed: int = 12345, device: str | None = None) -> dict[str, Any]:
    """Re-score a trained run on ``n_trials`` fresh trials; returns the report (the command line
    prints it, then saves it with :func:`write_evaluation`)."""
    own = "evaluate_run"
    n_trials = check_int(own, "n_trials", n_trials, low=1)
    seed = check_seed(own, "seed", seed)
    run = load_run(path, device=device)
    trainer = Trainer(run.model, run.task, run.config.training, progress=False, device=device)
    scores = trainer.evaluate(batch_size=n_trials, seed=seed)
    return {"task": run.config.task, "step": run.step, "n_trials": n_trials, "seed": seed,
            **{k: _num(v) for k, v in scores.items()}}


def write_evaluation(path: str | Path, report: dict[str, Any]) -> Path:
    """Save a report of :func:`evaluate_run` as ``evaluation.json`` in the run folder ``path``."""
    out = Path(path) / EVALUATION_NAME
    atomic_write_text(out, strict_json(report, indent=2))
    return out


def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
