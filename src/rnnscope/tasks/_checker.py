"""``check_task``: the public checker of the task contract (run it on your own tasks)."""

from __future__ import annotations

import math

import torch

from ..errors import TaskContractError
from ._base import AbstractTask, TrialBatch

__all__ = ["check_task"]


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise TaskContractError(message)


def check_task(task: AbstractTask, *, batch_size: int = 16, seed: int = 0) -> TrialBatch:
    """Verify that ``task`` honours the task contract; raise ``TaskContractError`` if not.

    Checks: types, shapes and dtypes of every field of the batch; mask values in [0, 1] and at least
    one scored step per trial; no NaN or infinite value; padding after each trial's length carries no
    loss; periods lie inside the trial; conditions have one entry per trial; the same seed gives the
    same batch and another seed a different one; ``evaluate`` returns a ``performance`` in [0, 1]
    and scores the targets themselves as (near) perfect.

    Returns the batch it checked.
    """
    name = type(task).__name__
    _require(isinstance(task, AbstractTask), f"{name} is not an AbstractTask")
    b = task.sample(batch_size, seed=seed)
    _require(isinstance(b, TrialBatch), f"{name}.sample must return a TrialBatch, got {type(b).__name__}")
    B, T = batch_size, b.inputs.shape[1]
    _require(b.inputs.shape == (B, T, task.input_size),
             f"inputs have shape {tuple(b.inputs.shape)}, expected {(B, T, task.input_size)}")
    _require(b.targets.shape == (B, T, task.output_size),
             f"targets have shape {tuple(b.targets.shape)}, expected {(B, T, task.output_size)}")
    _require(b.mask.shape == b.targets.shape, "mask must have the shape of targets")
    for field in ("inputs", "targets", "mask"):
        t = getattr(b, field)
        _require(t.dtype == torch.float32, f"{field} must be float32, got {t.dtype}")
        _require(bool(torch.isfinite(t).all()), f"{field} contains NaN or infinite values")
    _require(bool(((b.mask >= 0) & (b.mask <= 1)).all()), "mask values must lie in [0, 1]")
    _require(bool((b.mask.sum(dim=(1, 2)) > 0).all()), "every trial must have at least one scored step")
    _require(b.lengths.shape == (B,) and b.lengths.dtype == torch.long, "lengths must be a (batch,) long tensor")
    _require(bool((b.lengths >= 1).all() and (b.lengths <= T).all()), "lengths must lie in [1, time]")
    _require(int(b.lengths.max()) == T, "the batch must not be padded beyond its longest trial")
    pad = torch.arange(T)[None, :] >= b.lengths[:, None]
    _require(bool((b.mask[pad] == 0).all()), "the mask must be 0 after each trial's length")
    _require(math.isclose(b.dt, task.dt), f"batch.dt {b.dt} differs from task.dt {task.dt}")
    for key, p in b.periods.items():
        _require(p.shape == (B, 2) and p.dtype == torch.long, f"period {key!r} must be a (batch, 2) long tensor")
        _require(bool((p[:, 0] >= 0).all() and (p[:, 0] <= p[:, 1]).all() and (p[:, 1] <= b.lengths).all()),
                 f"period {key!r} must satisfy 0 <= start <= end <= length")
    for key, c in b.conditions.items():
        _require(isinstance(c, torch.Tensor) and c.shape[:1] == (B,),
                 f"condition {key!r} must be a tensor with the batch as first axis")
    again = task.sample(batch_size, seed=seed)
    for field in ("inputs", "targets", "mask"):
        _require(torch.equal(getattr(b, field), getattr(again, field)), f"the same seed gave different {field}")
    other = task.sample(batch_size, seed=seed + 1)
    _require(not (other.inputs.shape == b.inputs.shape and torch.equal(other.inputs, b.inputs)
                  and torch.equal(other.targets, b.targets)),
             "a different seed gave the same batch")
    scores = task.evaluate(b.targets.clone(), b)
    _require(isinstance(scores, dict) and "performance" in scores, "evaluate must return a dict with 'performance'")
    perf = scores["performance"]
    _require(isinstance(perf, float) and 0.0 <= perf <= 1.0, f"performance must be a float in [0, 1], got {perf!r}")
    _require(perf >= 0.99, f"the targets themselves must score (near) perfect, got performance {perf:.4f}")
    worst = task.evaluate(torch.zeros_like(b.targets), b)["performance"]
    _require(0.0 <= worst <= 1.0, f"performance of zero outputs must lie in [0, 1], got {worst!r}")
    return b
