"""rnnscope: recurrent neural network models of the brain, trained on cognitive tasks and opened up.

The library, bottom to top (docs/architecture.md): :mod:`rnnscope.numerics` (the numerical core),
:mod:`rnnscope.tasks` (trial generators), :mod:`rnnscope.dynamics` (the simulation loop),
:mod:`rnnscope.models` (vector fields under one contract), :mod:`rnnscope.training` (the BPTT
trainer), :mod:`rnnscope.data`, :mod:`rnnscope.analysis`, :mod:`rnnscope.theory`,
:mod:`rnnscope.systems`, :mod:`rnnscope.plotting`, :mod:`rnnscope.experiments`; above it the
application, :mod:`rnnscope.runs` (run folders, reports) and :mod:`rnnscope.cli`.

This package re-exports the names a newcomer uses first (``sweep`` and ``load_sweep`` on first
use, so that ``import rnnscope`` does not load the application layer); every other public name lives
in one subpackage.
"""

from . import dynamics, models, tasks, training
from ._version import __version__
from .dynamics import Trajectory, simulate
from .errors import CheckpointError, ConfigError, RnnscopeError, ShapeError, TrainingDivergedError
from .models import RateRNN, check_model
from .training import Trainer, TrainingConfig

__all__ = [
    "__version__",
    "dynamics",
    "models",
    "tasks",
    "training",
    "RateRNN",
    "check_model",
    "Trainer",
    "TrainingConfig",
    "Trajectory",
    "simulate",
    "RnnscopeError",
    "ConfigError",
    "ShapeError",
    "CheckpointError",
    "TrainingDivergedError",
    "sweep",
    "load_sweep",
]


def __getattr__(name: str):
    """``sweep`` and ``load_sweep`` from the application layer (:mod:`rnnscope.runs`), imported on first use."""
    if name in ("sweep", "load_sweep"):
        from . import runs

        return getattr(runs, name)
    raise AttributeError(f"module 'rnnscope' has no attribute {name!r}")
