"""Fitting rate networks to activity: scores, the data task, and ground-truth recovery of a rank-2 teacher."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnscope.analysis import find_fixed_points, latent_flow_field
from rnnscope.cli import main
from rnnscope.data import (
    DataTask,
    NeuralData,
    choose_rank,
    default_fit_training,
    fit_rnn,
    select_rank,
    svd_variance_captured,
    variance_explained,
)
from rnnscope.dynamics import simulate
from rnnscope.runs import load_fit
from rnnscope.errors import ConfigError
from rnnscope.models import RateRNN
from rnnscope.tasks import make
from rnnscope.training import Trainer, TrainingConfig


def test_variance_explained_reference_values():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(5, 7, 3, generator=g)
    assert variance_explained(y, y) == 1.0
    mean = y.mean(dim=(0, 1)).expand_as(y)
    assert variance_explained(mean, y) == pytest.approx(0.0, abs=1e-12)
    noisy = y + 0.5 * torch.randn(y.shape, generator=g)
    ref = 1 - ((noisy - y) ** 2).sum() / ((y - mean) ** 2).sum()
    assert variance_explained(noisy, y) == pytest.approx(float(ref), rel=1e-6)
    # padding is ignored
    lengths = torch.tensor([7, 7, 4, 7, 2])
    bad = noisy.clone()
    bad[2, 4:] = 1e6
    valid = torch.arange(7) < lengths[:, None]
    m = y[valid].mean(0)
    ref = 1 - ((noisy - y)[valid] ** 2).sum() / ((y[valid] - m) ** 2).sum()
    assert variance_explained(bad, y, lengths) == pytest.approx(float(ref), rel=1e-6)


def test_svd_baseline_is_exact_for_low_rank_activity():
    g = torch.Generator().manual_seed(1)
    latent = torch.randn(20, 10, 2, generator=g, dtype=torch.float64)
    act = latent @ torch.randn(2, 6, generator=g, dtype=torch.float64) + 3.0
    assert svd_variance_captured(act[:15], act[15:], 2) == pytest.approx(1.0, abs=1e-10)
    assert svd_variance_captured(act[:15], act[15:], 1) < 0.99


def test_choose_rank_rule():
    assert choose_rank([1, 2, 3], [0.90, 0.95, 0.953], 0.005) == 2
    assert choose_rank([1, 2, 3], [0.90, 0.95, 0.953], 0.06) == 1
    assert choose_rank([1, 2, 3], [0.90, 0.95, 0.96], 0.005, [0.05, 0.009, 0.0]) == 2


def _small_data(seed=0, trials=16, neurons=6):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(trials, 25, 2))
    act = np.tanh(np.cumsum(u @ rng.normal(size=(2, neurons)), axis=1) * 0.1)
    return NeuralData.from_arrays(act, dt=20.0, inputs=u, conditions={"c": rng.integers(0, 2, trials)})


def test_data_task_batches_and_trainer():
    data = _small_data()
    task = DataTask(data)
    batch = task.sample(8, seed=3)
    assert batch.inputs.shape == (8, 25, 2) and batch.targets.shape == (8, 25, 6)
    assert task.sample(100, seed=0).batch_size == 16  # at most every trial once
    ev = task.evaluate(batch.targets.clone(), batch)
    assert ev["r2"] == 1.0 and ev["performance"] == 1.0
    # the one trainer runs unchanged on it
    model = RateRNN(2, 6, 6, rank=1, dt=20.0, seed=0)
    res = Trainer(model, task, TrainingConfig(steps=3, batch_size=4, eval_every=3, stop_at_criterion=False),
                  progress=False).fit()
    assert res.steps == 3 and "r2" in res.evaluation


def test_identity_mapping_compares_rates_directly():
    data = _small_data()
    fit = fit_rnn(data, rank=2, mapping="identity", training=default_fit_training(steps=5), progress=False)
    assert torch.equal(fit.model.output_weight.detach(), torch.eye(6))
    assert not fit.model.output_weight.requires_grad
    with torch.no_grad():
        rates = fit.model.rates(simulate(fit.model, data.inputs.float(), noise=False).states)
    assert torch.allclose(fit.predict(data).float(), rates, atol=1e-6)
    with pytest.raises(ConfigError, match="must equal the number of neurons"):
        fit_rnn(data, hidden_size=9, mapping="identity")
    with pytest.raises(ConfigError, match="mapping"):
        fit_rnn(data, mapping="cubic")
    with pytest.raises(ConfigError, match="longer than tau"):
        fit_rnn(data, tau=10.0)


def test_steps_is_spelled_as_on_the_command_line():
    data = _small_data()
    fit = fit_rnn(data, rank=1, steps=7, batch_size=5, learning_rate=3e-3, progress=False)
    assert fit.training.steps == 7
    sel = select_rank(data, [1], steps=4, progress=False)
    assert sel.best.training.steps == 4 and sel.target == "single-trial" and sel.noise_ceiling is None
    # without a TrainingConfig, the seed of the weights seeds the batches too
    a, b, c = (fit_rnn(data, rank=1, steps=7, batch_size=5, seed=1, training=t, progress=False).model.m.detach()
               for t in (None, default_fit_training(seed=1), default_fit_training(seed=0)))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ConfigError, match="'steps' parameter of fit_rnn must be an int >= 1. Got 0"):
        fit_rnn(data, steps=0)
    with pytest.raises(ConfigError, match="'learning_rate' parameter of fit_rnn"):
        fit_rnn(data, learning_rate=-1.0)
    with pytest.raises(ConfigError, match="'target' parameter of select_rank"):
        select_rank(data, [1], target="trial-average")
    with pytest.raises(ConfigError, match="'conditions' parameter of select_rank must name the conditions"):
        select_rank(data, [1], target="condition-average")


def test_fit_cli_writes_a_loadable_folder(tmp_path, capsys):
    data = _small_data(trials=20)
    path = data.save(tmp_path / "rec.npz")
    out = tmp_path / "fit"
    code = main(["fit", str(path), "--ranks", "1,2", "--steps", "6", "--hidden-size", "8", "--out", str(out),
                 "--stratify", "c", "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "chosen" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ranks"] == [1, 2] and summary["chosen_rank"] in (1, 2)
    for name in ("config.yaml", "checkpoint.safetensors", "metrics.jsonl", "rank_1/checkpoint.safetensors",
                 "figures/r2_vs_rank.png", "figures/predicted_vs_recorded.png"):
        assert (out / name).is_file(), name
    fit = load_fit(out)
    assert fit.rank == summary["chosen_rank"] and fit.model.hidden_size == 8
    assert fit.r2_test == pytest.approx(fit.score(data.split(0.2, seed=0, stratify="c")[1]), abs=1e-5)
    assert main(["fit", str(path), "--rank", "two", "--out", str(tmp_path / "x")]) == 2
    assert "--rank takes" in capsys.readouterr().err
    assert main(["fit", str(path), "--inputs", "c", "--out", str(tmp_path / "x")]) == 2
    assert "--inputs read an NWB file" in capsys.readouterr().err
    # the data's own conditions group the trials of a .npz
    out = tmp_path / "averages"
    assert main(["fit", str(path), "--rank", "1", "--steps", "3", "--target", "condition-average", "--conditions", "c",
                 "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "condition-average" and summary["conditions"] == ["c"]
    assert summary["r2_test"] == summary["r2_test_condition_average"]


# ---------------------------------------------------------------------------------- ground truth
def _teacher_data(hidden, steps, trials, noise=0.05, seed=1):
    """A rank-2 teacher trained on context_decision, its noise-free rates on fresh trials, a random
    60% of its units observed with Gaussian observation noise."""
    task = make("context_decision")
    teacher = RateRNN(5, hidden, 1, rank=2, seed=seed)
    res = Trainer(teacher, task, TrainingConfig(steps=steps, batch_size=32, learning_rate=1e-2, eval_every=100,
                                                eval_batch_size=128, stop_at_criterion=False), progress=False).fit()
    batch = task.sample(trials, seed=5)
    with torch.no_grad():
        rates = teacher.rates(simulate(teacher, batch.inputs, noise=False).states)
    g = torch.Generator().manual_seed(0)
    observed = torch.randperm(hidden, generator=g)[: int(0.6 * hidden)]
    clean = rates[..., observed]
    noisy = clean + noise * torch.randn(clean.shape, generator=g)
    return task, teacher, res, NeuralData.from_trajectory(batch, noisy), NeuralData.from_trajectory(batch, clean)


def _structure(model, task):
    """Number of fixed (not slow) points by number of unstable directions, per analysis input."""
    out = {}
    for name, u in task.analysis_inputs().items():
        fp = find_fixed_points(model, u, progress=False)
        fixed = fp.n_unstable[~fp.is_slow].tolist()
        out[name] = {k: fixed.count(k) for k in sorted(set(fixed))}
    return out


def _check_recovery(hidden, teacher_steps, trials, ranks, fit_steps, exact_rank, min_r2):
    task, teacher, res, data, clean = _teacher_data(hidden, teacher_steps, trials)
    assert res.performance > 0.9
    sel = select_rank(data, ranks, stratify="context", hidden_size=hidden,
                      training=default_fit_training(steps=fit_steps, batch_size=96), progress=False)
    if exact_rank:
        assert sel.chosen_rank == 2, sel.table()
    else:
        assert sel.chosen_rank <= 2, sel.table()
    best = sel.best
    assert best.r2_test > min_r2, sel.table()
    # against the noise-free activity of the held-out trials: the fit recovers the signal
    _, clean_test = clean.split(0.2, seed=0, stratify="context")
    assert best.score(clean_test) > 0.95
    # the truncated SVD of the same rank explains far less: the inputs and dynamics matter
    assert sel.svd_variance_captured[sel.ranks.index(sel.chosen_rank)] < best.r2_test - 0.2
    # same fixed-point structure per context as the teacher (rank-2 fit: the teacher's rank)
    assert _structure(sel.fits[2].model, task) == _structure(teacher, task)
    # the fitted rank-2 network has an exact latent flow field like the teacher
    for u in task.analysis_inputs().values():
        ff = latent_flow_field(sel.fits[2].model, u, extent=3.0, resolution=5)
        assert ff.labels == ("kappa1", "kappa2") and bool(torch.isfinite(torch.as_tensor(ff.speed)).all())
    return sel


def test_recovers_a_rank_two_teacher_short():
    _check_recovery(hidden=48, teacher_steps=400, trials=120, ranks=(1, 2), fit_steps=500, exact_rank=False, min_r2=0.9)


@pytest.mark.slow
def test_recovers_a_rank_two_teacher_full():
    _check_recovery(hidden=64, teacher_steps=1500, trials=200, ranks=(1, 2, 3, 4), fit_steps=1000, exact_rank=True,
                    min_r2=0.93)
