"""Gated recurrent networks in torch's own equations and parameter layout: :class:`GRU` and :class:`LSTM`.

Both are discrete-time models of the library's contract (:class:`~rnnscope.models.AbstractRNN`): the
drive is the input part of the gates, ``W_ih u + b_ih``; the flow is one step of torch's cell; the
Jacobian of that step is given in closed form, so fixed points, linearisations and Lyapunov spectra
cost no autograd. The weights live in a torch module (``model.core``: an ``nn.GRU`` / ``nn.LSTM``
with ``batch_first=True`` for a model built here, or the user's own module, shared, for one opened
with :meth:`GRU.wrap` or :func:`~rnnscope.models.torch_modules.from_torch`), so the same class serves
a network trained by this library and one trained in plain PyTorch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._torch_rnn import _row_scale, _TorchRNN

__all__ = ["GRU", "LSTM"]


class GRU(_TorchRNN):
    r"""A gated recurrent unit network, torch's ``nn.GRU`` equations, in discrete time.

    With gates in torch's order r, z, n::

        r = sigmoid(W_ir u + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz u + b_iz + W_hz h + b_hz)
        n = tanh(W_in u + b_in + r * (W_hn h + b_hn))
        h(t+1) = (1 - z) * n + z * h(t),        outputs = head(h) (or h without a head)

    The state is ``h``: ``hidden_size == units == H``. The drive is ``W_ih u + b_ih`` (3 H values per
    step). Parameters: ``weight_ih`` (3H, input_size), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh``
    (3H,), held by ``core`` (an ``nn.GRU``, batch first); :meth:`wrap` opens a user's ``nn.GRU`` or
    ``nn.GRUCell`` instead.

    Args:
        input_size: number of input channels (>= 1, as torch requires).
        hidden_size: H, the number of units.
        output_size: channels of a linear readout ``head = nn.Linear(H, output_size)``; None for no
            head: the outputs are ``h`` itself (output_size = H).
        dt: ms per step (the task's clock).
        bias: whether the gates have biases ``b_ih``, ``b_hh``.
        noise_std: std of the white noise added to ``h`` after every step.
        input_noise_std: std of the white noise added to every input at every step.
        learn_initial_state: make the initial state a trainable parameter (else zeros, fixed).
        seed: seed of the initialisation, torch's ``U(-1/sqrt(H), 1/sqrt(H))`` for every weight and
            bias (the head's too); None for fresh entropy. The global RNG is never used.
        device, dtype: where and in which precision the parameters live.

    Shape:
        - inputs: (batch, time, input_size); drive: (..., 3 H)
        - states: (batch, time, H); outputs: (batch, time, output_size)

    Example:
        >>> model = GRU(3, 64, 3, dt=10.0, seed=0)
        >>> outputs, states = model(torch.zeros(8, 100, 3))      # (8, 100, 3), (8, 100, 64)
    """

    layer = nn.GRU
    config_kind = "gru"
    cell = nn.GRUCell

    def _step(self, x: torch.Tensor, drive: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The gates r, z, the candidate n and ``hn = W_hn h + b_hn``, each (..., H)."""
        dr, dz, dn = drive.chunk(3, dim=-1)
        hr, hz, hn = F.linear(x, self.weight_hh, self.bias_hh).chunk(3, dim=-1)
        r = torch.sigmoid(dr + hr)
        return r, torch.sigmoid(dz + hz), torch.tanh(dn + r * hn), hn

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """One GRU step: the next ``h``. Shape: x (..., H), drive (..., 3H) -> (..., H)."""
        _, z, n, _ = self._step(x, drive)
        return n + z * (x - n)

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """d h(t+1) / d h(t) in closed form::

            diag(1 - z) diag(1 - n^2) [diag(hn) diag(r (1 - r)) W_hr + diag(r) W_hn]
            + diag(h - n) diag(z (1 - z)) W_hz + diag(z)

        with ``hn = W_hn h + b_hn``. Shape: x (..., H), drive broadcastable -> (..., H, H).
        """
        W_r, W_z, W_n = self.weight_hh.chunk(3, dim=0)
        r, z, n, hn = self._step(x, drive)
        d_r = _row_scale(r * (1 - r), W_r)
        d_z = _row_scale(z * (1 - z), W_z)
        d_n = _row_scale(1 - n * n, hn[..., :, None] * d_r + _row_scale(r, W_n))
        return _row_scale(1 - z, d_n) + _row_scale(x - n, d_z) + torch.diag_embed(z)


class LSTM(_TorchRNN):
    r"""A long short-term memory network, torch's ``nn.LSTM`` equations, in discrete time.

    With gates in torch's order i, f, g, o (pre-activations ``W_i* u + b_i* + W_h* h + b_h*``)::

        i, f, o = sigmoid(.), g = tanh(.)
        c(t+1) = f * c(t) + i * g
        h(t+1) = o * tanh(c(t+1)),              outputs = head(h) (or h without a head)

    **The state is the concatenation** ``x = [h, c]``: ``hidden_size == 2 H`` while ``units == H``
    (torch's ``hidden_size``); ``states[..., :H]`` is ``h`` and ``states[..., H:]`` is ``c``. The
    drive is ``W_ih u + b_ih`` (4 H values per step). Process noise enters ``h`` only. Parameters:
    ``weight_ih`` (4H, input_size), ``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh`` (4H,), held by
    ``core`` (an ``nn.LSTM``, batch first); :meth:`wrap` opens a user's ``nn.LSTM`` or ``nn.LSTMCell``.

    Args:
        input_size: number of input channels (>= 1, as torch requires).
        hidden_size: H, the number of units (torch's meaning; the state has 2 H variables).
        output_size: channels of a linear readout ``head = nn.Linear(H, output_size)`` of ``h``; None
            for no head: the outputs are ``h`` itself (output_size = H).
        dt: ms per step (the task's clock).
        bias: whether the gates have biases ``b_ih``, ``b_hh``.
        noise_std: std of the white noise added to ``h`` (not ``c``) after every step.
        input_noise_std: std of the white noise added to every input at every step.
        learn_initial_state: make the initial state ``[h0, c0]`` trainable (else zeros, fixed).
        seed: seed of the initialisation, torch's ``U(-1/sqrt(H), 1/sqrt(H))`` for every weight and
            bias (the head's too); None for fresh entropy. The global RNG is never used.
        device, dtype: where and in which precision the parameters live.

    Shape:
        - inputs: (batch, time, input_size); drive: (..., 4 H)
        - states: (batch, time, 2 H), ``[h, c]``; outputs: (batch, time, output_size)

    Example:
        >>> model = LSTM(3, 32, 3, dt=10.0, seed=0)
        >>> model.hidden_size, model.units
        (64, 32)
        >>> outputs, states = model(torch.zeros(8, 100, 3))      # (8, 100, 3), (8, 100, 64)
    """

    layer = nn.LSTM
    config_kind = "lstm"
    cell = nn.LSTMCell
    blocks = 2

    def _cell_gates(self, x: torch.Tensor, drive: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The activated gates i, f, g, o and the next cell state, each (..., H)."""
        a_i, a_f, a_g, a_o = self._preactivation(x, drive).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        return i, f, g, o, f * x[..., self.units:] + i * g

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """One LSTM step: the next ``[h, c]``. Shape: x (..., 2H), drive (..., 4H) -> (..., 2H)."""
        _, _, _, o, c = self._cell_gates(x, drive)
        return torch.cat([o * torch.tanh(c), c], dim=-1)

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """``d [h, c](t+1) / d [h, c](t)`` in closed form, with ``D_k = diag(k'(.)) W_hk`` per gate::

            dc'/dh = diag(c) D_f + diag(g) D_i + diag(i) D_g,      dc'/dc = diag(f)
            dh'/dh = diag(tanh c') D_o + diag(o (1 - tanh^2 c')) dc'/dh
            dh'/dc = diag(o (1 - tanh^2 c') f)

        Shape: x (..., 2H), drive broadcastable -> (..., 2H, 2H).
        """
        W_i, W_f, W_g, W_o = self.weight_hh.chunk(4, dim=0)
        i, f, g, o, c_next = self._cell_gates(x, drive)
        c = x[..., self.units:]
        tc = torch.tanh(c_next)
        dc_dh = _row_scale(c * f * (1 - f), W_f) + _row_scale(g * i * (1 - i), W_i) + _row_scale(i * (1 - g * g), W_g)
        k = o * (1 - tc * tc)
        dh_dh = _row_scale(tc * o * (1 - o), W_o) + _row_scale(k, dc_dh)
        top = torch.cat([dh_dh, torch.diag_embed(k * f)], dim=-1)
        bottom = torch.cat([dc_dh, torch.diag_embed(f)], dim=-1)
        return torch.cat([top, bottom], dim=-2)

    def _states_from_h(self, h: torch.Tensor, inputs: torch.Tensor, initial_state: torch.Tensor) -> torch.Tensor:
        """``[h, c]`` from the layer's ``h``: the gates of every step in one product (step t reads
        ``h(t-1)``), then ``c(t) = f c(t-1) + i g``, elementwise. The same function of the parameters as
        the plain loop's ``c``, so values and gradients agree."""
        H = self.units
        previous = torch.cat([initial_state[:, None, :H], h[:, :-1]], dim=1)
        a_i, a_f, a_g, _ = self._preactivation(previous, self.drive(inputs)).chunk(4, dim=-1)
        i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
        ig = i * g
        c = initial_state[:, H:]
        cells = []
        for t in range(h.shape[1]):
            c = f[:, t] * c + ig[:, t]
            cells.append(c)
        return torch.cat([h, torch.stack(cells, dim=1)], dim=-1)
