"""Callbacks: code of the user's that the trainer calls at fixed points of its loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the trainer imports this module
    from ._trainer import Trainer, TrainingResult

__all__ = ["Callback"]


class Callback:
    """Hooks into :meth:`Trainer.fit <rnnscope.training.Trainer.fit>`; override the ones you need.

    Every hook receives the trainer (its ``model``, ``step``, ``optimizer``, ``history``, ...). A
    hook must not change the optimiser's settings: the learning rate follows the trainer's schedule
    (:func:`~rnnscope.training.learning_rate_at`), a function of the step, so that a resumed run
    repeats an uninterrupted one exactly.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_step_end(self, trainer, loss):
        ...         if trainer.step % 100 == 0:
        ...             print(trainer.step, loss)
        >>> Trainer(model, task, config, callbacks=[PrintLoss()]).fit()
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first step of a :meth:`~rnnscope.training.Trainer.fit` call."""

    def on_step_end(self, trainer: Trainer, loss: float) -> None:
        """After each optimisation step (``trainer.step`` is the number of steps done)."""

    def on_evaluation(self, trainer: Trainer, scores: dict[str, Any]) -> None:
        """After each evaluation on the held-out batch."""

    def on_checkpoint(self, trainer: Trainer, path: Any) -> None:
        """After a checkpoint was written to ``path``."""

    def on_fit_end(self, trainer: Trainer, result: TrainingResult) -> None:
        """When :meth:`~rnnscope.training.Trainer.fit` returns."""
