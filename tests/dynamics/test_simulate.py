"""The simulation loop: a hand-written Euler reference, and the intervention hook."""

from __future__ import annotations

import pytest
import torch

from rnnscope import RateRNN, simulate
from rnnscope.errors import ShapeError

f64 = torch.float64


def _model(**kw) -> RateRNN:
    model = RateRNN(2, 8, 1, tau=100.0, dt=20.0, g=1.3, seed=4, dtype=f64, **kw)
    with torch.no_grad():
        model.bias.copy_(torch.linspace(-0.2, 0.2, 8, dtype=f64))
    return model


def _inputs() -> torch.Tensor:
    return torch.randn(3, 12, 2, generator=torch.Generator().manual_seed(0), dtype=f64)


def test_simulate_matches_a_hand_written_euler_loop():
    model, u = _model(), _inputs()
    J, I, b = model.recurrent_matrix().detach(), model.input_weight.detach(), model.bias.detach()
    x, ref = torch.zeros(3, 8, dtype=f64), []
    for t in range(u.shape[1]):
        x = x + 0.2 * (-x + torch.tanh(x) @ J.T + u[:, t] @ I.T + b)
        ref.append(x)
    traj = simulate(model, u, noise=False)
    torch.testing.assert_close(traj.states, torch.stack(ref, 1), rtol=1e-12, atol=1e-14)


def test_intervention_none_and_identity_leave_the_trajectory_unchanged():
    model, u = _model(noise_std=0.1), _inputs()
    # an intervention runs the plain step-by-step loop: the reference the fused path equals to rounding
    base = simulate(model, u, generator=torch.Generator().manual_seed(1), fused=False)
    fused = simulate(model, u, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(fused.states, base.states)
    seen = []

    def identity(t: int, x: torch.Tensor) -> torch.Tensor:
        seen.append((t, x.clone()))
        return x

    same = simulate(model, u, generator=torch.Generator().manual_seed(1), intervention=identity)
    none = simulate(model, u, generator=torch.Generator().manual_seed(1), intervention=None, fused=False)
    assert torch.equal(same.states, base.states) and torch.equal(none.states, base.states)
    assert [t for t, _ in seen] == list(range(12))
    for t, x in seen:  # the hook sees the state after step t, noise included, before it is stored
        assert torch.equal(x, base.states[:, t])


def test_intervention_is_stored_and_the_next_step_starts_from_it():
    model, u = _model(), _inputs()
    reset = simulate(model, u, noise=False, intervention=lambda t, x: torch.zeros_like(x) if t == 3 else x)
    base = simulate(model, u, noise=False, fused=False)  # the loop an intervention runs
    assert torch.equal(reset.states[:, :3], base.states[:, :3])
    assert torch.equal(reset.states[:, 3], torch.zeros(3, 8, dtype=f64))
    restart = simulate(model, u[:, 4:], initial_state=torch.zeros(3, 8, dtype=f64), noise=False, fused=False)
    torch.testing.assert_close(reset.states[:, 4:], restart.states, rtol=0, atol=0)
    torch.testing.assert_close(reset.outputs, model.readout(reset.states), rtol=0, atol=0)


def test_intervention_acts_after_the_noise():
    model, u = _model(noise_std=0.5), _inputs()

    def hold(t: int, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[:, 0] = 0.25
        return x

    traj = simulate(model, u, generator=torch.Generator().manual_seed(2), intervention=hold)
    assert bool((traj.states[..., 0] == 0.25).all())


def test_gradients_flow_through_an_intervention():
    model, u = _model(), _inputs()
    traj = simulate(model, u, noise=False, intervention=lambda t, x: 0.5 * x)
    traj.outputs.sum().backward()
    assert model.input_weight.grad is not None and bool(model.input_weight.grad.abs().sum() > 0)


def test_intervention_must_return_the_state():
    model, u = _model(), _inputs()
    with pytest.raises(ShapeError, match=r"'intervention'.*\(3, 8\).*Got \(3, 7\) at step 0"):
        simulate(model, u, intervention=lambda t, x: x[:, :7])
    with pytest.raises(ShapeError, match="'intervention'.*Got NoneType"):
        simulate(model, u, intervention=lambda t, x: None)


def test_per_unit_process_noise_tensor_matches_the_float_and_can_spare_units():
    class PerUnit(RateRNN):
        """A RateRNN whose process noise is given per unit."""

        def __init__(self, std, **kw):
            super().__init__(2, 8, 1, tau=100.0, dt=20.0, g=1.3, seed=4, dtype=f64, **kw)
            self._std = std
            with torch.no_grad():
                self.bias.copy_(torch.linspace(-0.2, 0.2, 8, dtype=f64))  # as _model()

        @property
        def process_noise_std(self):
            return self._std

    u = _inputs()
    ref = simulate(_model(noise_std=0.1), u, generator=torch.Generator().manual_seed(2))
    s = _model(noise_std=0.1).process_noise_std
    same = simulate(PerUnit(torch.full((8,), s, dtype=f64)), u, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(same.states, ref.states, rtol=0, atol=0)
    # noise on the first four units only: the last four follow the noise-free Euler step exactly
    mask = torch.tensor([s] * 4 + [0.0] * 4, dtype=f64)
    model = PerUnit(mask)
    traj = simulate(model, u, generator=torch.Generator().manual_seed(2))
    x, x_next = traj.states[:, 3], traj.states[:, 4]
    step = x + model.dt * model.vector_field(x, u[:, 4])
    torch.testing.assert_close(x_next[:, 4:], step[:, 4:], rtol=1e-12, atol=1e-14)
    assert (x_next[:, :4] - step[:, :4]).abs().max() > 1e-3
    # an all-zero tensor is no noise; a tensor of the wrong shape is a clear error
    quiet = simulate(PerUnit(torch.zeros(8, dtype=f64)), u, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(quiet.states, simulate(_model(), u, noise=False).states, rtol=0, atol=0)
    with pytest.raises(ShapeError, match=r"process_noise_std of PerUnit must be a float or a tensor of shape \(8,\)"):
        simulate(PerUnit(torch.ones(3, dtype=f64)), u)
