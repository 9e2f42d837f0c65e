"""K rate networks of one shape as one model: an ensemble trained in one process.

Small networks spend their time in per-operation overhead, not in arithmetic, so K networks of the
same shape run for little more than the price of one when each step is one batched product over
the K of them (Maheswaranathan et al. 2019 and Schaeffer et al. 2022 compared hundreds to thousands
of trained networks). :class:`RateEnsemble` holds the K members' weights stacked along a first
axis and runs them through the batched fused recurrence of :mod:`rnnscope.models._fused_ensemble`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..errors import ConfigError, ShapeError
from ._base import AbstractRNN
from ._fused import FUSED_NONLINEARITIES
from ._fused_ensemble import ensemble_simulation, loop_form
from .rate_rnn import RateRNN

__all__ = ["RateEnsemble"]


class _MethodCall(nn.Module):
    """Calls one method of a model, so that :func:`torch.func.functional_call` (which calls
    ``forward``) can run any method with other tensors in place of the model's own."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, method: str, *args: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, method)(*args)


class RateEnsemble(AbstractRNN):
    r"""K :class:`~rnnscope.models.RateRNN` of one shape, as one model.

    Every member keeps its own weights (its parameters are stacked: ``input_weight`` is
    (K, N, I), ``recurrent_weight`` (K, N, N), ...). As a model of the library's contract the
    ensemble is one block-diagonal network: its state is the members' states side by side,
    ``x = [x^(1), ..., x^(K)]`` (``hidden_size = K N``), its input the members' inputs side by side
    (``input_size = K I``) and its outputs the members' outputs (``output_size = K O``); member k
    never sees another member's input or state. So :func:`~rnnscope.dynamics.simulate`,
    :func:`~rnnscope.models.check_model` and every analysis run on it; :meth:`simulate_members` is
    the fast path the ensemble trainer uses, with the member axis first.

    The fused path batches the members' products (``bmm``) and materialises each member's J, so
    a low-rank member costs as a full-rank one here (ensembles are for small networks); the plain
    loop runs each member's own ``flow`` (``torch.func.vmap`` over the stacked weights).

    Args:
        members: the networks, all built with the same settings but their seed (the same sizes,
            time form, nonlinearity, rank, constraints, noise and frozen groups) and a named
            nonlinearity (the fused path has no custom one).

    Shape:
        - inputs: (batch, time, K input_size); states: (batch, time, K hidden_size);
          outputs: (batch, time, K output_size), member k's block at ``[..., k * n:(k + 1) * n]``

    Example:
        >>> ensemble = RateEnsemble([RateRNN(3, 64, 3, dt=10.0, seed=s) for s in range(16)])
        >>> ensemble.member(3).recurrent_weight.equal(RateRNN(3, 64, 3, dt=10.0, seed=3).recurrent_weight)
        True
    """

    def __init__(self, members: Sequence[RateRNN]) -> None:
        super().__init__()
        own = "RateEnsemble"
        members = list(members) if isinstance(members, Sequence) else members
        if not isinstance(members, list) or not members:
            raise ConfigError(f"The 'members' parameter of {own} must be a non-empty sequence of RateRNN. "
                              f"Got {members!r} instead.")
        for k, m in enumerate(members):
            if type(m) is not RateRNN:
                raise ConfigError(f"The 'members' parameter of {own} must hold RateRNN models. "
                                  f"Got {type(m).__name__} at position {k} instead.")
        first = members[0]
        if first.phi.name not in FUSED_NONLINEARITIES:
            raise ConfigError(f"The 'members' parameter of {own} must hold networks with a named nonlinearity "
                              f"({', '.join(FUSED_NONLINEARITIES)}). Got {first.phi.name!r} instead.")
        shape = _architecture(first)
        for k, m in enumerate(members[1:], start=1):
            other = _architecture(m)
            if other != shape:
                diff = sorted(key for key in shape if shape[key] != other.get(key))
                raise ConfigError(f"The 'members' parameter of {own} must hold networks of one shape (only the "
                                  f"seed may differ). Member {k} differs from member 0 in {', '.join(diff)}.")
        self.n_members = len(members)
        self.member_input_size = first.input_size
        self.member_hidden_size = first.hidden_size
        self.member_output_size = first.output_size
        self.input_size = self.n_members * first.input_size
        self.hidden_size = self.n_members * first.hidden_size
        self.output_size = self.n_members * first.output_size
        self.time = first.time
        self.dt = first.dt
        self.seeds = tuple(m.seed for m in members)
        # one member's structure, whose tensors are swapped for the stacked ones in every call
        # (kept in a tuple: not a submodule, so its own tensors are not the ensemble's parameters)
        self._call = (_MethodCall(copy.deepcopy(first)),)
        # every tensor of a member stacked, in the member's order (so the optimiser's state of the
        # ensemble maps one to one onto each member's); absent ones (no bias, no mask) stay None
        for name, p in first._parameters.items():
            stacked = None if p is None else nn.Parameter(torch.stack([m._parameters[name].detach() for m in members]),
                                                          requires_grad=p.requires_grad)
            self.register_parameter(name, stacked)
        for name, b in first._buffers.items():
            self.register_buffer(name, None if b is None else torch.stack([m._buffers[name] for m in members]))
        if first.bias is None:  # a plain attribute of RateRNN, not a registered None
            self.bias = None

    # ------------------------------------------------------------------ the members
    @property
    def template(self) -> RateRNN:
        """A member's structure (its tensors are not the ensemble's; see :meth:`member`)."""
        return self._call[0].model

    def _member_tensors(self) -> dict[str, torch.Tensor]:
        return {**dict(self.named_parameters()), **dict(self.named_buffers())}

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s ``state_dict``, in a :class:`~rnnscope.models.RateRNN`'s keys (copies)."""
        k = self._check_member(k)
        return {name: t[k].detach().clone() for name, t in self._member_tensors().items()}

    def load_member_state_dict(self, k: int, state: Mapping[str, torch.Tensor]) -> None:
        """Set member ``k``'s weights from a :class:`~rnnscope.models.RateRNN` ``state_dict``."""
        k = self._check_member(k)
        own = self._member_tensors()
        if set(state) != set(own):
            raise ShapeError(f"The 'state' parameter of RateEnsemble.load_member_state_dict must have the keys "
                             f"{sorted(own)}. Got {sorted(state)} instead.")
        with torch.no_grad():
            for name, t in own.items():
                if tuple(state[name].shape) != tuple(t.shape[1:]):
                    raise ShapeError(f"{name!r} of member {k} must have shape {tuple(t.shape[1:])}. "
                                     f"Got {tuple(state[name].shape)} instead.")
                t[k].copy_(state[name])

    def member(self, k: int) -> RateRNN:
        """Member ``k`` as a :class:`~rnnscope.models.RateRNN` of its own (a copy)."""
        ref = self.x0
        model = copy.deepcopy(self.template).to(ref.device, ref.dtype)
        model.load_state_dict(self.member_state_dict(k))
        model.seed = self.seeds[k]
        return model

    def select(self, indices: Sequence[int]) -> RateEnsemble:
        """A new ensemble of the members at ``indices`` (copies of their weights), in that order."""
        chosen = [self._check_member(k) for k in indices]
        return RateEnsemble([self.member(k) for k in chosen])

    def _check_member(self, k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < self.n_members:
            raise ConfigError(f"The member index must be an int in [0, {self.n_members - 1}]. Got {k!r} instead.")
        return k

    # ------------------------------------------------------------------ per member, through vmap
    def _per_member(self, method: str, *tensors: torch.Tensor) -> torch.Tensor:
        """``method`` of every member, member k with its own tensors; ``tensors`` have the member axis first."""
        caller = self._call[0]
        state = {f"model.{name}": t for name, t in self._member_tensors().items()}

        def one(st: dict[str, torch.Tensor], *xs: torch.Tensor) -> torch.Tensor:
            return functional_call(caller, st, (method, *xs))

        return vmap(one)(state, *tensors)

    def _split(self, x: torch.Tensor, size: int) -> torch.Tensor:
        """(..., K size) -> (K, ..., size)."""
        return x.unflatten(-1, (self.n_members, size)).movedim(-2, 0)

    def _join(self, x: torch.Tensor) -> torch.Tensor:
        """(K, ..., size) -> (..., K size)."""
        return x.movedim(0, -2).flatten(-2)

    def _blockwise(self, method: str, x: torch.Tensor, size: int, *more: tuple[torch.Tensor, int]) -> torch.Tensor:
        parts = [self._split(x, size)] + [self._split(t, s).expand(-1, *x.shape[:-1], s) for t, s in more]
        return self._join(self._per_member(method, *parts))

    # ------------------------------------------------------------------ the contract
    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._blockwise("drive", inputs, self.member_input_size)

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        N = self.member_hidden_size
        return self._blockwise("flow", x, N, (drive, N))

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return self._blockwise("readout", x, self.member_hidden_size)

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        return self._blockwise("rates", x, self.member_hidden_size)

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return self.x0.reshape(-1).expand(batch_size, self.hidden_size)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The members' groups (:meth:`RateRNN.parameter_groups`), each parameter stacked over members."""
        params = dict(self.named_parameters())
        groups = self.template.parameter_groups()
        names = {id(p): name for name, p in self.template.named_parameters()}
        return {g: [params[names[id(p)]] for p in ps] for g, ps in groups.items()}

    @property
    def process_noise_std(self) -> float:
        return self.template.process_noise_std

    @property
    def input_noise_std(self) -> float:
        return self.template.input_noise_std

    @property
    def time_constant(self) -> float | None:
        return self.template.time_constant

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """Block diagonal: member k's Jacobian (:meth:`RateRNN.flow_jacobian`) in block k.

        Shape: x (..., K N) -> (..., K N, K N).
        """
        N, K = self.member_hidden_size, self.n_members
        drive = drive.expand(*x.shape[:-1], drive.shape[-1])
        blocks = self._per_member("flow_jacobian", self._split(x, N), self._split(drive, N))  # (K, ..., N, N)
        out = x.new_zeros(*x.shape[:-1], K, N, K, N)
        for k in range(K):
            out[..., k, :, k, :] = blocks[k]
        return out.reshape(*x.shape[:-1], K * N, K * N)

    # ------------------------------------------------------------------ the fused path
    def loop_weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, float, str]:
        """The weights of the batched recurrence (:mod:`rnnscope.models._fused_ensemble`), formed from the
        members' parameters with differentiable operations: ``(A, W_read, b_read, c, q, h)``."""
        t = self.template
        a = 1.0 if t.time == "discrete" else t.dt / t.tau
        c = 0.0 if t.time == "discrete" else 1.0 - a
        q, h_name, p, r0 = loop_form(t.phi.name)
        J = self._per_member("recurrent_matrix").to(dtype)  # (K, N, N), Dale's law, masks, low rank applied
        A_rec = a * J.transpose(1, 2)
        shift = (q * r0) * A_rec.sum(1) if r0 != 0.0 else A_rec.new_zeros(A_rec.shape[0], A_rec.shape[2])
        if self.bias is not None:
            shift = shift + (a * q) * self.bias.to(dtype)
        A = torch.cat([(q * p) * A_rec, (a * q) * self.input_weight.to(dtype).transpose(1, 2), shift[:, None, :]], 1)
        W_out, b_out = self.output_weight.to(dtype), self.output_bias.to(dtype)
        if t.readout_kind == "rates":
            W_read, b_read = p * W_out.transpose(1, 2), b_out + r0 * W_out.sum(2)
        else:
            W_read, b_read = W_out.transpose(1, 2) / q, b_out
        return A, W_read, b_read, c, q, h_name

    def simulate_members(self, inputs: torch.Tensor, initial_state: torch.Tensor | None = None,
                         noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The members' states and outputs, member axis first (the fused path; no noise is drawn here).

        Args:
            inputs: each member's inputs (input noise already added).
            initial_state: each member's initial state; None for the members' own.
            noise: the process noise added to each member's state after each step, or None.

        Shape:
            - inputs: (K, batch, time, input_size); initial_state: (K, batch, hidden_size) or None;
              noise: (K, batch, time, hidden_size) or None
            - returns: states (K, batch, time, hidden_size), outputs (K, batch, time, output_size)
        """
        K, N = self.n_members, self.member_hidden_size
        if inputs.ndim != 4 or inputs.shape[0] != K or inputs.shape[3] != self.member_input_size:
            raise ShapeError(f"'inputs' must have shape ({K}, batch, time, {self.member_input_size}) (members "
                             f"first). Got {tuple(inputs.shape)} instead.")
        B = inputs.shape[1]
        x0 = self.x0.to(inputs.dtype)[:, None, :].expand(K, B, N) if initial_state is None else initial_state
        A, W_read, b_read, c, q, h_name = self.loop_weights(inputs.dtype)
        return ensemble_simulation(q * x0, inputs, A, W_read, b_read, noise, c, q, h_name,
                                   self.template.readout_kind == "rates")

    def fused_simulate(self, inputs: torch.Tensor, initial_state: torch.Tensor,
                       noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`simulate_members` in the block layout of the contract (members side by side)."""
        K, I, N = self.n_members, self.member_input_size, self.member_hidden_size
        split = lambda t, n: t.unflatten(-1, (K, n)).movedim(-2, 0)  # noqa: E731
        S, Y = self.simulate_members(split(inputs, I), split(initial_state, N),
                                     None if noise is None else split(noise, N))
        return self._join(S), self._join(Y)

    def extra_repr(self) -> str:
        return f"{self.n_members} x RateRNN({self.template.extra_repr()}), seeds={list(self.seeds)}"


def _architecture(model: RateRNN) -> dict[str, Any]:
    """What must agree between members: the model's settings but its seed, dtype and device."""
    config = {k: v for k, v in model.config().items() if k != "seed"}
    ref = next(model.parameters())
    return {**config, "dtype": ref.dtype, "device": ref.device,
            "mask": None if model.mask is None else "mask", "dale_sign": None if model.dale_sign is None else "sign"}
