"""The model contract: a recurrent network is a vector field plus a readout.

A model defines ``flow(x, drive)`` (dx/dt for continuous time, the next state for discrete time),
``drive(u)`` (the external input to each unit, computed once for a whole input sequence), the readout
and the analytic Jacobian. It carries no simulation loop: :func:`rnnscope.dynamics.simulate` runs
every model, and every analysis (fixed points, Lyapunov spectra, flow fields) uses the same
``vector_field(x, u)``.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

__all__ = ["AbstractRNN"]


class AbstractRNN(nn.Module, abc.ABC):
    """A recurrent network ``x' = f(x, u)`` with readout ``z = h(x)``.

    Attributes every model sets: ``input_size``, ``hidden_size``, ``output_size``, ``time``
    (``"continuous"`` or ``"discrete"``) and ``dt`` (ms; the Euler step for continuous time).
    """

    input_size: int
    hidden_size: int
    output_size: int
    time: str
    dt: float

    @abc.abstractmethod
    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        """External drive to each unit for the given inputs.

        Shape:
            - inputs: (..., input_size)
            - returns: (..., hidden_size)
        """

    @abc.abstractmethod
    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """dx/dt (continuous time, per ms) or the next state (discrete time) given the drive.

        Shape:
            - x, drive: (..., hidden_size)
            - returns: (..., hidden_size)
        """

    @abc.abstractmethod
    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs for states ``x``. Shape: (..., hidden_size) -> (..., output_size)."""

    @abc.abstractmethod
    def jacobian(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Analytic Jacobian of :meth:`vector_field` with respect to ``x``.

        Shape:
            - x: (..., hidden_size); inputs: (..., input_size) or None (zero input)
            - returns: (..., hidden_size, hidden_size), entry [i, j] = d f_i / d x_j
        """

    @abc.abstractmethod
    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The initial state for ``batch_size`` trials. Shape: (batch, hidden_size)."""

    @abc.abstractmethod
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable tensors by group (e.g. ``"input"``, ``"recurrent"``, ``"output"``).

        The trainer's weight regulariser acts on the ``"recurrent"`` group.
        """

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """Firing rates of states ``x`` (what a rate regulariser penalises). Shape preserved."""
        return x

    @property
    @abc.abstractmethod
    def process_noise_std(self) -> float | torch.Tensor:
        """Standard deviation of the white noise added to the state at each simulation step: one
        float for every state variable, or a tensor (hidden_size,) of one std per variable."""

    @property
    @abc.abstractmethod
    def input_noise_std(self) -> float:
        """Standard deviation of the white noise added to each input at each step."""

    def flow_fn(self):
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

    def vector_field(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """The deterministic vector field: dx/dt (continuous time) or the map x -> x(t+1) (discrete).

        Shape:
            - x: (..., hidden_size)
            - inputs: (..., input_size), broadcastable to x's leading axes, or None for zero input
            - returns: (..., hidden_size)
        """
        if inputs is None:
            inputs = x.new_zeros(*x.shape[:-1], self.input_size)
        return self.flow(x, self.drive(inputs))

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
        from ..dynamics import simulate

        traj = simulate(self, inputs, initial_state, noise=noise, generator=generator)
        return traj.outputs, traj.states
