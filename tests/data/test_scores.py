"""Scores of a fit: condition-average R^2 and the split-half noise ceiling against analytic answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnscope.data import (
    NeuralData,
    R2NoiseCeiling,
    condition_average_r2,
    r2_noise_ceiling,
    variance_explained,
)
from rnnscope.errors import ConfigError, ShapeError


def _gaussian_trials(seed=0, sizes=(5, 6, 7), T=8, N=4, noise=1.0):
    """Trials of len(sizes) conditions: a mean per condition, bin and neuron plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    cond = np.repeat(np.arange(len(sizes)), sizes)
    mu = rng.normal(size=(len(sizes), T, N))
    y = mu[cond] + noise * rng.normal(size=(len(cond), T, N))
    return NeuralData.from_arrays(y, dt=10.0, conditions={"c": cond}), mu, cond


def test_condition_average_r2_compares_the_averages():
    data, mu, cond = _gaussian_trials()
    assert condition_average_r2(data.activity, data, "c") == 1.0
    avg = torch.stack([data.activity[torch.as_tensor(cond == g)].mean(0) for g in range(3)]).double()
    prediction = torch.as_tensor(mu[cond])
    assert condition_average_r2(prediction, data, ["c"]) == pytest.approx(
        variance_explained(torch.as_tensor(mu), avg), rel=1e-12)
    with pytest.raises(ShapeError, match="'prediction'"):
        condition_average_r2(prediction[:, :-1], data, "c")
    with pytest.raises(ConfigError, match="'conditions' parameter of condition_average_r2 .* Got 'context'"):
        condition_average_r2(prediction, data, "context")


def test_the_split_half_ceiling_converges_to_the_sample_variance_estimate():
    # over every split of n trials into halves of h and n - h, the mean of (m_a - m_b)^2 is s^2 (1/h + 1/(n-h)),
    # s^2 the unbiased sample variance: many splits give the noise of each average, s^2 / n, and of each trial, s^2
    data, _, cond = _gaussian_trials(sizes=(5, 6, 7))
    y = data.activity.double()
    s2 = torch.stack([y[torch.as_tensor(cond == g)].var(dim=0) for g in range(3)])  # (conditions, T, N)
    n = torch.tensor([5.0, 6.0, 7.0])[:, None, None]
    avg = torch.stack([y[torch.as_tensor(cond == g)].mean(0) for g in range(3)])
    ss_tot = lambda x: float(((x - x.mean(dim=(0, 1))) ** 2).sum())  # noqa: E731
    expected_trials = 1 - float((n * s2).sum()) / ss_tot(y)
    expected_averages = 1 - float((s2 / n).sum()) / ss_tot(avg)
    ceiling = r2_noise_ceiling(data, "c", n_splits=3000, seed=1)
    assert ceiling.single_trial == pytest.approx(expected_trials, abs=0.01)
    assert ceiling.condition_average == pytest.approx(expected_averages, abs=0.01)
    assert ceiling.n_splits == 3000 and ceiling.single_trial_std > 0
    assert (ceiling.n_trials, ceiling.n_conditions, ceiling.conditions) == (18, 3, ("c",))


def test_the_ceiling_is_unbiased_for_poisson_counts_of_unequal_length():
    # the R^2 of the true rates, averaged over recordings, against the ceiling estimated from each recording
    rng = np.random.default_rng(0)
    truth, estimate = [], []
    for rep in range(12):
        cond = np.repeat(np.arange(4), 6)
        rate = np.exp(0.5 * rng.normal(size=(4, 12, 6)))[cond]
        lengths = rng.integers(8, 13, size=len(cond))
        data = NeuralData.from_arrays(rng.poisson(rate).astype(float), dt=10.0, conditions={"c": cond}, lengths=lengths)
        expected = torch.as_tensor(rate)
        truth.append((variance_explained(expected, data.activity.double(), data.lengths),
                      condition_average_r2(expected, data, "c")))
        c = r2_noise_ceiling(data, "c", n_splits=50, seed=rep)
        estimate.append((c.single_trial, c.condition_average))
    truth, estimate = np.mean(truth, axis=0), np.mean(estimate, axis=0)
    assert estimate[0] == pytest.approx(truth[0], abs=0.02)
    assert estimate[1] == pytest.approx(truth[1], abs=0.03)


def test_ceiling_needs_two_trials_per_condition_and_round_trips():
    data, _, _ = _gaussian_trials(sizes=(1, 4))
    with pytest.raises(ShapeError, match="at least 2 trials of every condition.*c=0.*has 1"):
        r2_noise_ceiling(data, "c")
    with pytest.raises(ConfigError, match="'n_splits' parameter of r2_noise_ceiling"):
        r2_noise_ceiling(data, "c", n_splits=0)
    ceiling = r2_noise_ceiling(_gaussian_trials()[0], "c", n_splits=5)
    assert R2NoiseCeiling.from_dict(ceiling.to_dict()) == ceiling
    assert ceiling.fraction(ceiling.condition_average / 2, "condition-average") == pytest.approx(0.5)
    nothing = R2NoiseCeiling(("c",), 10, 2, n_splits=2, single_trial=-0.05, condition_average=0.1,
                             single_trial_std=0.05, condition_average_std=0.1)
    assert nothing.fraction(0.05, "single-trial") is None
