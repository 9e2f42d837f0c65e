"""How well a network's prediction matches recorded activity, and how well any prediction could.

- :func:`variance_explained`: R^2 of single trials (or of any (units, time, neurons) arrays).
- :func:`condition_average_r2`: R^2 of the predicted against the recorded condition averages, the
  score LINT-style fits are judged on (Valente, Pillow & Ostojic 2022).
- :func:`r2_noise_ceiling`: a split-half noise ceiling for both: the R^2 the true mean activity of
  each condition would reach, so a fit's R^2 reads as a fraction of the explainable variance.
- :func:`svd_variance_captured`: how much of the held-out variance the top principal axes of the
  training activity hold. It looks at the held-out activity itself, so it is a reference for the
  dimensionality of the data, not a prediction.

Why a ceiling: on spike counts most of the single-trial variance is spiking noise that nothing can
predict. With the trials of a condition sharing their expected activity ``mu``, a recorded average
of ``n`` trials is ``mu`` plus noise of variance ``sigma^2 / n``; even ``mu`` itself scores
``1 - sum(sigma^2 / n) / SS_tot`` against it, and ``1 - sum(n sigma^2) / SS_tot`` against the single
trials. The noise variance ``sigma^2`` of each condition, bin and neuron is estimated from two random
halves of its trials: ``E (mean_a - mean_b)^2 = sigma^2 (1/h_a + 1/h_b)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from .._validation import check_choice, check_int
from ..analysis.state_space import condition_average
from ..errors import ShapeError
from ._neural_data import NeuralData

__all__ = ["variance_explained", "condition_average_r2", "svd_variance_captured", "R2NoiseCeiling",
           "r2_noise_ceiling"]


def _valid_weights(target: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """(units, time, 1) weights, 1 on the valid bins."""
    B, T, _ = target.shape
    valid = torch.ones(B, T, dtype=torch.bool) if lengths is None else torch.arange(T) < lengths.cpu()[:, None]
    return valid[..., None].to(target.dtype).to(target.device)


def _ss_tot(target: torch.Tensor, lengths: torch.Tensor | None) -> float:
    """Sum of squares over the valid bins around each neuron's mean over them."""
    y = target.detach().double()
    w = _valid_weights(y, lengths)
    mean = (y * w).sum(dim=(0, 1)) / w.sum(dim=(0, 1)).clamp_min(1)
    return float((((y - mean) ** 2) * w).sum())


def _trial_residuals(prediction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Sum of squared residuals of each trial over its valid bins. Shape: returns (trials,)."""
    p, y = prediction.detach().double(), target.detach().double()
    return (((y - p) ** 2) * _valid_weights(y, lengths)).sum(dim=(1, 2))


def variance_explained(prediction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None = None) -> float:
    """R^2 = 1 - SS_res / SS_tot over the valid bins, pooled over neurons.

    ``SS_tot`` is taken around each neuron's own mean over the valid bins of these trials, so a
    constant prediction per neuron scores 0 (and a worse one less).

    Shape:
        - prediction, target: (trials, time, neurons); lengths: (trials,)
    """
    if prediction.shape != target.shape or target.ndim != 3:
        raise ShapeError(f"variance_explained needs prediction and target of the same shape (trials, time, neurons). "
                         f"Got {tuple(prediction.shape)} and {tuple(target.shape)} instead.")
    ss_tot = _ss_tot(target, lengths)
    ss_res = float(_trial_residuals(prediction, target, lengths).sum())
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else float("-inf")
    return 1.0 - ss_res / ss_tot


def _keys(conditions: str | Sequence[str]) -> list[str]:
    return [conditions] if isinstance(conditions, str) else list(conditions)


def condition_average_r2(prediction: torch.Tensor, data: NeuralData, conditions: str | Sequence[str]) -> float:
    """R^2 of the predicted condition averages against the recorded ones.

    The trials of ``data`` are grouped by the values of ``conditions``; the prediction of each trial
    and its recorded activity are averaged over the trials of its condition (each bin over the trials
    still running there), and :func:`variance_explained` compares the two sets of averages.

    Shape:
        - prediction: (trials, time, neurons), like ``data.activity``
    """
    keys = _keys(conditions)
    data.condition_groups(keys, owner="condition_average_r2", argument="conditions")
    if tuple(prediction.shape) != tuple(data.activity.shape):
        raise ShapeError(f"The 'prediction' parameter of condition_average_r2 must have the shape of the data's activity "
                         f"{tuple(data.activity.shape)} (trials, time, neurons). Got {tuple(prediction.shape)} instead.")
    recorded = data.average_by(keys)
    predicted = condition_average(prediction.detach().double(), data.conditions, keys, data.lengths).averages
    return variance_explained(predicted, recorded.activity.double(), recorded.lengths)


def svd_variance_captured(train: torch.Tensor, test: torch.Tensor, rank: int,
                          train_lengths: torch.Tensor | None = None, test_lengths: torch.Tensor | None = None) -> float:
    """Fraction of the variance of ``test`` held by the top ``rank`` principal axes of ``train``.

    ``test`` (neurons centred with the training mean) is projected on those axes and reconstructed;
    the score is the :func:`variance_explained` of that reconstruction. This is the linear, input-free
    reference of Valente et al. (2022): how much of the variance a ``rank``-dimensional subspace
    holds, without any dynamics. The reconstruction is made from the held-out activity itself, so
    the score is **not a prediction** and not comparable with a fit's R^2 as one: on noisy data it can
    exceed the R^2 of any model, because the projection keeps the part of the noise inside the subspace.

    Shape:
        - train: (trials, time, neurons); test: (trials', time, neurons)
    """
    N = train.shape[-1]
    rank = check_int("svd_variance_captured", "rank", rank, low=1, high=N)
    X = train.double().reshape(-1, N)
    if train_lengths is not None:
        X = train.double()[torch.arange(train.shape[1]) < train_lengths[:, None]]
    mean = X.mean(dim=0)
    _, _, Vh = torch.linalg.svd(X - mean, full_matrices=False)
    V = Vh[:rank].T
    Y = test.double()
    recon = (Y - mean) @ V @ V.T + mean
    return variance_explained(recon, Y, test_lengths)


# ---------------------------------------------------------------------------------------------- ceiling
@dataclass(frozen=True)
class R2NoiseCeiling:
    """Split-half noise ceiling of variance explained: the R^2 that the true mean activity of each
    condition would reach against these recordings (:func:`r2_noise_ceiling`).

    A fit's R^2 divided by the ceiling is the fraction of the explainable variance it captures.

    Attributes:
        conditions: the condition names that group the trials.
        n_trials, n_conditions: trials scored and conditions among them.
        n_splits: random splits into halves averaged.
        single_trial, condition_average: the ceiling of single-trial and of condition-average R^2
            (mean over the splits).
        single_trial_std, condition_average_std: their spread over the splits (not their error:
            the splits share the trials).
    """

    conditions: tuple[str, ...]
    n_trials: int
    n_conditions: int
    n_splits: int
    single_trial: float
    condition_average: float
    single_trial_std: float
    condition_average_std: float

    def fraction(self, r2: float, target: str) -> float | None:
        """``r2 / ceiling`` of ``target`` (``"single-trial"`` or ``"condition-average"``); None if the
        ceiling is not positive (nothing explainable)."""
        check_choice("R2NoiseCeiling.fraction", "target", target, ("single-trial", "condition-average"))
        ceiling = self.single_trial if target == "single-trial" else self.condition_average
        return r2 / ceiling if ceiling > 0 and math.isfinite(r2) else None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "conditions": list(self.conditions)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> R2NoiseCeiling:
        return cls(**{**d, "conditions": tuple(d["conditions"])})


def r2_noise_ceiling(data: NeuralData, conditions: str | Sequence[str], *, n_splits: int = 100,
                     seed: int = 0) -> R2NoiseCeiling:
    """Split-half noise ceiling of single-trial and condition-average R^2.

    For each split the trials of every condition are shuffled and cut in two halves; the squared
    difference of the two halves' means estimates the noise variance ``sigma^2`` of each condition,
    bin and neuron (``E (mean_a - mean_b)^2 = sigma^2 (1/h_a + 1/h_b)``). The ceiling is the R^2 of
    the true condition means: ``1 - sum(sigma^2 / n) / SS_tot`` against the recorded condition
    averages of ``n`` trials, ``1 - sum(n sigma^2) / SS_tot`` against the single trials (``SS_tot``
    as in :func:`variance_explained`). It assumes the trials of a condition share their expected
    activity (and their inputs): a model that knows more than the condition can pass it on single trials.

    Args:
        data: the recorded trials (for a fit: the held-out ones, normalised as its targets).
        conditions: the condition names that group the trials; every condition needs 2 trials.
        n_splits: random splits averaged.
        seed: seed of the splits.

    Returns:
        A :class:`R2NoiseCeiling`.
    """
    own = "r2_noise_ceiling"
    keys = _keys(conditions)
    groups = data.condition_groups(keys, owner=own, argument="conditions")
    n_splits = check_int(own, "n_splits", n_splits, low=1)
    seed = check_int(own, "seed", seed, low=0)
    G = int(groups.max()) + 1
    counts = torch.bincount(groups, minlength=G)
    if int(counts.min()) < 2:
        g = int(counts.argmin())
        first = int((groups == g).nonzero()[0, 0])
        which = ", ".join(f"{k}={data.conditions[k][first].tolist()}" for k in keys)
        raise ShapeError(f"{own} needs at least 2 trials of every condition to split them; the condition {which} "
                         f"has {int(counts[g])}.")
    y = data.activity.double()
    valid = data.valid_mask().double()  # (trials, T)
    recorded = data.average_by(keys)
    ss_tot_trials = _ss_tot(y, data.lengths)
    ss_tot_averages = _ss_tot(recorded.activity, recorded.lengths)
    member = torch.nn.functional.one_hot(groups, G).T.double()  # (G, trials)
    n = member @ valid  # (G, T): trials of each condition in each bin
    # every split at once: in each condition, the trials with the smallest random keys form the first half
    gen = torch.Generator().manual_seed(seed)
    draws = torch.rand(n_splits, data.n_trials, generator=gen, dtype=torch.float64)
    first = torch.zeros(n_splits, data.n_trials, dtype=torch.float64)
    for g in range(G):
        idx = (groups == g).nonzero()[:, 0]
        order = draws[:, idx].argsort(dim=1).argsort(dim=1)
        first[:, idx] = (order < len(idx) // 2).double()
    weighted = y * valid[..., None]
    present = (n > 0)[None, ..., None]
    noise_averages, noise_trials = [], []
    chunk = max(1, 2 ** 22 // (G * max(y.shape[1] * y.shape[2], data.n_trials)))  # a few million numbers a pass
    for part in first.split(chunk):
        means, counts = [], []
        for w in (part[:, None, :] * member[None], (1 - part)[:, None, :] * member[None]):  # (splits, G, trials)
            h = torch.einsum("sgb,bt->sgt", w, valid)
            means.append(torch.einsum("sgb,btn->sgtn", w, weighted) / h.clamp_min(1)[..., None])
            counts.append(h)
        both = ((counts[0] > 0) & (counts[1] > 0))[..., None]  # (splits, G, T, 1)
        var = (means[0] - means[1]) ** 2 / (1 / counts[0].clamp_min(1) + 1 / counts[1].clamp_min(1))[..., None]
        # bins where one half has no trial left (trials of unequal length): the neuron's mean estimate in that split
        fill = (var * both).sum(dim=(1, 2), keepdim=True) / both.sum(dim=(1, 2), keepdim=True).clamp_min(1)
        var = torch.where(both, var, fill)
        noise_averages.append((var / n.clamp_min(1)[None, ..., None] * present).sum(dim=(1, 2, 3)))
        noise_trials.append((var * n[None, ..., None] * present).sum(dim=(1, 2, 3)))
    noise_averages, noise_trials = torch.cat(noise_averages), torch.cat(noise_trials)
    averages = 1 - noise_averages / ss_tot_averages if ss_tot_averages > 0 else torch.full((n_splits,), math.nan)
    trials = 1 - noise_trials / ss_tot_trials if ss_tot_trials > 0 else torch.full((n_splits,), math.nan)
    spread = (lambda x: float(x.std())) if n_splits > 1 else (lambda x: 0.0)
    return R2NoiseCeiling(conditions=tuple(keys), n_trials=data.n_trials, n_conditions=G, n_splits=n_splits,
                          single_trial=float(trials.mean()), condition_average=float(averages.mean()),
                          single_trial_std=spread(trials), condition_average_std=spread(averages))
