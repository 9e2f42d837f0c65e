"""rnnscope: recurrent neural network models of the brain, trained on cognitive tasks and opened up.

Subpackages: :mod:`rnnscope.tasks` (trial generators), :mod:`rnnscope.models` (vector fields),
:mod:`rnnscope.dynamics` (the simulation loop), :mod:`rnnscope.training` (the BPTT trainer and run
folders), :mod:`rnnscope.plotting`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rnnscope")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from . import dynamics, models, tasks, training  # noqa: E402
from .dynamics import Trajectory, simulate  # noqa: E402
from .errors import CheckpointError, ConfigError, RnnscopeError, ShapeError, TrainingDivergedError  # noqa: E402
from .models import RateRNN  # noqa: E402
from .training import Trainer, TrainingConfig  # noqa: E402

__all__ = [
    "__version__",
    "dynamics",
    "models",
    "tasks",
    "training",
    "RateRNN",
    "Trainer",
    "TrainingConfig",
    "Trajectory",
    "simulate",
    "RnnscopeError",
    "ConfigError",
    "ShapeError",
    "CheckpointError",
    "TrainingDivergedError",
]
