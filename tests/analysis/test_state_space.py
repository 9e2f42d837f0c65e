"""Tests of the state-space analyses: condition averages, PCA and regression axes (Mante et al. 2013).

Planted-structure tests build activity from known directions and check that the estimators find
them; a trained context_decision network checks that the choice axis separates the two choices.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnscope import RateRNN, Trainer, TrainingConfig, simulate, tasks
from rnnscope.analysis import PCA, RegressionAxes, condition_average, gaussian_smooth
from rnnscope.errors import NotFittedError
from rnnscope.errors import ConfigError, ShapeError

f64 = torch.float64


def _orthonormal(n_rows: int, size: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(size, n_rows, generator=torch.Generator().manual_seed(seed), dtype=f64))
    return q.T.contiguous()


def _auc(score: torch.Tensor, label: torch.Tensor) -> float:
    pos, neg = score[label > 0], score[label < 0]
    greater = (pos[:, None] > neg[None, :]).double().mean()
    ties = (pos[:, None] == neg[None, :]).double().mean()
    return float(greater + 0.5 * ties)


# ---------------------------------------------------------------------------------------------- PCA
def _planted_low_rank(B=200, T=25, N=20, noise=0.05, seed=0):
    """States = offset + z @ W + noise with latent standard deviations 3, 2, 1 along orthonormal W."""
    g = torch.Generator().manual_seed(seed)
    W = _orthonormal(3, N, seed)
    z = torch.randn(B, T, 3, generator=g, dtype=f64) * torch.tensor([3.0, 2.0, 1.0], dtype=f64)
    offset = torch.linspace(-1, 1, N, dtype=f64)
    states = offset + z @ W + noise * torch.randn(B, T, N, generator=g, dtype=f64)
    return states, W, noise


def test_pca_recovers_planted_subspace_and_variance_ratios():
    states, W, noise = _planted_low_rank()
    N = states.shape[-1]
    pca = PCA(n_components=3).fit(states)
    V = pca.components_
    assert V.shape == (3, N) and V.dtype == f64
    assert torch.allclose(V @ V.T, torch.eye(3, dtype=f64), atol=1e-12)
    # the planted subspace: projectors agree
    assert torch.linalg.matrix_norm(V.T @ V - W.T @ W, ord=2) < 0.02
    # each component is the planted direction of the same rank (variances 9, 4, 1 are well separated)
    assert (V @ W.T).abs().diagonal().min() > 0.99
    # variance ratios: planted values, and exactly the eigenvalues of the sample covariance
    planted = torch.tensor([9.0, 4.0, 1.0], dtype=f64) / (14.0 + N * noise**2)
    assert torch.allclose(pca.explained_variance_ratio_, planted, rtol=0.08)
    rows = states.reshape(-1, N).numpy()
    eig = np.linalg.eigvalsh(np.cov(rows, rowvar=False))[::-1]
    assert np.allclose(pca.explained_variance_.numpy(), eig[:3], rtol=1e-10)
    assert np.allclose(pca.explained_variance_ratio_.numpy(), eig[:3] / eig.sum(), rtol=1e-10)
    assert torch.allclose(pca.mean_, states.reshape(-1, N).mean(0), atol=1e-12)
    # transform keeps the leading axes; inverse_transform rebuilds the states up to the noise
    proj = pca.transform(states)
    assert proj.shape == (200, 25, 3) and proj.dtype == f64
    assert pca.transform(states.float()).dtype == torch.float32
    residual = pca.inverse_transform(proj) - states
    assert residual.pow(2).mean().sqrt() < 1.5 * noise
    # the signs are deterministic: largest-magnitude entry positive
    assert bool((V[torch.arange(3), V.abs().argmax(1)] > 0).all())


def test_pca_masks_padded_steps():
    states, _, _ = _planted_low_rank(B=30, T=12, N=8, seed=1)
    lengths = torch.randint(3, 13, (30,), generator=torch.Generator().manual_seed(2))
    padded = states.clone()
    for i, L in enumerate(lengths.tolist()):
        padded[i, L:] = 1e6
    pca = PCA(n_components=4).fit(padded, lengths=lengths)
    valid_rows = torch.cat([states[i, :L] for i, L in enumerate(lengths.tolist())])
    ref = PCA(n_components=4).fit(valid_rows)
    assert pca.n_samples_ == int(lengths.sum())
    assert torch.allclose(pca.components_, ref.components_, atol=1e-10)
    assert torch.allclose(pca.explained_variance_, ref.explained_variance_, rtol=1e-10)


def test_pca_defaults_and_uncentred():
    states, _, _ = _planted_low_rank(B=10, T=5, N=6, seed=3)
    pca = PCA().fit(states.reshape(-1, 6))
    assert pca.components_.shape == (6, 6)
    assert torch.allclose(pca.explained_variance_ratio_.sum(), torch.tensor(1.0, dtype=f64), atol=1e-12)
    shifted = states + 50.0 * torch.ones(6, dtype=f64) / 6**0.5
    raw = PCA(n_components=1, centre=False).fit(shifted)
    assert torch.equal(raw.mean_, torch.zeros(6, dtype=f64))
    assert abs(float(raw.components_[0] @ torch.ones(6, dtype=f64) / 6**0.5)) > 0.99


def test_pca_errors():
    with pytest.raises(ConfigError, match=r"^The 'n_components' parameter of PCA must be an int >= 1\. Got 0 instead\.$"):
        PCA(n_components=0)
    with pytest.raises(ConfigError, match="'centre' parameter of PCA must be a bool"):
        PCA(centre=1)
    with pytest.raises(ConfigError, match=r"must be an int <= 5"):
        PCA(n_components=6).fit(torch.randn(10, 5))
    with pytest.raises(NotFittedError, match=r"This PCA is not fitted yet; call PCA\.fit"):
        PCA(2).transform(torch.randn(3, 5))
    pca = PCA(2).fit(torch.randn(10, 5))
    with pytest.raises(ShapeError, match=r"\(\.\.\., 5\)"):
        pca.transform(torch.randn(3, 4))
    with pytest.raises(ShapeError, match="'states' parameter of PCA.fit"):
        PCA(2).fit(torch.randn(5))
    with pytest.raises(ShapeError, match="'lengths' parameter of PCA.fit"):
        PCA(2).fit(torch.randn(4, 6, 3), lengths=torch.tensor([6, 6, 7, 1]))


# ---------------------------------------------------------------------------------------------- averages
def test_condition_average_respects_padding_and_holds_last_value():
    g = torch.Generator().manual_seed(0)
    B, T, N = 7, 5, 3
    states = torch.randn(B, T, N, generator=g)
    a = torch.tensor([1, 0, 1, 0, 1, 2, 2])
    b = torch.tensor([0.5, 0.5, -0.5, 0.5, 0.5, 0.5, 0.5], dtype=f64)
    lengths = torch.tensor([5, 2, 3, 1, 4, 2, 3])
    padded = states.clone()
    for i, L in enumerate(lengths.tolist()):
        padded[i, L:] = float("nan")  # padding must never be read
    averages, table = condition_average(padded, {"a": a, "b": b, "other": torch.zeros(B)}, ["a", "b"], lengths)
    # conditions in lexicographic order of (a, b)
    assert table["a"].tolist() == [0, 1, 1, 2] and table["a"].dtype == a.dtype
    assert table["b"].tolist() == [0.5, -0.5, 0.5, 0.5]
    assert averages.shape == (4, T, N) and averages.dtype == states.dtype
    assert not bool(torch.isnan(averages).any())
    for c in range(4):
        members = [i for i in range(B) if a[i] == table["a"][c] and b[i] == table["b"][c]]
        last = None
        for t in range(T):
            running = [i for i in members if t < lengths[i]]
            if running:
                last = torch.stack([states[i, t] for i in running]).mean(0)
            assert torch.allclose(averages[c, t], last, atol=1e-6), (c, t)


def test_condition_average_columns_and_grand_average():
    B, T, N = 8, 4, 2
    states = torch.arange(B * T * N, dtype=f64).reshape(B, T, N)
    final_state = torch.tensor([[1, -1], [1, 1], [-1, 1], [1, -1], [1, 1], [-1, -1], [-1, 1], [1, 1]], dtype=f64)
    averages, table = condition_average(states, {"final_state": final_state}, ["final_state[1]"])
    assert table["final_state[1]"].tolist() == [-1.0, 1.0]
    assert torch.allclose(averages[0], states[final_state[:, 1] < 0].mean(0))
    averages, table = condition_average(states, {"final_state": final_state}, ["final_state"])
    assert table["final_state"].shape == (4, 2) and averages.shape == (4, T, N)
    averages, table = condition_average(states, {"final_state": final_state}, [])
    assert averages.shape == (1, T, N) and table == {}
    assert torch.allclose(averages[0], states.mean(0))
    with pytest.raises(ConfigError, match=r"Unknown condition 'choice' given to condition_average; the conditions are 'final_state'"):
        condition_average(states, {"final_state": final_state}, ["choice"])
    with pytest.raises(ConfigError, match=r"name one of them, e.g. 'final_state\[0\]'"):
        RegressionAxes(["final_state"], n_pcs=None).fit(states, {"final_state": final_state}, 10.0)
    with pytest.raises(ConfigError, match="has 2 column"):
        condition_average(states, {"final_state": final_state}, ["final_state[2]"])
    with pytest.raises(ConfigError, match="sequence of condition names"):
        condition_average(states, {"final_state": final_state}, "final_state")


def test_gaussian_smooth():
    B, T, N = 3, 40, 2
    lengths = torch.tensor([40, 25, 10])
    const = torch.full((B, T, N), 2.5, dtype=f64)
    out = gaussian_smooth(const, 40.0, 10.0, lengths)
    assert torch.allclose(out, const)  # renormalised at edges and padding: constants stay constant
    x = torch.randn(B, T, N, generator=torch.Generator().manual_seed(0), dtype=f64)
    assert torch.equal(gaussian_smooth(x, 0.0, 10.0), x)
    sm = gaussian_smooth(x, 30.0, 10.0)
    # interior against a direct convolution with the truncated (3 sigma) kernel
    k = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)
    ref = np.convolve(x[0, :, 0].numpy(), k / k.sum(), mode="valid")
    assert np.allclose(sm[0, 9:-9, 0].numpy(), ref, atol=1e-12)
    # padded steps untouched
    x[1, 25:] = 7.0
    assert torch.equal(gaussian_smooth(x, 30.0, 10.0, lengths)[1, 25:], x[1, 25:])


# ---------------------------------------------------------------------------------------------- regression axes
def _planted_task(U, *, B=400, T=30, noise=0.5, unit_noise=None, seed=0):
    """Activity = 2 choice ramp(t) u_c + 0.04 motion u_m + 0.03 colour u_k + context ramp(t) u_x + noise.

    The variables are drawn independently; context is a long tensor in {0, 1}.
    """
    g = torch.Generator().manual_seed(seed)
    N = U.shape[1]
    levels = torch.tensor([-50.0, -20.0, -5.0, 5.0, 20.0, 50.0], dtype=f64)
    choice = torch.where(torch.rand(B, generator=g) < 0.5, -1.0, 1.0).to(f64)
    motion = levels[torch.randint(6, (B,), generator=g)]
    colour = levels[torch.randint(6, (B,), generator=g)]
    context = torch.randint(2, (B,), generator=g)
    ramp = torch.linspace(0, 1, T, dtype=f64)[None, :, None]
    one = torch.ones(1, T, 1, dtype=f64)
    sd = noise if unit_noise is None else unit_noise
    x = (2.0 * choice[:, None, None] * ramp * U[0] + 0.04 * motion[:, None, None] * one * U[1]
         + 0.03 * colour[:, None, None] * one * U[2] + (2.0 * context - 1)[:, None, None] * ramp * U[3]
         + torch.linspace(-3, 3, N, dtype=f64) + sd * torch.randn(B, T, N, generator=g, dtype=f64))
    conditions = {"choice": choice, "coherence_motion": motion, "coherence_colour": colour, "context": context}
    return x, conditions


def test_regression_axes_recover_planted_orthogonal_directions():
    U = _orthonormal(4, 40, seed=1)
    x, cond = _planted_task(U)
    axes = RegressionAxes(n_pcs=8, zscore=False).fit(x, cond, dt=10.0)
    assert axes.variables_ == ("choice", "coherence_motion", "coherence_colour", "context")
    assert axes.axes_.shape == (4, 40) and axes.beta_.shape == (4, 30, 40) and axes.raw_axes_.shape == (4, 40)
    assert torch.allclose(axes.axes_ @ axes.axes_.T, torch.eye(4, dtype=f64), atol=1e-12)
    cos = (axes.axes_ @ U.T).diagonal()
    assert cos.min() > 0.95  # the planted directions, with the sign of the variable
    # the choice and context vectors are taken where they are largest: the end of the ramp
    assert axes.axis_steps_[0] == 29 and axes.axis_steps_[3] == 29
    # without smoothing and z-scoring, the coefficients are in activity per standard deviation of the
    # variable: 2 for choice (+-1) at the end of the ramp, 0.04 * std(motion) for motion
    plain = RegressionAxes(n_pcs=None, smoothing_ms=0.0, zscore=False).fit(x, cond, dt=10.0)
    assert abs(float(plain.beta_[0, -1] @ U[0]) - 2.0) < 0.1
    motion_std = float(cond["coherence_motion"].std(unbiased=False))
    assert abs(float(plain.beta_[1].mean(0) @ U[1]) / (0.04 * motion_std) - 1) < 0.05
    # projections keep leading axes and separate the choices
    proj = axes.transform(x[:, -1])
    assert proj.shape == (400, 4)
    assert bool(((proj[:, 0] > 0) == (cond["choice"] > 0)).all())
    # a window before the ramp ends moves the choice vector's step, and 'mean' also recovers the axes
    early = RegressionAxes(n_pcs=8, zscore=False, time_window=(0.0, 100.0)).fit(x, cond, dt=10.0)
    assert early.axis_steps_[0] == 9  # step 9 ends at 100 ms
    mean = RegressionAxes(n_pcs=8, zscore=False, reduce="mean").fit(x, cond, dt=10.0)
    assert (mean.axes_ @ U.T).diagonal().min() > 0.95 and bool((mean.axis_steps_ == -1).all())
    assert 0 < float(axes.explained_variance_ratio_.sum()) <= 1


def test_regression_axes_orthogonalise_in_order_and_zscore():
    # non-orthogonal planted directions, units with very different noise levels: in z-scored units
    # the planted directions are U / scale, and the axes are their QR orthogonalisation in order
    N = 30
    Q = _orthonormal(4, N, seed=2)
    U = torch.stack([Q[0], (Q[0] + Q[1]) / 2**0.5, (Q[2] - 0.5 * Q[1]) / 1.25**0.5, Q[3]])
    unit_noise = torch.linspace(0.2, 1.0, N, dtype=f64)
    x, cond = _planted_task(U, B=600, unit_noise=unit_noise, seed=3)
    axes = RegressionAxes(n_pcs=10).fit(x, cond, dt=10.0)
    planted_z = U / axes.unit_scale_
    q, r = torch.linalg.qr(planted_z.T)
    expected = (q * torch.sign(torch.diagonal(r))).T
    assert (axes.axes_ @ expected.T).diagonal().min() > 0.95
    # the first axis is the choice vector itself; swapping the order makes motion the first axis
    assert (axes.axes_[0] @ torch.nn.functional.normalize(axes.raw_axes_[0], dim=0)) > 1 - 1e-12
    swapped = RegressionAxes(("coherence_motion", "choice", "coherence_colour", "context"), n_pcs=10).fit(x, cond, 10.0)
    m = torch.nn.functional.normalize(planted_z[1], dim=0)
    assert swapped.axes_[0] @ m > 0.95 and axes.axes_[1] @ m < 0.9
    # z-scoring: unit means and scales are the per-unit statistics of the smoothed activity
    assert axes.unit_scale_.shape == (N,) and bool((axes.unit_scale_ > 0).all())
    assert torch.allclose(axes.transform(x).mean((0, 1)), torch.zeros(4, dtype=f64), atol=0.2)


def test_regression_axes_categorical_coding_and_columns():
    # a two-valued integer variable is coded -1/+1: any two labels give the same axes; a column of a
    # multi-column condition ("final_state[j]", as in the flip-flop task) is a variable like any other
    U = _orthonormal(4, 24, seed=4)
    x, cond = _planted_task(U, B=300, seed=5)
    base = RegressionAxes(n_pcs=6).fit(x, cond, dt=10.0)
    relabelled = dict(cond, context=torch.where(cond["context"] == 1, 7, 3))
    assert torch.allclose(RegressionAxes(n_pcs=6).fit(x, relabelled, dt=10.0).axes_, base.axes_, atol=1e-10)
    stacked = {"final_state": torch.stack([cond["choice"], cond["coherence_motion"] / 50], dim=1),
               "context": cond["context"]}
    cols = RegressionAxes(("final_state[0]", "final_state[1]"), n_pcs=6).fit(x, stacked, dt=10.0)
    assert torch.allclose(cols.axes_, RegressionAxes(("choice", "coherence_motion"), n_pcs=6).fit(x, cond, 10.0).axes_,
                          atol=1e-10)
    no_denoise = RegressionAxes(n_pcs=None, smoothing_ms=0.0).fit(x, cond, dt=10.0)
    assert torch.equal(no_denoise.denoise_, torch.eye(24, dtype=f64)) and no_denoise.pca_ is None


def test_regression_axes_padding():
    U = _orthonormal(4, 20, seed=6)
    x, cond = _planted_task(U, B=300, seed=7)
    lengths = torch.randint(20, 31, (300,), generator=torch.Generator().manual_seed(8))
    padded = x.clone()
    for i, L in enumerate(lengths.tolist()):
        padded[i, L:] = float("nan")
    axes = RegressionAxes(n_pcs=6, time_window=(0.0, 200.0)).fit(padded, cond, 10.0, lengths)
    assert not bool(torch.isnan(axes.axes_).any())
    assert ((axes.axes_ @ torch.nn.functional.normalize(U / axes.unit_scale_, dim=1).T).diagonal()).min() > 0.9


def test_regression_axes_errors():
    own = "RegressionAxes"
    with pytest.raises(ConfigError, match=rf"^The 'n_pcs' parameter of {own} must be an int >= 4\. Got 2 instead\.$"):
        RegressionAxes(n_pcs=2)
    with pytest.raises(ConfigError, match="'reduce' parameter of RegressionAxes must be one of 'max_norm', 'mean'"):
        RegressionAxes(reduce="median")
    with pytest.raises(ConfigError, match="'time_window' parameter"):
        RegressionAxes(time_window=(500.0, 100.0))
    with pytest.raises(ConfigError, match="'smoothing_ms' parameter of RegressionAxes must be a float >= 0"):
        RegressionAxes(smoothing_ms=-1.0)
    with pytest.raises(ConfigError, match="'variables' parameter"):
        RegressionAxes("choice")
    with pytest.raises(ConfigError, match="'variables' parameter"):
        RegressionAxes(("choice", "choice"))
    with pytest.raises(NotFittedError, match="This RegressionAxes is not fitted yet"):
        RegressionAxes().transform(torch.zeros(3))
    U = _orthonormal(4, 16, seed=0)
    x, cond = _planted_task(U, B=60, T=10)
    with pytest.raises(ConfigError, match="Unknown condition 'colour'"):
        RegressionAxes(("choice", "colour"), n_pcs=None).fit(x, cond, 10.0)
    with pytest.raises(ConfigError, match="takes a single value"):
        RegressionAxes(("choice", "flat"), n_pcs=None).fit(x, dict(cond, flat=torch.ones(60)), 10.0)
    with pytest.raises(ConfigError, match="must contain at least one step"):
        RegressionAxes(n_pcs=None, time_window=(500.0, 600.0)).fit(x, cond, 10.0)
    with pytest.raises(ConfigError, match=r"'n_pcs' parameter of RegressionAxes must be an int <= 16"):
        RegressionAxes(n_pcs=20).fit(x, cond, 10.0)
    with pytest.raises(ConfigError, match=r"variables 'choice', 'copy' .* linearly dependent"):
        RegressionAxes(("choice", "copy"), n_pcs=None).fit(x, dict(cond, copy=3 * cond["choice"] + 1), 10.0)
    with pytest.raises(ShapeError, match="'states' parameter of RegressionAxes.fit"):
        RegressionAxes().fit(x[0], cond, 10.0)


# ---------------------------------------------------------------------------------------------- trained network
@pytest.fixture(scope="module")
def trained_context_network():
    task = tasks.make("context_decision", stimulus=400.0)
    model = RateRNN(task.input_size, 64, task.output_size, dt=task.dt, seed=0)
    config = TrainingConfig(learning_rate=1e-2, steps=200, batch_size=32, eval_every=200, checkpoint_every=10_000)
    Trainer(model, task, config, progress=False).fit()
    return task, model


def test_choice_axis_separates_choices_in_trained_network(trained_context_network):
    task, model = trained_context_network
    fit_batch, test_batch = task.sample(256, seed=1), task.sample(256, seed=2)
    with torch.no_grad():
        fit_states = simulate(model, fit_batch.inputs, noise=False).states
        test_states = simulate(model, test_batch.inputs, noise=False).states
    axes = RegressionAxes(task.analysis_variables).fit(fit_states, fit_batch.conditions, fit_batch.dt, fit_batch.lengths)
    assert axes.variables_ == ("choice", "coherence_motion", "coherence_colour", "context")
    end = test_batch.periods["stimulus"][:, 1] - 1
    proj = axes.transform(test_states[torch.arange(256), end])
    choice = test_batch.conditions["choice"]
    assert _auc(proj[:, 0], choice) > 0.9
    assert float((torch.sign(proj[:, 0]) == choice).float().mean()) > 0.9
    # the context axis separates the contexts; the motion axis tracks motion coherence in both contexts
    context = test_batch.conditions["context"] * 2 - 1
    assert _auc(proj[:, 3], context) > 0.9
    for c in (0, 1):
        sel = test_batch.conditions["context"] == c
        r = torch.corrcoef(torch.stack([proj[sel, 1].double(), test_batch.conditions["coherence_motion"][sel]]))[0, 1]
        assert r > 0.5
    # condition-averaged trajectories project cleanly: choice +1 conditions end above choice -1 ones
    averages, table = condition_average(test_states, test_batch.conditions, ["choice", "context"], test_batch.lengths)
    ends = axes.transform(averages[:, int(end[0])])
    assert bool((torch.sign(ends[:, 0]) == table["choice"]).all())
