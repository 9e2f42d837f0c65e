"""The model contract: a recurrent network is a vector field plus a readout.

A model defines ``flow(x, drive)`` (dx/dt for continuous time, the next state for discrete time),
``drive(u)`` (what the inputs feed the flow, computed once for a whole input sequence), the readout
and the initial state. It carries no simulation loop: :func:`rnnscope.dynamics.simulate` runs every
model, and every analysis (fixed points, Lyapunov spectra, flow fields, perturbations, mean-field
loadings) asks the model through this contract only -- never which class it is.

What an analysis may ask, each with a generic default that a model overrides to be fast (as a
diffrax term overrides ``vf_prod``):

========================================  =========================================================
``time``, ``dt``                          continuous time (Euler step ``dt`` ms) or discrete time
                                          (one step = ``dt`` ms of the task's clock)
:attr:`~AbstractRNN.time_constant`        tau in ms where one exists (rates per tau), else None
:meth:`~AbstractRNN.flow_jacobian`        d flow / dx; default: autograd through ``flow``
:meth:`~AbstractRNN.jacobian_product_fn`  ``A(x) Q`` for a block of tangent vectors; default
                                          ``flow_jacobian(x) @ Q``
:meth:`~AbstractRNN.low_rank_factors`     ``J = m n^T / N`` of a low-rank rate network; default None
:meth:`~AbstractRNN.for_analysis`         a detached float64 copy; default: ``deepcopy().double()``
:meth:`~AbstractRNN.at_input`             the field at one constant input (the drive computed once)
========================================  =========================================================

:func:`rnnscope.models.check_model` tests a model against this contract.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..dynamics import simulate
from ..errors import ConfigError
from ._nonlinearity import Nonlinearity

__all__ = ["AbstractRNN", "LowRankFactors", "FieldAtInput"]

#: ``jvp(x, Q, drive, *, scale=1.0, add=0.0, out=None) -> scale * A(x) @ Q + add * Q``
JacobianProduct = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class LowRankFactors:
    """The structure of a low-rank rate network, as analyses that use it need it.

    A model that returns these promises that its flow and readout are exactly::

        continuous:  dx/dt = (-x + J phi(x) + drive) / tau      discrete:  x(t+1) = J phi(x) + drive
        J = m n^T / N + bulk,   drive = input_weight u + bias,   z = output_weight r + output_bias

    with ``r = phi(x)`` (or ``x`` when ``readout_from_rates`` is False) and ``tau`` the model's
    :attr:`~AbstractRNN.time_constant`. :func:`~rnnscope.models.check_model` verifies the promise.

    Attributes:
        m, n: the connectivity loadings, (N, K).
        phi: the nonlinearity with its derivative.
        input_weight: (N, input_size); bias: (N,) or None.
        output_weight: (output_size, N); output_bias: (output_size,).
        readout_from_rates: whether the readout reads ``phi(x)`` (else ``x``).
        bulk: a fixed random part of J, (N, N), already scaled (``bulk_g * chi``), or None.
        bulk_g: the scale of the bulk (0 without one).
    """

    m: torch.Tensor
    n: torch.Tensor
    phi: Nonlinearity
    input_weight: torch.Tensor
    bias: torch.Tensor | None
    output_weight: torch.Tensor
    output_bias: torch.Tensor
    readout_from_rates: bool = True
    bulk: torch.Tensor | None = None
    bulk_g: float = 0.0

    @property
    def rank(self) -> int:
        return int(self.m.shape[1])

    @property
    def hidden_size(self) -> int:
        return int(self.m.shape[0])

    def connectivity(self) -> torch.Tensor:
        """J, materialised (N, N)."""
        J = self.m @ self.n.T / self.hidden_size
        return J if self.bulk is None else J + self.bulk


class AbstractRNN(nn.Module, abc.ABC):
    """A recurrent network ``x' = f(x, u)`` with readout ``z = h(x)``.

    Attributes every model sets: ``input_size``, ``hidden_size`` (the size of the state ``x``),
    ``output_size``, ``time`` (``"continuous"`` or ``"discrete"``) and ``dt`` (ms; the Euler step in
    continuous time, the duration of one step in discrete time).
    """

    input_size: int
    hidden_size: int
    output_size: int
    time: str
    dt: float

    #: The name a run configuration gives this kind of model (``model.kind`` in a run folder's
    #: ``config.yaml``), or None for a model that a run configuration cannot describe. A model with a
    #: kind describes its architecture with :meth:`config`.
    config_kind: ClassVar[str | None] = None

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights excluded): what a run
        folder records of the model. Default: refused, for a model that cannot describe itself so."""
        raise ConfigError(f"A {type(self).__name__} cannot describe its architecture as constructor arguments, "
                          f"so a run configuration cannot rebuild it.")

    # ------------------------------------------------------------------ what every model defines
    @abc.abstractmethod
    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        """What the inputs feed the flow, computed once for a whole input sequence.

        Opaque to the simulation loop and to the analyses: a rate network's drive is ``I u + b``
        (one value per unit), a GRU's the input part of its three gates (3 H values). Only
        :meth:`flow` and the Jacobian methods read it.

        Shape:
            - inputs: (..., input_size)
            - returns: (..., drive_size), the same leading axes
        """

    @abc.abstractmethod
    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """dx/dt (continuous time, per ms) or the next state (discrete time) given the drive.

        Shape:
            - x: (..., hidden_size); drive: (..., drive_size), the same leading axes
            - returns: (..., hidden_size)
        """

    @abc.abstractmethod
    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs for states ``x``. Shape: (..., hidden_size) -> (..., output_size)."""

    @abc.abstractmethod
    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The initial state for ``batch_size`` trials. Shape: (batch, hidden_size)."""

    @abc.abstractmethod
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable tensors by group (e.g. ``"input"``, ``"recurrent"``, ``"output"``).

        The trainer's weight regulariser acts on the ``"recurrent"`` group.
        """

    @property
    @abc.abstractmethod
    def process_noise_std(self) -> float | torch.Tensor:
        """Standard deviation of the white noise added to the state at each simulation step: one
        float for every state variable, or a tensor (hidden_size,) of one std per variable."""

    @property
    @abc.abstractmethod
    def input_noise_std(self) -> float:
        """Standard deviation of the white noise added to each input at each step."""

    # ------------------------------------------------------------------ defaults a model may override
    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """Firing rates of states ``x`` (what a rate regulariser penalises). Shape preserved."""
        return x

    def flow_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """``flow`` with the weights prepared once, for use inside a simulation loop.

        Models whose effective weights are a function of parameters (Dale's law, masks) compute
        them here once per simulation instead of once per step.
        """
        return self.flow

    def fused_simulate(self, inputs: torch.Tensor, initial_state: torch.Tensor,
                       noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """States and outputs of a whole simulation by a fused path, or None when the model has none.

        :func:`~rnnscope.dynamics.simulate` calls this first (unless asked not to, or given an
        intervention) and runs its plain step-by-step loop when it returns None. A fused path must
        equal that loop to float rounding, gradients included: ``states[:, t]`` is the deterministic
        step from ``states[:, t - 1]`` (``initial_state`` for t = 0) driven by ``inputs[:, t]``, plus
        ``noise[:, t]``, and ``outputs = readout(states)``.

        Shape:
            - inputs: (batch, time, input_size) (input noise already added);
              initial_state: (batch, hidden_size); noise: (batch, time, hidden_size) or None
            - returns: states (batch, time, hidden_size) and outputs (batch, time, output_size), or None
        """
        return None

    @property
    def time_constant(self) -> float | None:
        """The time constant tau in ms where the model has one (continuous-time rate networks), so
        that analyses can report rates per tau; None otherwise (rates are then per ms in continuous
        time and per step in discrete time)."""
        return None

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """The Jacobian of :meth:`flow` with respect to ``x`` at the given drive.

        The default differentiates ``flow`` by autograd (one reverse pass per state variable,
        vectorised over the leading axes); models with a closed form override it.

        Shape:
            - x: (..., hidden_size); drive: (..., drive_size), broadcastable to x's leading axes
            - returns: (..., hidden_size, hidden_size), entry [i, j] = d f_i / d x_j
        """
        return autograd_jacobian(self.flow, x, drive)

    def jacobian(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """The Jacobian of :meth:`vector_field` with respect to ``x`` at the given inputs.

        Shape:
            - x: (..., hidden_size); inputs: (..., input_size), broadcastable, or None (zero input)
            - returns: (..., hidden_size, hidden_size), entry [i, j] = d f_i / d x_j
        """
        if inputs is None:
            inputs = x.new_zeros(self.input_size)
        return self.flow_jacobian(x, self.drive(inputs.to(x.dtype)))

    def jacobian_product_fn(self) -> JacobianProduct:
        """A function ``jvp(x, Q, drive, *, scale=1.0, add=0.0, out=None)`` returning
        ``scale * A(x) @ Q + add * Q``, with ``A`` the Jacobian of the flow, and the weights prepared
        once (as :meth:`flow_fn`).

        This is how tangent vectors are advanced (Lyapunov spectra: the Euler map's tangent is
        ``Q + dt A Q``, i.e. ``scale=dt, add=1``). The default forms ``A`` by :meth:`flow_jacobian`;
        a model overrides it to skip the N x N matrix (a rate network's ``A Q`` is
        ``(J (phi'(x) * Q) - Q) / tau``). ``out`` may be ``Q`` itself (an in-place update).

        Shape:
            - x: (..., hidden_size); Q: (..., hidden_size, k); drive: (..., drive_size)
            - returns: (..., hidden_size, k)
        """

        def jvp(x: torch.Tensor, Q: torch.Tensor, drive: torch.Tensor, *, scale: float = 1.0,
                add: float = 0.0, out: torch.Tensor | None = None) -> torch.Tensor:
            result = scale * (self.flow_jacobian(x, drive) @ Q)
            if add != 0.0:
                result = result + add * Q
            if out is None:
                return result
            return out.copy_(result)

        return jvp

    def low_rank_factors(self) -> LowRankFactors | None:
        """The low-rank structure of the connectivity (:class:`LowRankFactors`), or None when the
        model is not a low-rank rate network. Analyses that exploit low rank (the exact latent
        fixed-point search, latent flow fields, mean-field loadings) run only where this is given."""
        return None

    def for_analysis(self, dtype: torch.dtype = torch.float64) -> AbstractRNN:
        """A detached copy in ``dtype`` (float64 by default) for analyses: no gradients, the same
        device, the original untouched."""
        work = copy.deepcopy(self).to(dtype)
        work.requires_grad_(False)
        return work

    # ------------------------------------------------------------------ derived, not overridden
    def vector_field(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """The deterministic vector field: dx/dt (continuous time) or the map x -> x(t+1) (discrete).

        Shape:
            - x: (..., hidden_size)
            - inputs: (..., input_size), broadcastable to x's leading axes, or None for zero input
            - returns: (..., hidden_size)
        """
        if inputs is None:
            inputs = x.new_zeros(*x.shape[:-1], self.input_size)
        drive = self.drive(inputs.to(x.dtype))
        return self.flow(x, drive.expand(*x.shape[:-1], drive.shape[-1]))

    def at_input(self, inputs: torch.Tensor | None = None) -> FieldAtInput:
        """The vector field at one constant input, with the drive computed once: what fixed points,
        flow fields and linearisations evaluate.

        Shape: inputs (input_size,) or None (zero input).
        """
        ref = next(iter(self.parameters()), None)
        if ref is None:
            ref = next(iter(self.buffers()), torch.empty(0))
        if inputs is None:
            inputs = torch.zeros(self.input_size, dtype=ref.dtype, device=ref.device)
        return FieldAtInput(self, inputs, self.drive(inputs), self.flow_fn())

    def forward(
        self,
        inputs: torch.Tensor,
        initial_state: torch.Tensor | None = None,
        *,
        noise: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Simulate the network on ``inputs``; returns ``(outputs, states)``.

        ``states[:, t]`` is the state after the step that received ``inputs[:, t]``, and
        ``outputs[:, t]`` its readout. Noise (if the model has any) is drawn from ``generator``
        unless ``noise=False``.

        Shape:
            - inputs: (batch, time, input_size)
            - initial_state: (batch, hidden_size) or (hidden_size,) or None (the model's own)
            - outputs: (batch, time, output_size); states: (batch, time, hidden_size)
        """
        traj = simulate(self, inputs, initial_state, noise=noise, generator=generator)
        return traj.outputs, traj.states


@dataclass(frozen=True)
class FieldAtInput:
    """A model's vector field at one constant input (:meth:`AbstractRNN.at_input`).

    ``flow`` is the vector field itself (dx/dt, or the map in discrete time); ``residual`` is what
    vanishes at a fixed point (the flow, or the map minus the identity) and ``residual_jacobian`` its
    Jacobian. Shapes: x (..., hidden_size); Jacobians (..., hidden_size, hidden_size).
    """

    model: AbstractRNN
    inputs: torch.Tensor
    drive: torch.Tensor
    prepared_flow: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # model.flow_fn(), weights prepared once

    def _drive(self, x: torch.Tensor) -> torch.Tensor:
        d = self.drive.to(x.dtype)
        return d.expand(*x.shape[:-1], d.shape[-1])

    def flow(self, x: torch.Tensor) -> torch.Tensor:
        return self.prepared_flow(x, self._drive(x))

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.flow_jacobian(x, self._drive(x))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.flow(x)
        return out - x if self.model.time == "discrete" else out

    def residual_jacobian(self, x: torch.Tensor) -> torch.Tensor:
        J = self.jacobian(x)
        if self.model.time == "discrete":
            J = J - torch.eye(J.shape[-1], dtype=J.dtype, device=J.device)
        return J


def autograd_jacobian(flow: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                      drive: torch.Tensor) -> torch.Tensor:
    """d flow(x, drive) / dx by reverse-mode autograd, vectorised over the leading axes of ``x``.

    Shape: x (..., N), drive (..., D) broadcastable -> (..., N, N).
    """
    lead = x.shape[:-1]
    N = x.shape[-1]
    d = drive.expand(*lead, drive.shape[-1]) if drive.ndim > 0 else drive
    flat_x = x.detach().reshape(-1, N)
    flat_d = d.detach().reshape(-1, d.shape[-1])
    with torch.enable_grad():
        xx = flat_x.clone().requires_grad_(True)
        out = flow(xx, flat_d)
        eye = torch.eye(N, dtype=out.dtype, device=out.device)
        try:  # one reverse pass per output coordinate, all of them at once
            (grads,) = torch.autograd.grad(out, xx, eye[:, None, :].expand(N, *out.shape), is_grads_batched=True)
        except RuntimeError:  # a flow with operations vmap cannot batch: one pass at a time
            grads = torch.stack([torch.autograd.grad(out, xx, eye[i].expand_as(out), retain_graph=i < N - 1)[0]
                                 for i in range(N)])
    return grads.permute(1, 0, 2).reshape(*lead, N, N)
