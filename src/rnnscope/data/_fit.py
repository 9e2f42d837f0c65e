"""Fitting rate networks to recorded activity (Valente, Pillow & Ostojic 2022).

A :class:`DataTask` turns the training trials of a :class:`NeuralData` into the task the one
:class:`~rnnscope.training.Trainer` optimises: inputs are the recorded stimuli, targets the recorded
activity, the mask the valid bins. The network's readout is the map from its units to the neurons:

- ``mapping="linear"``: a learned linear readout of the rates (or states) to the neurons, for any
  number of units;
- ``mapping="identity"``: every unit is a recorded neuron (``hidden_size = n_neurons``), the readout
  is the identity and frozen, so ``phi(x)`` (or ``x``) itself is compared with the data, as Valente
  et al. fit low-rank networks (LINT).

So the fitted network is a normal :class:`~rnnscope.models.RateRNN`, and every analysis (fixed
points, latent flow fields, Lyapunov spectra) applies to it. :func:`select_rank` fits ranks
1, 2, ... and picks the smallest rank whose held-out variance explained is within a tolerance of the
best one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from .._validation import check_bool, check_choice, check_float, check_int
from ..analysis.state_space import condition_average
from ..dynamics import simulate
from ..errors import ConfigError, ShapeError
from ..models import RateRNN
from ..tasks._base import AbstractTask, TrialBatch
from ..training import Trainer, TrainingConfig, TrainingResult
from ._neural_data import NeuralData
from ._scores import (
    R2NoiseCeiling,
    _trial_residuals,
    _ss_tot,
    condition_average_r2,
    r2_noise_ceiling,
    svd_variance_captured,
    variance_explained,
)

__all__ = ["DataTask", "DataFit", "RankSelection", "fit_rnn", "select_rank", "choose_rank", "default_fit_training",
           "Normalisation", "TARGETS"]

#: What a fit reproduces: the single trials, or the condition averages (Valente et al. 2022).
TARGETS = ("single-trial", "condition-average")

_LOG = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- the task
@dataclass(frozen=True)
class Normalisation:
    """Per-neuron affine normalisation of the activity: ``(activity - mean) / std``.

    Shape: mean, std: (neurons,).
    """

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def identity(cls, n: int) -> Normalisation:
        return cls(mean=torch.zeros(n, dtype=torch.float64), std=torch.ones(n, dtype=torch.float64))

    @classmethod
    def zscore(cls, data: NeuralData) -> Normalisation:
        """Mean and std of each neuron over the valid bins of ``data`` (std floored at 1e-8 of the largest)."""
        x = data.activity.double()[data.valid_mask()]
        std = x.std(dim=0)
        return cls(mean=x.mean(dim=0), std=std.clamp_min(1e-8 * max(float(std.max()), 1e-300)))

    def apply(self, activity: torch.Tensor) -> torch.Tensor:
        return (activity - self.mean.to(activity)) / self.std.to(activity)

    def invert(self, activity: torch.Tensor) -> torch.Tensor:
        return activity * self.std.to(activity) + self.mean.to(activity)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalisation:
        return cls(mean=torch.tensor(d["mean"], dtype=torch.float64), std=torch.tensor(d["std"], dtype=torch.float64))


class DataTask(AbstractTask):
    """The trials of a :class:`NeuralData` as a task for the :class:`~rnnscope.training.Trainer`.

    ``sample(batch_size, seed=...)`` draws ``min(batch_size, n_trials)`` distinct trials at random:
    inputs are the recorded inputs, targets the (normalised) activity, the mask the valid bins of
    every neuron. ``evaluate`` reports the variance explained (``"r2"``; ``"performance"`` is it
    clipped to [0, 1]).

    Args:
        data: the trials to fit (usually the training split).
        normalisation: applied to the activity to make the targets; None leaves it as recorded.

    Shape:
        - batch inputs: (batch, time, n_inputs); targets, mask: (batch, time, n_neurons)
    """

    name: ClassVar[str] = "data"
    summary: ClassVar[str] = "reproduce recorded activity from the recorded inputs"
    default_loss: ClassVar[str] = "mse"
    default_criterion: ClassVar[float] = 1.0

    def __init__(self, data: NeuralData, normalisation: Normalisation | None = None) -> None:
        if not isinstance(data, NeuralData):
            raise ConfigError(f"The 'data' parameter of DataTask must be a NeuralData. Got {type(data).__name__} instead.")
        self.data = data
        self.normalisation = normalisation or Normalisation.identity(data.n_neurons)
        self.dt = data.dt
        self._targets = self.normalisation.apply(data.activity.double()).float()
        self._targets = torch.where(data.valid_mask()[..., None], self._targets, 0.0)
        self._inputs = data.inputs.float()
        self._mask = data.valid_mask()[..., None].expand(-1, -1, data.n_neurons).float()

    @property
    def input_names(self) -> tuple[str, ...]:
        return self.data.input_names or tuple(f"input{j}" for j in range(self.data.n_inputs))

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.data.neuron_names or tuple(f"neuron{j}" for j in range(self.data.n_neurons))

    def params(self) -> dict[str, Any]:
        return {"n_trials": self.data.n_trials, "n_time": self.data.n_time, "n_neurons": self.data.n_neurons,
                "dt": self.dt}

    def batch(self, trials: torch.Tensor | None = None) -> TrialBatch:
        """The given trials (default: all, in order) as a :class:`TrialBatch`."""
        idx = torch.arange(self.data.n_trials) if trials is None else torch.as_tensor(trials).long()
        lengths = self.data.lengths[idx]
        return TrialBatch(
            inputs=self._inputs[idx], targets=self._targets[idx], mask=self._mask[idx],
            conditions={k: v[idx] for k, v in self.data.conditions.items()},
            periods={"trial": torch.stack([torch.zeros_like(lengths), lengths], dim=1)},
            lengths=lengths, dt=self.dt,
        )

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        n = self.data.n_trials
        idx = torch.randperm(n, generator=generator)[: min(batch_size, n)]
        return self.batch(idx)

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        outputs = self._check_outputs(outputs, batch)
        r2 = variance_explained(outputs, batch.targets, batch.lengths)
        return {"performance": min(1.0, max(0.0, r2)) if math.isfinite(r2) else 0.0, "r2": r2}


# ---------------------------------------------------------------------------------------------- fits
@dataclass
class DataFit:
    """A network fitted to recorded activity.

    Attributes:
        model: the fitted :class:`~rnnscope.models.RateRNN` (its readout maps units to neurons).
        rank: its connectivity rank (None for full rank).
        mapping: ``"linear"`` or ``"identity"`` (every unit a neuron).
        normalisation: the per-neuron normalisation of the targets (predictions are mapped back).
        r2_train, r2_test: variance explained (of the normalised activity) on the training and the
            held-out trials (None without held-out trials).
        training: what the trainer returned.
    """

    model: RateRNN
    rank: int | None
    mapping: str
    normalisation: Normalisation
    r2_train: float
    r2_test: float | None
    training: TrainingResult | None = None

    def predict(self, data: NeuralData) -> torch.Tensor:
        """The network's prediction of ``data``'s activity from its inputs, in the data's units
        (noise off; padding bins 0).

        Shape: returns (trials, time, neurons).
        """
        if data.n_inputs != self.model.input_size:
            raise ShapeError(f"The data has {data.n_inputs} inputs; the fitted network takes {self.model.input_size}.")
        if data.n_neurons != self.model.output_size:
            raise ShapeError(f"The data has {data.n_neurons} neurons; the fitted network predicts {self.model.output_size}.")
        if not math.isclose(data.dt, self.model.dt):
            raise ConfigError(f"The data's bins are {data.dt:g} ms; the fitted network steps {self.model.dt:g} ms.")
        dtype = next(self.model.parameters()).dtype
        with torch.no_grad():
            out = simulate(self.model, data.inputs.to(dtype), noise=False).outputs
        pred = self.normalisation.invert(out.double())
        return torch.where(data.valid_mask()[..., None], pred, 0.0)

    def score(self, data: NeuralData) -> float:
        """Variance explained of ``data`` (normalised like the targets), as ``r2_train``/``r2_test``."""
        pred = self.normalisation.apply(self.predict(data))
        return variance_explained(pred, self.normalisation.apply(data.activity.double()), data.lengths)


def _build_model(data: NeuralData, *, rank, hidden_size, mapping, readout, tau, nonlinearity, noise_std,
                 learn_initial_state, seed) -> RateRNN:
    model = RateRNN(data.n_inputs, hidden_size, data.n_neurons, rank=rank, tau=tau, dt=data.dt,
                    nonlinearity=nonlinearity, readout=readout, noise_std=noise_std,
                    learn_initial_state=learn_initial_state, seed=seed)
    if mapping == "identity":
        with torch.no_grad():
            model.output_weight.copy_(torch.eye(hidden_size))
            model.output_bias.zero_()
        model.freeze("output")
    return model


_DEFAULT_TRAINING = dict(steps=500, batch_size=64, learning_rate=1e-2, eval_every=50, eval_batch_size=256,
                         stop_at_criterion=False, checkpoint_every=100, log_every=10)


def default_fit_training(**changes: Any) -> TrainingConfig:
    """The training settings :func:`fit_rnn` uses unless given others: Adam, lr 1e-2, batch 64,
    500 steps, no early stop (R^2 on training trials is evaluated every 50 steps).

    For the three that ``rnnscope fit`` sets (``--steps``, ``--batch-size``, ``--lr``),
    :func:`fit_rnn` and :func:`select_rank` take ``steps=``, ``batch_size=`` and ``learning_rate=``
    directly; this function is for the others."""
    return TrainingConfig(**{**_DEFAULT_TRAINING, **changes})


def fit_rnn(
    data: NeuralData,
    *,
    rank: int | None = None,
    hidden_size: int | None = None,
    mapping: str = "linear",
    readout: str = "rates",
    zscore: bool | None = None,
    zscore_on: NeuralData | None = None,
    test_data: NeuralData | None = None,
    tau: float = 100.0,
    nonlinearity: str = "tanh",
    noise_std: float = 0.0,
    learn_initial_state: bool = True,
    steps: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    training: TrainingConfig | None = None,
    final_learning_rate: float | None = 2e-3,
    decay_at: float = 0.6,
    seed: int = 0,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
) -> DataFit:
    """Fit a rate network so that its activity reproduces ``data`` given the same inputs.

    The loss is the masked MSE between the network's readout and the (normalised) activity, through
    the one :class:`~rnnscope.training.Trainer` (BPTT, checkpoints and ``metrics.jsonl`` in
    ``run_dir``; its evaluations score training trials).

    Args:
        data: the training trials.
        rank: connectivity rank K, or None for full rank.
        hidden_size: number of units; default ``n_neurons`` (required for ``mapping="identity"``).
        mapping: ``"linear"`` (a learned readout from units to neurons) or ``"identity"`` (unit i
            is neuron i; the readout is frozen to the identity).
        readout: compare ``"rates"`` (``phi(x)``) or ``"states"`` (``x``) with the neurons.
        zscore: normalise each neuron to zero mean and unit variance before fitting (each neuron
            weighs the same); default True for the linear mapping, False for the identity (whose
            rates are bounded by the nonlinearity).
        zscore_on: the trials whose per-neuron mean and std the z-score uses; default ``data``
            (:func:`select_rank` gives the single training trials when it fits their condition
            averages, so that both targets weigh the neurons alike).
        test_data: held-out trials scored as ``r2_test``.
        tau, nonlinearity, noise_std, learn_initial_state: RateRNN settings (``dt`` is the bin width).
        steps, batch_size, learning_rate: training steps, trials per step and the (first) step size,
            as ``rnnscope fit --steps --batch-size --lr``; each replaces that field of ``training``.
        training: a :class:`~rnnscope.training.TrainingConfig` for every other setting; default
            :func:`default_fit_training` with ``seed`` as its seed.
        final_learning_rate: the learning rate of the last ``1 - decay_at`` of the steps (the
            first part uses ``training.learning_rate``): the trainer's ``"step"`` schedule, unless
            ``training`` already has a schedule; None keeps one rate throughout.
        decay_at: fraction of ``training.steps`` after which the rate drops.
        seed: seed of the initial weights, and of the batches unless ``training`` is given (they
            follow ``training.seed``).
        run_dir: folder for the trainer's checkpoint and metrics, or None.

    Returns:
        A :class:`DataFit`.
    """
    own = "fit_rnn"
    if not isinstance(data, NeuralData):
        raise ConfigError(f"The 'data' parameter of {own} must be a NeuralData. Got {type(data).__name__} instead.")
    mapping = check_choice(own, "mapping", mapping, ("linear", "identity"))
    readout = check_choice(own, "readout", readout, ("rates", "states"))
    if hidden_size is None:
        hidden_size = data.n_neurons
    hidden_size = check_int(own, "hidden_size", hidden_size, low=1)
    if mapping == "identity" and hidden_size != data.n_neurons:
        raise ConfigError(f"The 'hidden_size' parameter of {own} must equal the number of neurons ({data.n_neurons}) "
                          f"with mapping='identity' (every unit is a recorded neuron). Got {hidden_size} instead.")
    if rank is not None:
        rank = check_int(own, "rank", rank, low=1, high=hidden_size)
    zscore = (mapping == "linear") if zscore is None else check_bool(own, "zscore", zscore)
    tau = check_float(own, "tau", tau, low=0, low_inclusive=False)
    if data.dt > tau:
        raise ConfigError(f"The data's bins ({data.dt:g} ms) are longer than tau ({tau:g} ms); Euler steps of one bin "
                          f"would be unstable. Give a larger 'tau' or re-bin the data finer.")
    if test_data is not None:
        if not isinstance(test_data, NeuralData):
            raise ConfigError(f"The 'test_data' parameter of {own} must be a NeuralData or None. "
                              f"Got {type(test_data).__name__} instead.")
        if (test_data.n_neurons, test_data.n_inputs) != (data.n_neurons, data.n_inputs) or not math.isclose(test_data.dt, data.dt):
            raise ShapeError(f"The 'test_data' of {own} must have the neurons, inputs and bins of 'data' "
                             f"({data.n_neurons} neurons, {data.n_inputs} inputs, {data.dt:g} ms). Got {test_data!r}.")
    if final_learning_rate is not None:
        final_learning_rate = check_float(own, "final_learning_rate", final_learning_rate, low=0, low_inclusive=False)
    decay_at = check_float(own, "decay_at", decay_at, low=0, high=1)
    seed = check_int(own, "seed", seed, low=0)
    training = training or default_fit_training(seed=seed)
    if not isinstance(training, TrainingConfig):
        raise ConfigError(f"The 'training' parameter of {own} must be a TrainingConfig. Got {type(training).__name__}.")
    given = {"steps": None if steps is None else check_int(own, "steps", steps, low=1),
             "batch_size": None if batch_size is None else check_int(own, "batch_size", batch_size, low=1),
             "learning_rate": None if learning_rate is None else check_float(own, "learning_rate", learning_rate,
                                                                             low=0, low_inclusive=False)}
    training = dataclasses.replace(training, **{k: v for k, v in given.items() if v is not None})
    if zscore_on is not None and (not isinstance(zscore_on, NeuralData) or zscore_on.n_neurons != data.n_neurons):
        raise ConfigError(f"The 'zscore_on' parameter of {own} must be a NeuralData with the {data.n_neurons} "
                          f"neurons of 'data', or None. Got {zscore_on!r} instead.")
    data.check_varies(own, "data")
    if test_data is not None:
        test_data.check_varies(own, "test_data")
    norm = Normalisation.zscore(zscore_on or data) if zscore else Normalisation.identity(data.n_neurons)
    model = _build_model(data, rank=rank, hidden_size=hidden_size, mapping=mapping, readout=readout, tau=tau,
                         nonlinearity=nonlinearity, noise_std=noise_std, learn_initial_state=learn_initial_state,
                         seed=seed)
    task = DataTask(data, norm)
    meta = {"fit": {"rank": rank, "mapping": mapping, "normalisation": norm.to_dict(), "model_config": model.config()}}
    if final_learning_rate is not None and training.lr_schedule == "constant":
        # the step size drops for the last steps: a schedule of the one trainer, exact on resume
        training = dataclasses.replace(training, lr_schedule="step", final_learning_rate=final_learning_rate,
                                       lr_drop_at=decay_at)
    trainer = Trainer(model, task, training, run_dir=run_dir, progress=progress, checkpoint_metadata=meta,
                      run_config=False)  # the fit folder describes itself
    result = trainer.fit()
    fit = DataFit(model=model.cpu(), rank=rank, mapping=mapping, normalisation=norm, r2_train=float("nan"),
                  r2_test=None, training=result)
    fit.r2_train = fit.score(data)
    if test_data is not None:
        fit.r2_test = fit.score(test_data)
    return fit


@dataclass
class RankSelection:
    """What :func:`select_rank` returns: every score of every rank, and the chosen rank.

    Attributes:
        ranks: the ranks fitted, increasing.
        target: what was fitted, ``"single-trial"`` or ``"condition-average"``.
        conditions: the condition names grouping the trials into conditions (None if not given).
        r2_train: variance explained of the training target (trials or condition averages), per rank.
        r2_test: held-out variance explained of the target, per rank (what chooses the rank).
        r2_test_single_trial: held-out R^2 of the single trials, per rank.
        r2_test_condition_average: held-out R^2 of the predicted against the recorded condition
            averages (:func:`condition_average_r2`), per rank; None without ``conditions``.
        noise_ceiling: the split-half noise ceiling of both on the held-out trials
            (:class:`R2NoiseCeiling`); None without ``conditions`` or when a condition has fewer
            than 2 held-out trials.
        r2_test_se: standard error of each rank's held-out R^2 difference from the best rank (paired
            over held-out trials, or conditions; 0 for the best).
        svd_variance_captured: variance of the held-out target captured by the top-k principal axes of
            the training target (:func:`svd_variance_captured`): a reference for the dimensionality
            of the data, not a prediction.
        chosen_rank: the smallest rank whose held-out R^2 is within ``tolerance`` (plus one standard
            error if ``standard_error``) of the best.
        tolerance: that tolerance (absolute R^2).
        standard_error: whether the standard error was added to the tolerance.
        n_test_trials: held-out trials.
        fits: the :class:`DataFit` of each rank.
    """

    ranks: list[int]
    target: str
    conditions: tuple[str, ...] | None
    r2_train: list[float]
    r2_test: list[float]
    r2_test_single_trial: list[float]
    r2_test_condition_average: list[float] | None
    noise_ceiling: R2NoiseCeiling | None
    r2_test_se: list[float]
    svd_variance_captured: list[float]
    chosen_rank: int
    tolerance: float
    standard_error: bool
    n_test_trials: int
    fits: dict[int, DataFit] = field(default_factory=dict, repr=False)

    @property
    def best(self) -> DataFit:
        """The fit of the chosen rank."""
        return self.fits[self.chosen_rank]

    def table(self) -> str:
        """The scores of every rank, the noise ceiling and what the columns mean, as text."""
        averaged = self.r2_test_condition_average
        what = "single trials" if self.target == "single-trial" else "condition averages"
        grouped = f", conditions by {', '.join(self.conditions)}" if self.conditions else ""
        lines = [f"fit to {what}; scored on {self.n_test_trials} held-out trials{grouped}",
                 f"{'rank':>4}  {'R2 train':>8}  {'R2 test single-trial':>20}  {'R2 test cond-avg':>16}  "
                 f"{'SE vs best':>10}  {'SVD captured':>12}"]
        for i, k in enumerate(self.ranks):
            avg = "-" if averaged is None else f"{averaged[i]:.4f}"
            mark = "  <- chosen" if k == self.chosen_rank else ""
            lines.append(f"{k:>4}  {self.r2_train[i]:>8.4f}  {self.r2_test_single_trial[i]:>20.4f}  {avg:>16}  "
                         f"{self.r2_test_se[i]:>10.4f}  {self.svd_variance_captured[i]:>12.4f}{mark}")
        ceiling = self.noise_ceiling
        if ceiling is not None:
            i = self.ranks.index(self.chosen_rank)
            share = [ceiling.fraction(self.r2_test_single_trial[i], "single-trial"),
                     ceiling.fraction(averaged[i], "condition-average") if averaged is not None else None]
            st, ca = ("-" if f is None else f"{f:.0%}" for f in share)
            lines += [f"{'noise ceiling':<14}  {ceiling.single_trial:>20.4f}  {ceiling.condition_average:>16.4f}  "
                      f"(split-half, {ceiling.n_splits} splits of the held-out trials)",
                      f"{'of the ceiling':<14}  {st:>20}  {ca:>16}  (rank {self.chosen_rank}: the fraction of the "
                      f"explainable variance)"]
        elif self.conditions is None:
            lines.append("no conditions given: no condition-average R2 and no noise ceiling (name the conditions "
                         "that group the trials)")
        else:
            lines.append("no noise ceiling: a condition has fewer than 2 held-out trials (hold out more trials)")
        lines.append("R2 train: of the training target. SVD captured: variance of the held-out data held by the "
                     "top-k principal axes of the training data (no inputs, no dynamics: not a prediction).")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"ranks": list(self.ranks), "target": self.target,
                "conditions": None if self.conditions is None else list(self.conditions),
                "r2_train": list(self.r2_train), "r2_test": list(self.r2_test),
                "r2_test_single_trial": list(self.r2_test_single_trial),
                "r2_test_condition_average": None if self.r2_test_condition_average is None
                else list(self.r2_test_condition_average),
                "noise_ceiling": None if self.noise_ceiling is None else self.noise_ceiling.to_dict(),
                "r2_test_se": list(self.r2_test_se), "svd_variance_captured": list(self.svd_variance_captured),
                "chosen_rank": self.chosen_rank, "tolerance": self.tolerance, "standard_error": self.standard_error,
                "n_test_trials": self.n_test_trials}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RankSelection:
        """The selection of :meth:`to_dict` (e.g. a fit folder's ``summary.json``), without the fits."""
        names = {f.name for f in dataclasses.fields(cls)} - {"fits", "conditions", "noise_ceiling"}
        ceiling = d.get("noise_ceiling")
        return cls(**{k: d[k] for k in names}, conditions=None if d["conditions"] is None else tuple(d["conditions"]),
                   noise_ceiling=None if ceiling is None else R2NoiseCeiling.from_dict(ceiling))


def choose_rank(ranks: Sequence[int], r2_test: Sequence[float], tolerance: float,
                standard_errors: Sequence[float] | None = None) -> int:
    """The smallest rank whose held-out R^2 is at least ``max(r2_test) - tolerance - se``, ``se`` its
    standard error against the best rank (0 if not given)."""
    best = max(r2_test)
    se = standard_errors or [0.0] * len(ranks)
    return min(k for k, r, e in zip(ranks, r2_test, se) if r >= best - tolerance - e)


def _normalised(data: NeuralData, norm: Normalisation) -> NeuralData:
    return data._replace(activity=norm.apply(data.activity.double()))


def select_rank(
    data: NeuralData,
    ranks: Sequence[int] = (1, 2, 3, 4, 5),
    *,
    target: str = "single-trial",
    conditions: str | Sequence[str] | None = None,
    test_fraction: float = 0.2,
    stratify: str | Sequence[str] | None = None,
    tolerance: float = 0.005,
    standard_error: bool = False,
    split_seed: int | None = None,
    n_splits: int = 100,
    run_dir: str | Path | None = None,
    **fit_kwargs: Any,
) -> RankSelection:
    """Fit a low-rank network of each rank and choose the rank from held-out variance explained.

    The trials are split once (``data.split(test_fraction, seed=split_seed, stratify=stratify)``);
    each rank is fitted on the training trials with :func:`fit_rnn` and scored on the held-out ones.
    The chosen rank is the smallest whose held-out R^2 is within ``tolerance`` (absolute) of the
    best rank's: more rank must buy more than ``tolerance`` of held-out variance. With
    ``standard_error=True`` the margin also grows by the standard error of the difference (paired
    over held-out trials; the "one-standard-error rule").

    Every rank is scored on single trials and, given ``conditions``, on condition averages, with the
    split-half noise ceiling of both (:func:`r2_noise_ceiling`): on noisy data (spike counts) the
    single-trial R^2 is small however good the fit, and R^2 / ceiling is the fraction of the
    explainable variance captured.

    Args:
        data: all trials.
        ranks: the ranks to try (distinct positive integers).
        target: fit the ``"single-trial"`` activity, or the ``"condition-average"`` activity (the
            trials of each condition averaged, inputs too, as Valente et al. 2022 fit LINT): the
            training and the held-out trials are averaged separately, and the held-out R^2 of the
            condition averages chooses the rank.
        conditions: condition names grouping the trials into conditions (needed for the
            condition-average target and scores).
        test_fraction, split_seed: the held-out split; ``split_seed`` defaults to ``seed`` (0).
        stratify: condition name(s) held out in equal proportion; default ``conditions``.
        tolerance: absolute R^2 a larger rank must gain to be preferred.
        standard_error: add each rank's standard error to the tolerance.
        n_splits: random splits of the noise ceiling.
        run_dir: if given, rank K trains in ``run_dir/rank_K``.
        **fit_kwargs: passed to :func:`fit_rnn` (hidden_size, mapping, steps, seed, ...).

    Returns:
        A :class:`RankSelection`.
    """
    own = "select_rank"
    if isinstance(ranks, int) or not isinstance(ranks, Sequence) or len(ranks) == 0:
        raise ConfigError(f"The 'ranks' parameter of {own} must be a non-empty sequence of ranks. Got {ranks!r} instead.")
    if not isinstance(data, NeuralData):
        raise ConfigError(f"The 'data' parameter of {own} must be a NeuralData. Got {type(data).__name__} instead.")
    hidden_size = fit_kwargs.get("hidden_size")
    units = data.n_neurons if hidden_size is None else check_int(own, "hidden_size", hidden_size, low=1)
    ranks = sorted({check_int(own, "ranks", k, low=1, high=units) for k in ranks})  # all, before any training
    target = check_choice(own, "target", target, TARGETS)
    tolerance = check_float(own, "tolerance", tolerance, low=0)
    n_splits = check_int(own, "n_splits", n_splits, low=1)
    keys = None if conditions is None else ([conditions] if isinstance(conditions, str) else list(conditions))
    if keys is not None:
        data.condition_groups(keys, owner=own, argument="conditions")
    elif target == "condition-average":
        raise ConfigError(f"The 'conditions' parameter of {own} must name the conditions whose trials are averaged "
                          f"with target='condition-average' (e.g. conditions=['coherence']). Got None instead.")
    if {"rank", "test_data", "zscore_on"} & set(fit_kwargs):
        raise ConfigError(f"{own} sets 'rank', 'test_data' and 'zscore_on' itself; give 'ranks' and 'test_fraction' "
                          f"instead.")
    data.check_varies(own, "data")
    split_seed = fit_kwargs.get("seed", 0) if split_seed is None else split_seed
    train, test = data.split(test_fraction, seed=split_seed, stratify=keys if stratify is None else stratify)
    averaged = target == "condition-average"
    train_target = train.average_by(keys) if averaged else train
    fits: dict[int, DataFit] = {}
    for i, k in enumerate(ranks):
        sub = None if run_dir is None else Path(run_dir) / f"rank_{k}"
        _LOG.info("fitting rank %d (%d of %d)%s", k, i + 1, len(ranks), "" if sub is None else f" -> {sub}")
        fits[k] = fit_rnn(train_target, rank=k, run_dir=sub, zscore_on=train, **fit_kwargs)
    norm = fits[ranks[0]].normalisation  # the same for every rank: it depends on the training trials only
    test_n = _normalised(test, norm)
    test_target = test_n.average_by(keys) if averaged else test_n
    single, by_condition, residuals = [], [], []
    for k in ranks:
        pred = norm.apply(fits[k].predict(test))
        single.append(variance_explained(pred, test_n.activity, test_n.lengths))
        if keys is not None:
            by_condition.append(condition_average_r2(pred, test_n, keys))
        if averaged:
            pred = condition_average(pred, test.conditions, keys, test.lengths).averages
        residuals.append(_trial_residuals(pred, test_target.activity, test_target.lengths))
        fits[k].r2_test = by_condition[-1] if averaged else single[-1]
    r2_test = [float(fits[k].r2_test) for k in ranks]
    ss_tot = _ss_tot(test_target.activity, test_target.lengths)
    best = max(range(len(ranks)), key=lambda i: r2_test[i])
    n = test_target.n_trials
    se = [float((residuals[i] - residuals[best]).std() * math.sqrt(n) / ss_tot) if n > 1 and i != best else 0.0
          for i in range(len(ranks))]
    train_n = _normalised(train_target, norm)
    svd = [svd_variance_captured(train_n.activity, test_target.activity, min(k, data.n_neurons), train_n.lengths,
                                 test_target.lengths) for k in ranks]
    ceiling = None
    if keys is not None and int(torch.bincount(test.condition_groups(keys)).min()) >= 2:
        ceiling = r2_noise_ceiling(test_n, keys, n_splits=n_splits, seed=split_seed)
    return RankSelection(ranks=ranks, target=target, conditions=None if keys is None else tuple(keys),
                         r2_train=[float(fits[k].r2_train) for k in ranks], r2_test=r2_test,
                         r2_test_single_trial=single, r2_test_condition_average=by_condition if keys else None,
                         noise_ceiling=ceiling, r2_test_se=se, svd_variance_captured=svd,
                         chosen_rank=choose_rank(ranks, r2_test, tolerance, se if standard_error else None),
                         tolerance=tolerance, standard_error=standard_error, n_test_trials=test.n_trials, fits=fits)
