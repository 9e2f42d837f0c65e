"""The Elman network in torch's own equations and parameter layout (``nn.RNN``): :class:`ElmanRNN`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._validation import check_choice
from ._nonlinearity import NONLINEARITIES, Nonlinearity
from ._torch_rnn import _row_scale, _TorchRNN

__all__ = ["ElmanRNN"]


class ElmanRNN(_TorchRNN):
    r"""An Elman network, torch's ``nn.RNN`` equations, in discrete time::

        h(t+1) = phi(W_ih u + b_ih + W_hh h(t) + b_hh),     outputs = head(h) (or h without a head)

    with ``phi`` tanh or relu. The state is ``h``: ``hidden_size == units == H``. The drive is
    ``W_ih u + b_ih``. Parameters: ``weight_ih`` (H, input_size), ``weight_hh`` (H, H), ``bias_ih``,
    ``bias_hh`` (H,), held by ``core`` (an ``nn.RNN``, batch first); :meth:`wrap` opens a user's
    ``nn.RNN`` or ``nn.RNNCell`` instead.

    Args:
        input_size: number of input channels (>= 1, as torch requires).
        hidden_size: H, the number of units.
        output_size: channels of a linear readout ``head = nn.Linear(H, output_size)``; None for no
            head: the outputs are ``h`` itself (output_size = H).
        nonlinearity: ``"tanh"`` or ``"relu"``.
        dt: ms per step (the task's clock).
        bias: whether the units have biases ``b_ih``, ``b_hh``.
        noise_std: std of the white noise added to ``h`` after every step.
        input_noise_std: std of the white noise added to every input at every step.
        learn_initial_state: make the initial state a trainable parameter (else zeros, fixed).
        seed: seed of the initialisation, torch's ``U(-1/sqrt(H), 1/sqrt(H))`` for every weight and
            bias (the head's too); None for fresh entropy. The global RNG is never used.
        device, dtype: where and in which precision the parameters live.

    Shape:
        - inputs: (batch, time, input_size); drive: (..., H)
        - states: (batch, time, H); outputs: (batch, time, output_size)

    Example:
        >>> model = ElmanRNN(2, 50, 1, nonlinearity="relu", seed=0)
        >>> outputs, states = model(torch.zeros(4, 30, 2))       # (4, 30, 1), (4, 30, 50)
    """

    layer = nn.RNN
    cell = nn.RNNCell

    def __init__(self, input_size: int, hidden_size: int, output_size: int | None, *, nonlinearity: str = "tanh",
                 dt: float = 20.0, bias: bool = True, noise_std: float = 0.0, input_noise_std: float = 0.0,
                 learn_initial_state: bool = False, seed: int | None = 0, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        # torch fixes an nn.RNN's nonlinearity when the layer is built, so it is known before the base builds it
        self._nonlinearity = check_choice("ElmanRNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, output_size, dt=dt, bias=bias, noise_std=noise_std,
                         input_noise_std=input_noise_std, learn_initial_state=learn_initial_state, seed=seed,
                         device=device, dtype=dtype)

    def _layer_options(self) -> dict[str, Any]:
        return {"nonlinearity": self._nonlinearity}

    @property
    def phi(self) -> Nonlinearity:
        """The nonlinearity, the core's own (``"tanh"`` or ``"relu"``), with its derivative."""
        return NONLINEARITIES[self.core.nonlinearity]

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """One step: the next ``h``. Shape: x (..., H), drive (..., H) -> (..., H)."""
        return self.phi(self._preactivation(x, drive))

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """``diag(phi'(a)) W_hh`` with ``a = drive + W_hh h + b_hh``. Shape: x (..., H) -> (..., H, H)."""
        return _row_scale(self.phi.derivative(self._preactivation(x, drive)), self.weight_hh)

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights excluded)."""
        return {**super().config(), "nonlinearity": self.core.nonlinearity}
