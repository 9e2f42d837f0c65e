"""Small continuous-time test systems written as models of the library's contract (the contract's
autograd Jacobian covers them): Stuart-Landau oscillators, van der Pol, a linear repeller."""

from __future__ import annotations

import torch
from torch import nn

from rnnscope.models import AbstractRNN


class ODEModel(AbstractRNN):
    """``dx/dt = field(x)`` per ms, no inputs, the state read out as it is."""

    def __init__(self, hidden_size: int, dt: float = 0.1) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = 0, hidden_size, hidden_size
        self.time, self.dt = "continuous", dt
        self.register_buffer("x0", torch.zeros(hidden_size, dtype=torch.float64))

    def field(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.new_zeros(*inputs.shape[:-1], 1)

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        return self.field(x)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return self.x0.expand(batch_size, -1).clone()

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {}

    @property
    def process_noise_std(self) -> float:
        return 0.0

    @property
    def input_noise_std(self) -> float:
        return 0.0


class StuartLandau(ODEModel):
    """``z' = (mu + i omega) z - |z|^2 z`` for each of ``len(omegas)`` uncoupled oscillators:
    ``r' = mu r - r^3``, ``theta' = omega``; the cycle has r = sqrt(mu), T = 2 pi / omega and
    multipliers {1, exp(-2 mu T)}."""

    def __init__(self, mu: float = 1.0, omegas=(1.0,), dt: float = 0.1) -> None:
        super().__init__(2 * len(omegas), dt)
        self.mu = mu
        self.register_buffer("omegas", torch.tensor(omegas, dtype=torch.float64))

    def field(self, x: torch.Tensor) -> torch.Tensor:
        z = x.reshape(*x.shape[:-1], -1, 2)
        a, b = z[..., 0], z[..., 1]
        r2 = a * a + b * b
        w = self.omegas.to(x.dtype)
        out = torch.stack([self.mu * a - w * b - r2 * a, w * a + self.mu * b - r2 * b], dim=-1)
        return out.reshape(x.shape)


class VanDerPol(ODEModel):
    """``x' = y``, ``y' = mu (1 - x^2) y - x``."""

    def __init__(self, mu: float = 1.0, dt: float = 0.1) -> None:
        super().__init__(2, dt)
        self.mu = mu

    def field(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x[..., 0], x[..., 1]
        return torch.stack([b, self.mu * (1 - a * a) * b - a], dim=-1)


class Linear(ODEModel):
    """``dx/dt = A x``."""

    def __init__(self, A: torch.Tensor, dt: float = 0.1) -> None:
        super().__init__(A.shape[0], dt)
        self.register_buffer("A", A.to(torch.float64))

    def field(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.A.to(x.dtype).T
