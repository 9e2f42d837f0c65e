"""TrainingConfig: every knob of the trainer, validated once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..errors import ConfigError

__all__ = ["TrainingConfig"]


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of :class:`~rnnscope.training.Trainer`.

    Attributes:
        steps: maximum number of optimisation steps (each on a fresh batch).
        batch_size: trials per step.
        learning_rate: step size of the optimiser (at the start, see ``lr_schedule``).
        lr_schedule: how the step size changes with the step (a function of the step, so a
            resumed run repeats an uninterrupted one): ``"constant"``; ``"step"`` (``learning_rate``
            until ``lr_drop_at`` of the steps, then ``final_learning_rate``); ``"cosine"`` (from
            ``learning_rate`` to ``final_learning_rate``, 0 if None, over ``steps``).
        final_learning_rate: the step size the ``"step"`` and ``"cosine"`` schedules end at.
        lr_drop_at: fraction of ``steps`` after which the ``"step"`` schedule drops.
        optimizer: ``"adam"`` or ``"sgd"``.
        loss: ``"mse"`` or ``"cross_entropy"``; None uses the task's default.
        grad_clip: maximum global gradient norm; None for no clipping.
        rate_l2: weight of the mean squared firing rate penalty.
        weight_l2: weight of the mean squared recurrent weight penalty.
        eval_every: steps between evaluations on a fixed held-out batch.
        eval_batch_size: trials in that held-out batch, which decides the criterion and whose scores
            the run's summary reports. 1024 by default, so that the criterion is decided by the network
            and not by the draw: the standard error of a performance p on n trials is
            sqrt(p (1 - p) / n), 0.007 at p = 0.95 and n = 1024 (0.014 with the 256 trials of earlier
            versions), so a network 0.02 below a criterion of 0.95 passes it by chance in about 1 of
            600 evaluations (1 of 14 with 256). It costs about a tenth of the work of the 50
            training steps between two evaluations (64 trials each, forward and backward).
        criterion: stop once the held-out performance reaches this; None uses the task's default.
        stop_at_criterion: whether to stop at the criterion at all.
        checkpoint_every: steps between checkpoints (one is also written at the end).
        log_every: steps between lines of ``metrics.jsonl``.
        seed: seed of the training batches and of the noise (step k always sees the same batch).
    """

    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    final_learning_rate: float | None = None
    lr_drop_at: float = 0.6
    optimizer: str = "adam"
    loss: str | None = None
    grad_clip: float | None = 1.0
    rate_l2: float = 0.0
    weight_l2: float = 0.0
    eval_every: int = 50
    eval_batch_size: int = 1024
    criterion: float | None = None
    stop_at_criterion: bool = True
    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        own = "TrainingConfig"
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("steps", check_int(own, "steps", self.steps, low=0))
        set_("batch_size", check_int(own, "batch_size", self.batch_size, low=1))
        set_("learning_rate", check_float(own, "learning_rate", self.learning_rate, low=0, low_inclusive=False))
        check_choice(own, "lr_schedule", self.lr_schedule, ("constant", "step", "cosine"))
        if self.final_learning_rate is not None:
            set_("final_learning_rate", check_float(own, "final_learning_rate", self.final_learning_rate, low=0))
        elif self.lr_schedule == "step":
            raise ConfigError(f"The 'final_learning_rate' parameter of {own} must be a float >= 0 with "
                              f"lr_schedule='step' (the rate after the drop). Got None instead.")
        set_("lr_drop_at", check_float(own, "lr_drop_at", self.lr_drop_at, low=0, high=1))
        check_choice(own, "optimizer", self.optimizer, ("adam", "sgd"))
        if self.loss is not None:
            check_choice(own, "loss", self.loss, ("mse", "cross_entropy"))
        if self.grad_clip is not None:
            set_("grad_clip", check_float(own, "grad_clip", self.grad_clip, low=0, low_inclusive=False))
        set_("rate_l2", check_float(own, "rate_l2", self.rate_l2, low=0))
        set_("weight_l2", check_float(own, "weight_l2", self.weight_l2, low=0))
        set_("eval_every", check_int(own, "eval_every", self.eval_every, low=1))
        set_("eval_batch_size", check_int(own, "eval_batch_size", self.eval_batch_size, low=1))
        if self.criterion is not None:
            set_("criterion", check_float(own, "criterion", self.criterion, low=0, high=1))
        check_bool(own, "stop_at_criterion", self.stop_at_criterion)
        set_("checkpoint_every", check_int(own, "checkpoint_every", self.checkpoint_every, low=1))
        set_("log_every", check_int(own, "log_every", self.log_every, low=1))
        set_("seed", check_seed(own, "seed", self.seed))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
