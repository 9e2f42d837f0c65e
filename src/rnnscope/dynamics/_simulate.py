"""The one simulation loop every model runs through.

This layer sits below :mod:`rnnscope.models`: it runs any object that follows the model contract
(:class:`~rnnscope.models.AbstractRNN`) and needs nothing else from it, so it names the class in
annotations only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError, ShapeError

if TYPE_CHECKING:  # the loop asks the model only through the contract; models import this module
    from ..models._base import AbstractRNN

__all__ = ["Trajectory", "simulate", "euler_step", "add_noise"]


@dataclass(frozen=True)
class Trajectory:
    """States and outputs of a simulation.

    Shape:
        - inputs: (batch, time, input_size), the inputs as given (without input noise)
        - states: (batch, time, hidden_size); ``states[:, t]`` follows the step driven by ``inputs[:, t]``
        - outputs: (batch, time, output_size), the readout of ``states``
        - initial_state: (batch, hidden_size)
    """

    inputs: torch.Tensor
    states: torch.Tensor
    outputs: torch.Tensor
    initial_state: torch.Tensor
    dt: float

    @property
    def times(self) -> torch.Tensor:
        """Time of each state in ms, shape (time,)."""
        return self.dt * torch.arange(1, self.states.shape[1] + 1, dtype=torch.float64)


def euler_step(model: AbstractRNN, flow, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    """One deterministic step: Euler ``x + dt f(x)`` in continuous time, the map in discrete time."""
    if model.time == "discrete":
        return flow(x, drive)
    return x + model.dt * flow(x, drive)


def _check_inputs(model: AbstractRNN, inputs: torch.Tensor) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise ShapeError(f"'inputs' must be a torch.Tensor of shape (batch, time, {model.input_size}). "
                         f"Got {type(inputs).__name__} instead.")
    if inputs.ndim != 3 or inputs.shape[2] != model.input_size:
        raise ShapeError(f"'inputs' must have shape (batch, time, {model.input_size}) (input_size="
                         f"{model.input_size}). Got {tuple(inputs.shape)} instead.")
    if inputs.is_complex():
        raise ConfigError(f"'inputs' must be real. Got a tensor of dtype {inputs.dtype} instead.")
    if not inputs.is_floating_point():  # integer or bool inputs (e.g. one-hot cues) in the model's precision
        inputs = inputs.to(model.initial_state(1).dtype)
    return inputs


def _initial(model: AbstractRNN, initial_state: torch.Tensor | None, batch: int, like: torch.Tensor) -> torch.Tensor:
    if initial_state is None:
        return model.initial_state(batch).to(like.dtype)
    x0 = torch.as_tensor(initial_state, dtype=like.dtype, device=like.device)
    if x0.shape == (model.hidden_size,):
        return x0.expand(batch, model.hidden_size)
    if x0.shape != (batch, model.hidden_size):
        raise ShapeError(f"'initial_state' must have shape ({batch}, {model.hidden_size}) or "
                         f"({model.hidden_size},). Got {tuple(x0.shape)} instead.")
    return x0


def _intervene(intervention: Callable[[int, torch.Tensor], torch.Tensor], t: int, x: torch.Tensor) -> torch.Tensor:
    out = intervention(t, x)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ShapeError(f"The 'intervention' parameter of simulate must return the state with shape "
                         f"{tuple(x.shape)} (batch, hidden_size). Got {got} at step {t} instead.")
    return out


def _process_noise(model: AbstractRNN, like: torch.Tensor) -> float | torch.Tensor:
    """The per-step process-noise std: a float for every state variable, or a tensor (hidden_size,)
    of one std per variable (e.g. noise entering only some of them); an all-zero tensor is 0.0."""
    sig = model.process_noise_std
    if not isinstance(sig, torch.Tensor):
        return sig
    if tuple(sig.shape) != (model.hidden_size,):
        raise ShapeError(f"The process_noise_std of {type(model).__name__} must be a float or a tensor of shape "
                         f"({model.hidden_size},) (hidden_size). Got shape {tuple(sig.shape)} instead.")
    if not bool((sig != 0).any()):
        return 0.0
    return sig.detach().to(like.device, like.dtype)


def add_noise(model: AbstractRNN, inputs: torch.Tensor,
              generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The noisy inputs and the process noise :func:`simulate` uses, drawn from ``generator`` in its
    order (the input noise first, then the process noise; neither when the model has none).

    Shape:
        - inputs: (batch, time, input_size)
        - returns: inputs plus input noise, same shape; process noise (batch, time, hidden_size) or None
    """
    B, T, _ = inputs.shape
    sig_rec = _process_noise(model, inputs)
    u = inputs
    if model.input_noise_std > 0:
        u = u + model.input_noise_std * torch.randn(u.shape, generator=generator).to(u.device, u.dtype)
    if not isinstance(sig_rec, torch.Tensor) and sig_rec == 0:
        return u, None
    # sig_rec: a float, or one std per state variable (hidden_size,)
    return u, sig_rec * torch.randn((B, T, model.hidden_size), generator=generator).to(u.device, u.dtype)


def simulate(
    model: AbstractRNN,
    inputs: torch.Tensor,
    initial_state: torch.Tensor | None = None,
    *,
    noise: bool = True,
    generator: torch.Generator | None = None,
    intervention: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
    fused: bool = True,
) -> Trajectory:
    """Run ``model`` on ``inputs``.

    The drive of all time steps is computed in one batched product; the loop then applies the
    model's flow with the integrator step and adds process noise (drawn from ``generator``, on the
    CPU, so results do not depend on the device). The model's ``process_noise_std`` is the std of
    that noise per step: one float for every state variable, or a tensor of shape (hidden_size,)
    with one std per variable (zeros where no noise enters). For the same ``generator`` both forms
    draw the same standard normals, so a tensor filled with ``s`` equals the float ``s``.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        inputs: (batch, time, input_size).
        initial_state: (batch, hidden_size), (hidden_size,) or None for the model's own.
        noise: False switches process and input noise off.
        generator: source of the noise; None uses fresh entropy.
        intervention: ``intervention(t, x) -> x``, applied to the state (batch, hidden_size) after
            step ``t`` (0-based, noise included) and before it is stored, so the next step starts
            from the intervened state (see :mod:`rnnscope.analysis.perturbation`: silence, clamp,
            pulse). None leaves the loop untouched.
        fused: use the model's fused path when it has one (:meth:`AbstractRNN.fused_simulate`; a
            :class:`~rnnscope.models.RateRNN` computes all steps in one autograd node with a
            hand-written backward); False, or an intervention, runs the plain step-by-step loop,
            the reference it equals to float rounding.

    Returns:
        A :class:`Trajectory`.
    """
    inputs = _check_inputs(model, inputs)
    B, T, _ = inputs.shape
    x = _initial(model, initial_state, B, inputs)
    x_init = x
    u, xi = add_noise(model, inputs, generator) if noise else (inputs, None)
    has_noise = xi is not None
    if fused and intervention is None:
        out = model.fused_simulate(u, x, xi)
        if out is not None:
            return Trajectory(inputs=inputs, states=out[0], outputs=out[1], initial_state=x_init, dt=model.dt)
    drive = model.drive(u)
    flow = model.flow_fn()
    states = []
    for t in range(T):
        x = euler_step(model, flow, x, drive[:, t])
        if has_noise:
            x = x + xi[:, t]
        if intervention is not None:
            x = _intervene(intervention, t, x)
        states.append(x)
    S = torch.stack(states, dim=1) if states else x.new_zeros(B, 0, model.hidden_size)
    return Trajectory(inputs=inputs, states=S, outputs=model.readout(S), initial_state=x_init, dt=model.dt)
