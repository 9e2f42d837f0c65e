"""Training by backpropagation through time: one trainer, losses, learning-rate schedules,
callbacks and checkpoints."""

from ._callbacks import Callback
from ._checkpoint import (
    Checkpoint,
    atomic_write_text,
    jsonable,
    load_checkpoint,
    save_checkpoint,
    save_checkpoint_state,
    strict_json,
)
from ._ensemble import EnsembleTrainer
from ._config import TrainingConfig
from ._losses import LOSSES, masked_cross_entropy, masked_mse
from ._run_description import describe_run, run_summary
from ._trainer import (
    CHECKPOINT_NAME,
    CONFIG_NAME,
    METRICS_NAME,
    SUMMARY_NAME,
    Trainer,
    TrainingResult,
    derive_seed,
    learning_rate_at,
)

__all__ = [
    "Trainer",
    "EnsembleTrainer",
    "TrainingConfig",
    "TrainingResult",
    "Callback",
    "learning_rate_at",
    "Checkpoint",
    "save_checkpoint",
    "save_checkpoint_state",
    "load_checkpoint",
    "atomic_write_text",
    "strict_json",
    "jsonable",
    "masked_mse",
    "masked_cross_entropy",
    "LOSSES",
    "derive_seed",
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "CONFIG_NAME",
    "SUMMARY_NAME",
    "describe_run",
    "run_summary",
]
