"""Dynamical systems and fitted rate networks (Doya 1993): precise references, then networks that
reproduce trajectories on held-out initial conditions and have the right attractors."""


import numpy as np
import pytest
import torch

from rnnscope.errors import ConfigError, ShapeError
from rnnscope.systems import (
    Bistable,
    Lorenz,
    TrajectoryTask,
    VanDerPol,
    fit_dynamical_system,
    limit_cycle_period,
)
from rnnscope.tasks import check_task

#: van der Pol period at mu = 1 (e.g. Strogatz; integrated here to 1e-8)
VDP_PERIOD = 6.6632868593


def test_van_der_pol_reference_period():
    assert VanDerPol().reference_period(cycles=5) == pytest.approx(VDP_PERIOD, abs=1e-6)
    # and from sampled trajectories via zero crossings
    tr = VanDerPol().trajectories([2.0, 0.0], 80.0, 0.01)
    period, spread, n = limit_cycle_period(tr.states[0, :, 0], 0.01, transient=2000)
    assert period == pytest.approx(VDP_PERIOD, rel=1e-5) and n >= 8 and spread < 1e-4


def test_trajectories_are_accurate_and_batched():
    # y' = -y exactly: y(t) = y0 exp(-t); x' = x - x^3: x(t) = x0 e^t / sqrt(1 + x0^2 (e^{2t} - 1))
    x0 = np.array([[0.3, 1.5], [-1.7, -0.4]])
    tr = Bistable().trajectories(x0, 3.0, 0.5)
    t = tr.times
    assert tr.states.shape == (2, 7, 2) and np.allclose(tr.states[:, 0], x0)
    exact_y = x0[:, 1:] * np.exp(-t)
    exact_x = x0[:, :1] * np.exp(t) / np.sqrt(1 + x0[:, :1] ** 2 * (np.exp(2 * t) - 1))
    np.testing.assert_allclose(tr.states[..., 1], exact_y, rtol=1e-8)
    np.testing.assert_allclose(tr.states[..., 0], exact_x, rtol=1e-8)
    # Lorenz: a stacked integration equals one at a time
    L = Lorenz()
    ics = L.sample_initial_conditions(3, seed=1)
    both = L.trajectories(ics, 1.0, 0.1).states
    one = L.trajectories(ics[1], 1.0, 0.1).states[0]
    np.testing.assert_allclose(both[1], one, rtol=1e-6, atol=1e-6)


def test_system_and_task_errors():
    with pytest.raises(ConfigError, match="'mu' parameter of VanDerPol must be a float > 0"):
        VanDerPol(mu=-1)
    with pytest.raises(ShapeError, match=r"must have shape \(batch, 2\)"):
        VanDerPol().trajectories(np.zeros((2, 3)), 1.0, 0.1)
    with pytest.raises(ConfigError, match="'system' parameter of TrajectoryTask must be a DynamicalSystem"):
        TrajectoryTask("vdp")
    with pytest.raises(ConfigError, match="'pulse_steps' parameter"):
        TrajectoryTask(Bistable(), pulse_steps=0, n_trajectories=4)
    with pytest.raises(ConfigError, match="must be a DynamicalSystem or SystemTrajectories"):
        fit_dynamical_system(np.zeros((3, 4, 2)))


def test_trajectory_task_contract_and_pulse():
    task = TrajectoryTask(Bistable(), dt=0.1, duration=2.0, n_trajectories=64)
    check_task(task)
    b = task.sample(5, seed=0)
    P = task.pulse_steps
    assert b.inputs.shape == (5, P - 1 + 21, 2)
    assert torch.all(b.inputs[:, P:] == 0) and torch.allclose(b.inputs[:, 0], b.targets[:, P - 1])
    assert torch.all(b.mask[:, : P - 1] == 0) and torch.all(b.mask[:, P - 1 :] == 1)
    perfect = task.evaluate(b.targets, b)
    assert perfect["performance"] == 1.0 and perfect["nmse"] == 0.0


def test_bistable_fit_has_two_attractors_and_a_saddle():
    fit = fit_dynamical_system(Bistable(), hidden_size=32, steps=500, duration=5.0, learning_rate=5e-3, seed=0)
    assert fit.heldout_nmse < 0.05
    fps, z = fit.fixed_points(n_trials=64, n_candidates=256)
    stable = z[(fps.n_unstable == 0).numpy()]
    saddles = z[(fps.n_unstable == 1).numpy()]
    assert len(stable) == 2 and len(saddles) == 1, fps
    np.testing.assert_allclose(np.sort(stable[:, 0]), [-1.0, 1.0], atol=0.15)
    np.testing.assert_allclose(stable[:, 1], 0.0, atol=0.1)
    np.testing.assert_allclose(saddles[0], [0.0, 0.0], atol=0.15)


def test_van_der_pol_fit_has_the_limit_cycle_period():
    fit = fit_dynamical_system(VanDerPol(), hidden_size=64, steps=600, seed=0)
    assert fit.heldout_nmse < 0.1
    period, spread, n = fit.period()
    assert n >= 5 and spread < 0.05 * period  # a sustained, regular oscillation
    assert period == pytest.approx(VDP_PERIOD, rel=0.05)


def test_fit_from_given_trajectories():
    tr = Bistable().trajectories(Bistable().sample_initial_conditions(80, seed=3), 3.0, 0.1)
    fit = fit_dynamical_system(tr, hidden_size=16, steps=60, n_heldout=16)
    assert fit.task.n_trajectories == 64 and fit.heldout.states.shape == (16, 31, 2)
    assert np.isfinite(fit.heldout_nmse)
    assert fit.predict(tr.states[:2, 0]).shape == (2, 31, 2)
    # the hidden state after the pulse and n steps reads out the last predicted point
    x = fit.state_after(tr.states[0, 0], 12)
    z = fit.task.unstandardise(fit.model.readout(x.to(torch.float32)).detach().double().numpy())
    np.testing.assert_allclose(z, fit.predict(tr.states[:1, 0], 12)[0, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_fits_over_seeds(seed):
    vdp = fit_dynamical_system(VanDerPol(), hidden_size=64, steps=1500, seed=seed)
    assert vdp.heldout_nmse < 0.03
    assert vdp.period()[0] == pytest.approx(VDP_PERIOD, rel=0.02)
    bi = fit_dynamical_system(Bistable(), hidden_size=32, steps=1500, duration=5.0, learning_rate=5e-3, seed=seed)
    fps, z = bi.fixed_points()
    stable = z[(fps.n_unstable == 0).numpy()]
    assert len(stable) == 2 and np.allclose(np.sort(stable[:, 0]), [-1, 1], atol=0.08)


@pytest.mark.slow
def test_lorenz_fit_predicts_short_term_and_is_chaotic():
    from rnnscope.analysis import largest_lyapunov_exponent
    from rnnscope.experiments.fit_systems import fit_lorenz

    first, fit = fit_lorenz(seed=0)
    assert first.heldout_nmse < 0.02  # 0.6 time units
    x = fit.state_after(fit.heldout.initial_conditions[0], 500)
    lle = largest_lyapunov_exponent(fit.model, n_steps=20_000, transient_steps=2_000, initial_state=x,
                                    progress=False).largest
    assert 0.3 < lle < 1.5  # Lorenz: 0.906 per time unit


def test_fit_continues_a_given_model_and_checks_it():
    from rnnscope.models import RateRNN

    first = fit_dynamical_system(Bistable(), hidden_size=8, steps=5, n_trajectories=16, duration=1.0)
    again = fit_dynamical_system(Bistable(), model=first.model, steps=5, n_trajectories=16, duration=2.0)
    assert again.model is first.model
    with pytest.raises(ConfigError, match="'model' parameter of fit_dynamical_system must be a RateRNN with "
                                          "input_size = output_size = 2 and dt = 0.1"):
        fit_dynamical_system(Bistable(), model=RateRNN(3, 8, 3, dt=0.1, tau=0.5), steps=1, n_trajectories=4)
