"""Every analysis takes any model: the same calls on rate networks, GRUs, LSTMs, Elman networks and
wrapped torch modules, each checked against an answer that holds for every model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnscope import simulate, tasks
from rnnscope.analysis import (
    find_fixed_points,
    find_slow_points,
    flow_field,
    linearise,
    lyapunov_spectrum,
    perturbation_effect,
    silence,
)
from rnnscope.models import GRU, LSTM, ElmanRNN, RateRNN, from_torch

f64 = torch.float64


def _torch_gru():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return from_torch(nn.GRU(3, 10, batch_first=True), nn.Linear(10, 3), dt=10.0)


MODELS = {
    "rate": lambda: RateRNN(3, 10, 3, g=1.8, tau=100.0, dt=10.0, seed=0),
    "gru": lambda: GRU(3, 10, 3, dt=10.0, seed=0),
    "lstm": lambda: LSTM(3, 6, 3, dt=10.0, seed=0),
    "elman": lambda: ElmanRNN(3, 10, 3, dt=10.0, seed=0),
    "torch-gru": _torch_gru,
}


def _scaled_up(model):
    """A copy with larger recurrent weights, so that the dynamics has several fixed points."""
    m = model.for_analysis()
    with torch.no_grad():
        for p in m.parameter_groups()["recurrent"]:
            p.mul_(4.0)
    return m


@pytest.mark.parametrize("name", MODELS)
def test_fixed_points_are_roots_and_their_stability_matches_linearise(name):
    model = _scaled_up(MODELS[name]())
    cand = model.initial_state(64).to(f64) + torch.randn(64, model.hidden_size, generator=torch.Generator().manual_seed(0),
                                                         dtype=f64)
    fps = find_fixed_points(model, initial_states=cand, progress=False).fixed()
    assert len(fps) >= 1
    step = model.vector_field(fps.states)
    residual = step - fps.states if model.time == "discrete" else step
    q = 0.5 * residual.pow(2).sum(-1)
    assert (q <= 1e-12).all()  # the finder's tolerance (saturated gates make near-neutral points)
    assert torch.allclose(q, fps.q, rtol=1e-6, atol=1e-30)  # the q it reports is the true one
    lin = linearise(model, fps)
    key = lin.eigenvalues.abs() if model.time == "discrete" else lin.eigenvalues.real
    unstable = (key > (1 + 1e-8 if model.time == "discrete" else 1e-8 * lin.eigenvalues.abs().amax(-1, keepdim=True)))
    assert torch.equal(unstable.sum(-1), fps.n_unstable)


@pytest.mark.parametrize("name", MODELS)
def test_lyapunov_exponents_sum_to_the_mean_log_determinant(name):
    """The sum of all exponents is the time average of log|det| of the step's Jacobian (any model)."""
    model = MODELS[name]().for_analysis()
    N = model.hidden_size
    x0 = torch.randn(N, generator=torch.Generator().manual_seed(1), dtype=f64) * 0.3
    n_steps = 200
    spec = lyapunov_spectrum(model, n_steps=n_steps, transient_steps=0, basis_transient_steps=0, initial_state=x0,
                             progress=False)
    # the trajectory the spectrum was measured on, and log|det| of each step's Jacobian
    traj = simulate(model, torch.zeros(1, n_steps, model.input_size, dtype=f64), x0, noise=False)
    xs = torch.cat([x0[None], traj.states[0, :-1]])
    J = model.jacobian(xs)
    if model.time == "continuous":
        J = torch.eye(N, dtype=f64) + model.dt * J
    logdet = torch.linalg.slogdet(J).logabsdet.mean() / (model.dt if model.time == "continuous" else 1.0)
    assert float(spec.exponents.sum()) == pytest.approx(float(logdet), abs=1e-9)


@pytest.mark.parametrize("name", MODELS)
def test_flow_field_slow_points_and_perturbations_run_on_every_model(name):
    model = MODELS[name]()
    task = tasks.make("flipflop")
    batch = task.sample(8, seed=0)
    traj = simulate(model, batch.inputs.to(next(model.parameters()).dtype), noise=False)
    basis = torch.linalg.qr(torch.randn(model.hidden_size, 2, generator=torch.Generator().manual_seed(0),
                                        dtype=f64)).Q.T
    flow = flow_field(model, basis, states=traj.states, resolution=5)
    assert flow.U.shape == (5, 5) and torch.isfinite(flow.speed).all()
    slow = find_slow_points(model, None, traj.states, n_candidates=32)
    assert len(slow) >= 1 and torch.isfinite(slow.q).all()
    effect = perturbation_effect(model, task, silence(range(model.hidden_size)), n_trials=8)
    assert math.isfinite(effect.baseline_performance) and math.isfinite(effect.perturbed_performance)
    assert effect.divergence.shape == (batch.inputs.shape[1],) and float(effect.divergence.max()) > 0
