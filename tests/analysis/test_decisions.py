"""Decisions: threshold crossings, curves, the Weibull fit, and recovering Wong-Wang parameters."""

import math

import numpy as np
import pytest
import torch

from rnnscope import ConfigError, ShapeError
from rnnscope.analysis import DecisionCurves, fit_weibull, fit_wong_wang, psychometric, threshold_decisions
from rnnscope.models import WongWang


def test_threshold_decisions_first_crossing_after_onset():
    r = torch.zeros(4, 10, 2)
    r[0, 6:, 0] = 20.0  # choice 1 at step 6 -> t = 7 dt
    r[1, 3:, 1] = 15.0  # exactly at threshold: choice 2 at step 3
    r[2, 1, 0] = 30.0  # before onset: ignored; then nothing -> undecided
    r[3, 1, 0], r[3, 8, 1] = 30.0, 16.0  # pre-onset crossing ignored, choice 2 at step 8
    choices, rts = threshold_decisions(r, threshold=15.0, dt=0.5, onset=1.0)
    assert choices.tolist() == [1, 2, 0, 2]
    torch.testing.assert_close(rts[[0, 1, 3]], torch.tensor([3.5 - 1.0, 2.0 - 1.0, 4.5 - 1.0], dtype=torch.float64))
    assert math.isnan(rts[2].item())
    with pytest.raises(ShapeError, match="'rates' parameter of threshold_decisions"):
        threshold_decisions(torch.zeros(4, 10), dt=0.5)
    with pytest.raises(ConfigError, match="'dt'"):
        threshold_decisions(r, dt=0.0)


def test_decision_curves_statistics():
    choices = torch.tensor([[1, 2, 1, 0], [1, 1, 1, 1]])
    rts = torch.tensor([[100.0, 200.0, 300.0, math.nan], [50.0, 50.0, 70.0, 70.0]], dtype=torch.float64)
    dc = DecisionCurves(torch.tensor([0.0, 50.0], dtype=torch.float64), choices, rts)
    torch.testing.assert_close(dc.p_choice1, torch.tensor([2 / 3, 1.0], dtype=torch.float64))
    torch.testing.assert_close(dc.mean_rt, torch.tensor([200.0, 60.0], dtype=torch.float64))
    # sample std / sqrt(n): 100 / sqrt(3) and sqrt(400 / 3) / 2
    torch.testing.assert_close(dc.rt_se, torch.tensor([100.0 / math.sqrt(3), math.sqrt(400 / 3) / 2], dtype=torch.float64))
    torch.testing.assert_close(dc.fraction_decided, torch.tensor([0.75, 1.0], dtype=torch.float64))
    assert dc.summary()[1]["mean_rt_s"] == pytest.approx(0.06)
    with pytest.raises(ConfigError, match="NaN exactly where the choice is 0"):
        DecisionCurves(torch.zeros(1), torch.tensor([[1, 0]]), torch.tensor([[math.nan, 1.0]]))
    with pytest.raises(ConfigError, match="'choices' parameter of DecisionCurves must hold 1, 2"):
        DecisionCurves(torch.zeros(1), torch.tensor([[3]]), torch.tensor([[1.0]]))
    with pytest.raises(ShapeError, match="'choices' parameter of DecisionCurves"):
        DecisionCurves(torch.zeros(2), torch.tensor([[1]]), torch.tensor([[1.0]]))


def test_weibull_fit_recovers_its_parameters():
    rng = np.random.default_rng(0)
    alpha, beta, n = 8.0, 1.3, 2000
    c = np.array([0.0, 3.2, 6.4, 12.8, 25.6, 51.2])
    p = 1 - 0.5 * np.exp(-(c / alpha) ** beta)
    correct = rng.random((c.size, n)) < p[:, None]
    choices = torch.from_numpy(np.where(correct, 1, 2))
    rts = torch.full(choices.shape, 500.0, dtype=torch.float64)
    fit = fit_weibull(DecisionCurves(torch.from_numpy(c), choices, rts))
    assert abs(fit.alpha - alpha) < 3 * fit.alpha_se and abs(fit.beta - beta) < 3 * fit.beta_se
    assert fit.alpha_se < 0.1 * alpha and fit.beta_se < 0.1 * beta
    assert fit(fit.alpha) == pytest.approx(1 - 0.5 / math.e)


def test_psychometric_is_reproducible_and_ordered():
    model = WongWang(dt=1.0)
    a = psychometric(model, [0.0, 12.8, 51.2], 150, seed=3)
    b = psychometric(model, [0.0, 12.8, 51.2], 150, seed=3, chunk_size=100)  # chunking does not matter
    assert torch.equal(a.choices, b.choices)
    torch.testing.assert_close(a.reaction_times, b.reaction_times, equal_nan=True)
    assert a.p_choice1[2].item() == 1.0 and a.p_choice1[1].item() > 0.85
    rt = a.mean_rt
    assert rt[0] > rt[1] > rt[2]  # chronometric: faster at higher coherence
    assert 250.0 < rt[2].item() < 380.0  # reference 0.31 s at 51.2 %
    # negative coherence mirrors the choice
    neg = psychometric(model, [-51.2], 50, seed=3)
    assert (neg.choices == 2).all()
    with pytest.raises(ConfigError, match="'model' parameter of psychometric must be a WongWang"):
        psychometric("model", [0.0], 10)
    with pytest.raises(ConfigError, match="'coherences' parameter of psychometric"):
        psychometric(model, [200.0], 10)
    with pytest.raises(ConfigError, match="'n_trials'"):
        psychometric(model, [0.0], 0)


def test_fit_wong_wang_recovers_known_parameters():
    # data simulated at the paper's J_ext and J_E; fit from 15 % / 5 % off with other noise draws
    truth = WongWang(dt=1.0)
    data = psychometric(truth, [0.0, 6.4, 12.8, 25.6, 51.2], 400, seed=0)
    fit = fit_wong_wang(data, ("J_ext", "J_E"), initial={"J_ext": 1.15 * truth.J_ext, "J_E": 0.95 * truth.J_E},
                        seed=1)
    est = fit.as_dict()
    for name in ("J_ext", "J_E"):
        value, se = est[name]
        true = getattr(truth, name)
        assert abs(value - true) < 3 * se, (name, value, se, true)
        assert se < 0.05 * true  # the uncertainty is informative
    assert fit.n_moments == 10 and fit.chi2 < 30  # ~ chi^2 with 8 degrees of freedom
    assert fit.model.J_ext == pytest.approx(est["J_ext"][0])
    assert fit.covariance.shape == (2, 2) and np.all(np.linalg.eigvalsh(fit.covariance) > 0)


def test_fit_wong_wang_bad_arguments():
    data = DecisionCurves(torch.zeros(1, dtype=torch.float64), torch.tensor([[1]]), torch.tensor([[300.0]],
                          dtype=torch.float64))
    with pytest.raises(ConfigError, match="only their product is identifiable"):
        fit_wong_wang(data, ("J_ext", "mu0"))
    with pytest.raises(ConfigError, match="'params' parameter of fit_wong_wang must hold names from"):
        fit_wong_wang(data, ("tau",))
    with pytest.raises(ConfigError, match="'data' parameter of fit_wong_wang"):
        fit_wong_wang({"choices": []})
    with pytest.raises(ConfigError, match="'initial' parameter of fit_wong_wang"):
        fit_wong_wang(data, ("J_E",), initial={"J_ext": 1e-3})
    with pytest.raises(ConfigError, match="the data's time step"):
        fit_wong_wang(data, ("J_E",), model=WongWang(dt=1.0))
