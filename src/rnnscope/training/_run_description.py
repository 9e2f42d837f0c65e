"""A training run as plain data: what a run folder's ``config.yaml`` and ``summary.json`` hold.

The run configuration of the application (:class:`rnnscope.runs.RunConfig`) reads and validates
these sections; here they are only described, from the objects themselves: the task by its
registry name, its parameters (:meth:`~rnnscope.tasks.AbstractTask.params`) and the module that
registers it; the model by its ``config_kind`` and its constructor arguments
(:meth:`~rnnscope.models.AbstractRNN.config`); the training by its
:class:`~rnnscope.training.TrainingConfig`. So a :class:`~rnnscope.training.Trainer` built in
Python writes a run folder that ``load_run``, ``rnnscope analyse`` and ``rnnscope train --resume``
read, as one built by ``rnnscope train`` does, without the library importing the application.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .._version import __version__
from ..errors import ConfigError
from ..models._base import AbstractRNN
from ..tasks._base import AbstractTask
from ..tasks._registry import make, task_module_of
from ._config import TrainingConfig

__all__ = ["describe_run", "run_summary"]

#: Constructor arguments a run configuration gives elsewhere: the sizes come from the task, the
#: seed is the run's.
_RUN_LEVEL = ("input_size", "output_size", "seed")


def describe_run(model: AbstractRNN, task: AbstractTask, config: TrainingConfig, *,
                 device: torch.device | str | None = None) -> dict[str, Any]:
    """The run of ``model`` on ``task`` with ``config`` in the sections of a run configuration:
    ``task``, ``tasks_module`` (for a task of your own), ``task_params``, ``model`` (``kind`` and the
    constructor arguments), ``training``, ``seed`` and ``device``.

    Raises :class:`~rnnscope.errors.ConfigError`, saying why, when the run cannot be described so
    that it can be built again: a model without a ``config_kind`` or whose constructor arguments do
    not rebuild its parameters, a task class not registered under its name, or task parameters
    that do not rebuild the task.
    """
    kind = type(model).config_kind
    if kind is None:
        raise ConfigError(f"a {type(model).__name__} has no config_kind: a run configuration cannot name it "
                          f"(models it can: RateRNN, GRU, LSTM)")
    arch = dict(model.config())
    _check_rebuilds(model, arch)
    tasks_module = task_module_of(task)
    params = task.params()
    if make(task.name, **params) != task:
        raise ConfigError(f"the parameters of the task {task.name!r} do not rebuild it (task.params())")
    seed = arch.get("seed")
    section: dict[str, Any] = {"task": task.name}
    if tasks_module is not None:
        section["tasks_module"] = tasks_module
    device = next(model.parameters()).device if device is None else torch.device(device)
    return {
        **section,
        "task_params": params,
        "model": {"kind": kind, **{k: v for k, v in arch.items() if k not in _RUN_LEVEL}},
        "training": config.to_dict(),
        "seed": int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else config.seed,
        "device": str(device),
    }


def _check_rebuilds(model: AbstractRNN, arch: dict[str, Any]) -> None:
    """Refuse a description whose constructor arguments give other parameters than ``model``'s (a
    connectivity mask, or weights of another shape, are not constructor arguments a file can hold)."""
    try:
        rebuilt = type(model)(**arch)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"the constructor arguments of this {type(model).__name__} do not rebuild it: {exc}") from None
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if ours != theirs:
        differ = sorted(set(ours) ^ set(theirs)) or sorted(k for k in ours if ours[k] != theirs[k])
        raise ConfigError(f"the constructor arguments of this {type(model).__name__} do not rebuild its parameters "
                          f"({', '.join(differ[:4])} differ)")


def run_summary(result: Any, run_config: dict[str, Any], criterion: float, eval_trials: int) -> dict[str, Any]:
    """What a run folder's ``summary.json`` says of a fit: the steps, how it stopped, and the scores of
    the evaluation that decided it (the last one of the held-out batch of ``eval_trials`` trials, so
    a run stopped at the criterion reports a performance at or above it).

    Args:
        result: the :class:`~rnnscope.training.TrainingResult` of the fit.
        run_config: the run's sections (:func:`describe_run`, or ``RunConfig.to_dict()``).
        criterion: the performance at which training stopped (or would have).
        eval_trials: trials in the held-out batch.
    """
    evaluation = dict(result.evaluation)
    model = run_config.get("model") or {}
    perf = _num(evaluation.get("performance", result.performance))
    return {
        "task": run_config.get("task"),
        "steps": result.steps,
        "loss": _num(evaluation.get("loss")),
        "performance": None if perf is None else min(1.0, max(0.0, float(perf))),
        "status": "criterion" if result.stopped == "criterion" else "max_steps",
        "criterion": criterion,
        "eval_trials": int(eval_trials),
        "train_loss": _num(result.loss),
        "evaluation": {k: _num(v) for k, v in evaluation.items()},
        "wall_time_s": round(result.wall_time, 2),
        "model": model.get("kind"),
        "hidden_size": model.get("hidden_size"),
        "rank": model.get("rank"),
        "library_version": __version__,
    }


def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
