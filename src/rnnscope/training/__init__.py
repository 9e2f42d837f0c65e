"""Training by backpropagation through time: one trainer, losses, checkpoints, run folders."""

from ._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ._config import TrainingConfig
from ._losses import LOSSES, masked_cross_entropy, masked_mse
from ._run import Run, default_run_dir, evaluate_run, load_run, read_run_config, resume_run, train_run
from ._trainer import Trainer, TrainingResult, derive_seed

__all__ = [
    "Trainer",
    "TrainingConfig",
    "TrainingResult",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "masked_mse",
    "masked_cross_entropy",
    "LOSSES",
    "derive_seed",
    "Run",
    "train_run",
    "resume_run",
    "load_run",
    "evaluate_run",
    "read_run_config",
    "default_run_dir",
]
