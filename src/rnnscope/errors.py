"""The exceptions rnnscope raises.

Every error the library raises on purpose derives from :class:`RnnscopeError`, so a caller can
catch them all at once. The subclasses also derive from the built-in exception a Python user
would expect (``ValueError`` for bad arguments, ``OSError``-free file problems as
:class:`CheckpointError`), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "RnnscopeError",
    "ConfigError",
    "ShapeError",
    "CheckpointError",
    "TrainingDivergedError",
    "TrainingInterruptedError",
    "NotFittedError",
    "TaskContractError",
    "ModelContractError",
    "ConvergenceError",
]


class RnnscopeError(Exception):
    """Base class of every error raised by rnnscope."""


class ConfigError(RnnscopeError, ValueError):
    """An argument or configuration value is not accepted (wrong type, range or name)."""


class ShapeError(RnnscopeError, ValueError):
    """A tensor does not have the shape the call expects."""


class CheckpointError(RnnscopeError):
    """A checkpoint or run folder is missing, truncated, corrupted or incompatible."""


class TrainingDivergedError(RnnscopeError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterruptedError(RnnscopeError):
    """Training was asked to stop (Ctrl-C, SIGTERM) and stopped between two steps, after saving a
    checkpoint of the step it reached; ``signal_name`` says which request (``"SIGINT"``, ...)."""

    def __init__(self, message: str, *, step: int, signal_name: str) -> None:
        super().__init__(message)
        self.step = step
        self.signal_name = signal_name


class NotFittedError(RnnscopeError, ValueError, AttributeError):
    """An estimator's results were asked for before its ``fit`` was called."""


class TaskContractError(RnnscopeError, AssertionError):
    """A task breaks the contract that :func:`~rnnscope.tasks.check_task` verifies."""


class ModelContractError(RnnscopeError, AssertionError):
    """A model breaks the contract that :func:`~rnnscope.models.check_model` verifies."""


class ConvergenceError(RnnscopeError):
    """A numerical search (a periodic orbit's Newton iteration, an automaton's state clustering)
    ended without an answer; the message says what was tried and what to change."""
