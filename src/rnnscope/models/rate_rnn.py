"""Rate networks: ``tau dx/dt = -x + J phi(x) + I u + b``, readout ``z = W_out phi(x) + b_out``.

Connectivity is one recurrent weight, parametrised as full-rank (optionally with Dale's law and a
connectivity mask) or low-rank ``J = M N^T / hidden_size`` (optionally plus a fixed random bulk
``g chi``). The low-rank form never materialises J in the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .._validation import check_bool, check_choice, check_dtype, check_finite, check_float, check_int, check_memory, check_seed
from ..errors import ConfigError, ShapeError
from ._base import AbstractRNN, LowRankFactors
from ._fused import FUSED_NONLINEARITIES, fused_simulation
from ._nonlinearity import Nonlinearity, resolve_nonlinearity

__all__ = ["RateRNN", "PARAMETER_GROUPS"]

#: Names accepted by ``frozen=`` / :meth:`RateRNN.freeze`.
PARAMETER_GROUPS = ("input", "recurrent", "bias", "output", "initial_state")


class RateRNN(AbstractRNN):
    r"""A network of rate neurons in continuous or discrete time.

    Continuous time (Euler, ``alpha = dt / tau``)::

        x <- (1 - alpha) x + alpha (J phi(x) + I u + b) + sqrt(2 alpha) sigma_rec xi

    Discrete time::

        x(t+1) = J phi(x(t)) + I u(t) + b + sigma_rec xi

    Args:
        input_size: number of input channels (0 for an autonomous network).
        hidden_size: number of units N.
        output_size: number of readout channels (0 for none).
        tau: membrane time constant in ms (continuous time only).
        dt: integration step in ms; must not exceed ``tau`` in continuous time.
        time: ``"continuous"`` or ``"discrete"``.
        nonlinearity: ``"tanh"``, ``"relu"``, ``"softplus"``, ``"sigmoid"``, ``"linear"`` or an
            elementwise callable.
        rank: None for full-rank J, or K >= 1 for ``J = M N^T / N`` with M, N of shape (N, K).
        g: scale of the random initial J (full rank, ``J_ij ~ N(0, g^2 / N)``).
        bulk_g: low rank only: strength of a fixed random bulk ``bulk_g * chi`` added to J,
            ``chi_ij ~ N(0, 1 / N)`` (Mastrogiuseppe & Ostojic 2018); 0 for none.
        dale: None, or the fraction of excitatory units (Dale's law: the outgoing weights of the first
            ``round(dale * N)`` units are >= 0, of the rest <= 0); full rank only.
        sparsity: fraction of recurrent connections removed at random (a fixed mask); full rank only.
        connectivity_mask: an explicit (N, N) 0/1 mask of allowed connections; full rank only.
        autapses: whether a unit may connect to itself (False zeroes the diagonal); full rank only.
        bias: whether units have a trainable bias b.
        readout: ``"rates"`` (``z = W_out phi(x)``) or ``"states"`` (``z = W_out x``).
        noise_std: sigma_rec, the recurrent (process) noise level.
        input_noise_std: standard deviation of white noise added to every input at every step.
        learn_initial_state: make the initial state a trainable parameter (else zeros, fixed).
        frozen: parameter groups excluded from training, any of ``"input"``, ``"recurrent"``,
            ``"bias"``, ``"output"``, ``"initial_state"``.
        seed: seed of the random initialisation (the global RNG is never used).
        device, dtype: where and in which precision the parameters live.

    Shape:
        - inputs: (batch, time, input_size)
        - outputs: (batch, time, output_size), states: (batch, time, hidden_size)

    Example:
        >>> model = RateRNN(2, 64, 1, tau=100.0, dt=20.0, seed=0)
        >>> outputs, states = model(torch.zeros(8, 50, 2))
    """

    config_kind = "rate"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        tau: float = 100.0,
        dt: float = 20.0,
        time: str = "continuous",
        nonlinearity: str | Callable[[torch.Tensor], torch.Tensor] = "tanh",
        rank: int | None = None,
        g: float = 1.0,
        bulk_g: float = 0.0,
        dale: float | None = None,
        sparsity: float = 0.0,
        connectivity_mask: torch.Tensor | None = None,
        autapses: bool = True,
        bias: bool = True,
        readout: str = "rates",
        noise_std: float = 0.0,
        input_noise_std: float = 0.0,
        learn_initial_state: bool = False,
        frozen: Iterable[str] = (),
        seed: int | None = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        own = "RateRNN"
        self.input_size = check_int(own, "input_size", input_size, low=0)
        self.hidden_size = check_int(own, "hidden_size", hidden_size, low=1)
        self.output_size = check_int(own, "output_size", output_size, low=0)
        self.time = check_choice(own, "time", time, ("continuous", "discrete"))
        self.tau = check_float(own, "tau", tau, low=0, low_inclusive=False)
        self.dt = check_float(own, "dt", dt, low=0, low_inclusive=False)
        if self.time == "continuous" and self.dt > self.tau:
            raise ConfigError(
                f"The 'dt' parameter of RateRNN must be <= tau ({self.tau:g} ms) in continuous time, "
                f"or Euler integration is unstable. Got {self.dt:g} instead."
            )
        self.phi: Nonlinearity = resolve_nonlinearity(nonlinearity, own)
        N = self.hidden_size
        if rank is not None:
            rank = check_int(own, "rank", rank, low=1, high=N)
        self.rank = rank
        self.g = check_float(own, "g", g, low=0)
        self.bulk_g = check_float(own, "bulk_g", bulk_g, low=0)
        if dale is not None:
            dale = check_float(own, "dale", dale, low=0, high=1, low_inclusive=False)
        self.dale = dale
        self.sparsity = check_float(own, "sparsity", sparsity, low=0, high=1, high_inclusive=False)
        self.autapses = check_bool(own, "autapses", autapses)
        self.readout_kind = check_choice(own, "readout", readout, ("rates", "states"))
        self._noise_std = check_float(own, "noise_std", noise_std, low=0)
        self._input_noise_std = check_float(own, "input_noise_std", input_noise_std, low=0)
        self.learn_initial_state = check_bool(own, "learn_initial_state", learn_initial_state)
        check_bool(own, "bias", bias)
        if rank is not None:
            for name, off in (("dale", dale is None), ("sparsity", self.sparsity == 0),
                              ("connectivity_mask", connectivity_mask is None), ("autapses", self.autapses)):
                if not off:
                    raise ConfigError(
                        f"The {name!r} parameter of RateRNN applies to full-rank connectivity only "
                        f"(rank=None). Got rank={rank} instead."
                    )
        elif self.bulk_g > 0:
            raise ConfigError(
                f"The 'bulk_g' parameter of RateRNN adds a random bulk to low-rank connectivity and "
                f"needs 'rank'. Got bulk_g={self.bulk_g:g} with rank=None instead."
            )
        if seed is not None:
            seed = check_seed(own, "seed", seed)
        self.seed = seed
        factory: dict[str, Any] = {"device": device, "dtype": check_dtype(own, "dtype", dtype) or torch.get_default_dtype()}
        if rank is None or self.bulk_g > 0:  # N x N weights (and a mask or bulk as large): refuse before allocating
            check_memory(own, "hidden_size", N, N * N * factory["dtype"].itemsize,
                         f"the {N} x {N} recurrent weights of a full-rank network", device)
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float64).to(**factory)

        self.input_weight = nn.Parameter(randn(N, self.input_size))
        if rank is None:
            self.recurrent_weight = nn.Parameter(randn(N, N) * (self.g / math.sqrt(N)))
            self.m = self.n = None
        else:
            self.recurrent_weight = None
            self.m = nn.Parameter(randn(N, rank))
            self.n = nn.Parameter(randn(N, rank))
        self.bias = nn.Parameter(torch.zeros(N, **factory)) if bias else None
        self.output_weight = nn.Parameter(randn(self.output_size, N) / math.sqrt(N))
        self.output_bias = nn.Parameter(torch.zeros(self.output_size, **factory))
        x0 = torch.zeros(N, **factory)
        if self.learn_initial_state:
            self.x0 = nn.Parameter(x0)
        else:
            self.register_buffer("x0", x0)
        # fixed structure (buffers: saved with the weights, never trained)
        self.register_buffer("bulk", randn(N, N) / math.sqrt(N) if self.bulk_g > 0 else None)
        mask = None
        if connectivity_mask is not None:
            mask = torch.as_tensor(connectivity_mask).to(**factory)
            if mask.shape != (N, N):
                raise ShapeError(
                    f"The 'connectivity_mask' parameter of RateRNN must have shape ({N}, {N}). "
                    f"Got {tuple(mask.shape)} instead."
                )
            mask = (mask != 0).to(factory["dtype"])
        if self.sparsity > 0:
            keep = (torch.rand(N, N, generator=gen, dtype=torch.float64) >= self.sparsity).to(**factory)
            mask = keep if mask is None else mask * keep
        if not self.autapses:
            eye = 1.0 - torch.eye(N, **factory)
            mask = eye if mask is None else mask * eye
        self.register_buffer("mask", mask)
        if dale is not None:
            n_exc = int(round(dale * N))
            sign = torch.cat([torch.ones(n_exc), -torch.ones(N - n_exc)]).to(**factory)
            # balanced start: |W| ~ |N(0, g^2/N)|, inhibitory columns scaled so E and I cancel on average
            with torch.no_grad():
                w = self.recurrent_weight.abs()
                if 0 < n_exc < N:
                    w[:, n_exc:] *= n_exc / (N - n_exc)
                self.recurrent_weight.copy_(w)
            self.register_buffer("dale_sign", sign)
        else:
            self.register_buffer("dale_sign", None)
        self.frozen: tuple[str, ...] = ()
        self.freeze(*frozen)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_weights(
        cls,
        J: torch.Tensor,
        input_weights: torch.Tensor | None = None,
        output_weights: torch.Tensor | None = None,
        *,
        bias: torch.Tensor | bool | None = None,
        output_bias: torch.Tensor | None = None,
        initial_state: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> RateRNN:
        """A full-rank network with the given weights.

        Args:
            J: recurrent weights, (hidden_size, hidden_size); ``J[i, j]`` is the weight from j to i.
            input_weights: (hidden_size, input_size), or None for no inputs.
            output_weights: (output_size, hidden_size), or None for no readout.
            bias: (hidden_size,) values, None for no bias, or a bool (with or without a zero bias).
            output_bias, initial_state: optional (output_size,), (hidden_size,).
            **kwargs: any other RateRNN keyword (tau, dt, time, nonlinearity, noise_std, ...).
        """
        J = _as_matrix("J", J)
        N = J.shape[0]
        if J.shape != (N, N):
            raise ShapeError(f"'J' must be a square (hidden_size, hidden_size) matrix. Got {tuple(J.shape)} instead.")
        I = _as_matrix("input_weights", input_weights, rows=N) if input_weights is not None else J.new_zeros(N, 0)
        W = _as_matrix("output_weights", output_weights, cols=N) if output_weights is not None else J.new_zeros(0, N)
        for key in ("rank", "bulk_g", "dale"):
            if kwargs.get(key) not in (None, 0, 0.0):
                raise ConfigError(f"RateRNN.from_weights builds a full-rank network without {key!r}. "
                                  f"Got {key}={kwargs[key]!r} instead.")
        if isinstance(bias, bool):  # bias=False: no bias at all; bias=True: a zero, trainable bias
            kwargs["bias"], bias = bias, None
        else:
            kwargs.setdefault("bias", bias is not None)
        kwargs.setdefault("dtype", J.dtype if J.is_floating_point() else None)
        _check_weights("from_weights", J=J, input_weights=I, output_weights=W, bias=bias, output_bias=output_bias,
                       initial_state=initial_state)
        model = cls(I.shape[1], N, W.shape[0], **kwargs)
        with torch.no_grad():
            model.recurrent_weight.copy_(J)
            model._set_common(I, W, bias, output_bias, initial_state)
        return model

    @classmethod
    def from_low_rank(
        cls,
        m: torch.Tensor,
        n: torch.Tensor,
        input_weights: torch.Tensor | None = None,
        output_weights: torch.Tensor | None = None,
        *,
        bias: torch.Tensor | bool | None = None,
        output_bias: torch.Tensor | None = None,
        initial_state: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> RateRNN:
        """A low-rank network ``J = m n^T / hidden_size`` with the given loadings.

        Args:
            m, n: connectivity loadings, (hidden_size, rank) or (hidden_size,) for rank one.
            input_weights: (hidden_size, input_size), or None.
            output_weights: (output_size, hidden_size), or None.
            **kwargs: any other RateRNN keyword (tau, dt, bulk_g, nonlinearity, ...).
        """
        m = _as_matrix("m", m)
        n = _as_matrix("n", n)
        if m.ndim == 2 and n.shape != m.shape:
            raise ShapeError(f"'m' and 'n' must have the same shape (hidden_size, rank). "
                             f"Got {tuple(m.shape)} and {tuple(n.shape)} instead.")
        N, K = m.shape
        I = _as_matrix("input_weights", input_weights, rows=N) if input_weights is not None else m.new_zeros(N, 0)
        W = _as_matrix("output_weights", output_weights, cols=N) if output_weights is not None else m.new_zeros(0, N)
        kwargs["rank"] = K
        if isinstance(bias, bool):  # bias=False: no bias at all; bias=True: a zero, trainable bias
            kwargs["bias"], bias = bias, None
        else:
            kwargs.setdefault("bias", bias is not None)
        kwargs.setdefault("dtype", m.dtype)
        _check_weights("from_low_rank", m=m, n=n, input_weights=I, output_weights=W, bias=bias,
                       output_bias=output_bias, initial_state=initial_state)
        model = cls(I.shape[1], N, W.shape[0], **kwargs)
        with torch.no_grad():
            model.m.copy_(m)
            model.n.copy_(n)
            model._set_common(I, W, bias, output_bias, initial_state)
        return model

    def _set_common(self, I, W, bias, output_bias, initial_state) -> None:
        N = self.hidden_size
        self.input_weight.copy_(I)
        self.output_weight.copy_(W)
        if bias is not None:
            self.bias.copy_(_as_vector("bias", bias, N))
        if output_bias is not None:
            self.output_bias.copy_(_as_vector("output_bias", output_bias, self.output_size))
        if initial_state is not None:
            self.x0.copy_(_as_vector("initial_state", initial_state, N))

    # ------------------------------------------------------------------ parameters
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The model's trainable tensors by group name (see :data:`PARAMETER_GROUPS`)."""
        rec = [self.recurrent_weight] if self.rank is None else [self.m, self.n]
        return {
            "input": [self.input_weight],
            "recurrent": rec,
            "bias": [self.bias] if self.bias is not None else [],
            "output": [self.output_weight, self.output_bias],
            "initial_state": [self.x0] if self.learn_initial_state else [],
        }

    def freeze(self, *groups: str) -> RateRNN:
        """Exclude parameter groups from training (``requires_grad = False``); returns self."""
        for gname in groups:
            check_choice("RateRNN", "frozen", gname, PARAMETER_GROUPS)
        self.frozen = tuple(sorted(set(self.frozen) | set(groups)))
        self._apply_frozen()
        return self

    def unfreeze(self, *groups: str) -> RateRNN:
        """Make parameter groups trainable again; returns self."""
        for gname in groups:
            check_choice("RateRNN", "frozen", gname, PARAMETER_GROUPS)
        self.frozen = tuple(sorted(set(self.frozen) - set(groups)))
        self._apply_frozen()
        return self

    def _apply_frozen(self) -> None:
        for gname, params in self.parameter_groups().items():
            for p in params:
                p.requires_grad_(gname not in self.frozen)

    @property
    def alpha(self) -> float:
        """``dt / tau`` in continuous time, 1 in discrete time."""
        return self.dt / self.tau if self.time == "continuous" else 1.0

    @property
    def process_noise_std(self) -> float:
        return math.sqrt(2.0 * self.alpha) * self._noise_std if self.time == "continuous" else self._noise_std

    @property
    def input_noise_std(self) -> float:
        return self._input_noise_std

    @property
    def noise_std(self) -> float:
        """sigma_rec as given to the constructor."""
        return self._noise_std

    def recurrent_matrix(self) -> torch.Tensor:
        """The effective recurrent matrix J (materialised; the simulation never needs it).

        Shape: (hidden_size, hidden_size), ``J[i, j]`` the weight from unit j to unit i.
        """
        if self.rank is not None:
            J = self.m @ self.n.T / self.hidden_size
            if self.bulk is not None:
                J = J + self.bulk_g * self.bulk
            return J
        J = self.recurrent_weight
        if self.dale_sign is not None:
            J = J.abs() * self.dale_sign
        if self.mask is not None:
            J = J * self.mask
        return J

    # ------------------------------------------------------------------ the vector field
    def recurrent_input(self, rates: torch.Tensor, J: torch.Tensor | None = None) -> torch.Tensor:
        """``J phi(x)`` for rates ``phi(x)``; O(N K) for low rank. Shape: (..., N) -> (..., N)."""
        if self.rank is not None:
            out = (rates @ self.n) @ self.m.T / self.hidden_size
            if self.bulk is not None:
                out = out + self.bulk_g * (rates @ self.bulk.T)
            return out
        if J is None:
            J = self.recurrent_matrix()
        return rates @ J.T

    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        out = inputs @ self.input_weight.T
        return out + self.bias if self.bias is not None else out

    def flow(self, x: torch.Tensor, drive: torch.Tensor, J: torch.Tensor | None = None) -> torch.Tensor:
        total = self.recurrent_input(self.phi(x), J) + drive
        if self.time == "discrete":
            return total
        return (total - x) / self.tau

    def flow_fn(self):
        if self.rank is not None:
            return self.flow
        J = self.recurrent_matrix()
        return lambda x, drive: self.flow(x, drive, J)

    def fused_simulate(self, inputs: torch.Tensor, initial_state: torch.Tensor,
                       noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The fused simulation of :mod:`rnnscope.models._fused` (named nonlinearities; a custom
        callable runs the plain loop). O(N K) per step for low rank without bulk."""
        if self.phi.name not in FUSED_NONLINEARITIES:
            return None
        a = 1.0 if self.time == "discrete" else self.dt / self.tau
        c = 0.0 if self.time == "discrete" else 1.0 - a
        dtype = inputs.dtype
        if self.rank is not None and self.bulk is None:
            A, B = self.n.to(dtype), ((a / self.hidden_size) * self.m.t()).to(dtype)
        else:
            A, B = (a * self.recurrent_matrix().t()).to(dtype), None
        bias = None if self.bias is None else self.bias.to(dtype)
        return fused_simulation(initial_state.to(dtype), inputs, self.input_weight.to(dtype), bias, A, B,
                                self.output_weight.to(dtype), self.output_bias.to(dtype), noise, c, a,
                                self.phi.name, self.readout_kind == "rates")

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        return self.phi(x)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        r = self.phi(x) if self.readout_kind == "rates" else x
        return r @ self.output_weight.T + self.output_bias

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return self.x0.expand(batch_size, self.hidden_size)

    # ------------------------------------------------------------------ the analysis contract
    @property
    def time_constant(self) -> float | None:
        """tau in continuous time; None in discrete time."""
        return self.tau if self.time == "continuous" else None

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """``(-I + J diag(phi'(x))) / tau`` (continuous) or ``J diag(phi'(x))`` (discrete).

        Shape: x (..., N) -> (..., N, N). Independent of the drive for this model.
        """
        J = self.recurrent_matrix().to(x.dtype)
        if self.time == "discrete":
            return J * self.phi.derivative(x)[..., None, :]
        # in place on the one new (..., N, N) tensor: at 256 units a batch of 16 Jacobians is 8 MB,
        # and each further pass (and fresh allocation) over it cost as much as building it
        jac = (J / self.tau) * self.phi.derivative(x)[..., None, :]
        jac.diagonal(dim1=-2, dim2=-1).sub_(1.0 / self.tau)
        return jac

    def jacobian_product_fn(self):
        """``scale * A(x) Q + add * Q`` as ``a J (phi'(x) * Q) + b Q``: one product with J (prepared
        once; ``m (n^T .) / N`` for low rank, O(N K) per vector) and never the N x N Jacobian."""
        derivative = self.phi.derivative
        continuous = self.time == "continuous"
        tau, N = self.tau, self.hidden_size
        exact_low_rank = self.rank is not None and self.bulk is None
        if exact_low_rank:
            m, n = self.m, self.n
        else:
            J = self.recurrent_matrix()
        buffers: dict[tuple, torch.Tensor] = {}

        def jvp(x: torch.Tensor, Q: torch.Tensor, drive: torch.Tensor, *, scale: float = 1.0, add: float = 0.0,
                out: torch.Tensor | None = None) -> torch.Tensor:
            key = (tuple(Q.shape), Q.dtype, Q.device)
            DQ = buffers.get(key)
            if DQ is None:
                DQ = buffers[key] = torch.empty_like(Q, memory_format=torch.contiguous_format)
            torch.mul(Q, derivative(x)[..., :, None], out=DQ)
            a, b = (scale / tau, add - scale / tau) if continuous else (scale, add)
            if exact_low_rank:
                JDQ = m.to(Q.dtype) @ (n.to(Q.dtype).T @ DQ) / N
                result = a * JDQ if b == 0.0 else torch.add(b * Q, JDQ, alpha=a)
                return result if out is None else out.copy_(result)
            W = J.to(Q.dtype)
            if Q.ndim == 2:
                if out is Q:  # in place: one BLAS call, no copy (DQ holds what Q was)
                    return Q.addmm_(W, DQ, beta=b, alpha=a)
                return torch.addmm(Q, W, DQ, beta=b, alpha=a, out=out) if out is not None \
                    else torch.addmm(Q, W, DQ, beta=b, alpha=a)
            result = a * (W @ DQ) if b == 0.0 else torch.add(b * Q, W @ DQ, alpha=a)
            return result if out is None else out.copy_(result)

        return jvp

    def low_rank_factors(self) -> LowRankFactors | None:
        """``m``, ``n`` (and the random bulk, if any) of a low-rank network; None for full rank."""
        if self.rank is None:
            return None
        return LowRankFactors(
            m=self.m, n=self.n, phi=self.phi, input_weight=self.input_weight, bias=self.bias,
            output_weight=self.output_weight, output_bias=self.output_bias,
            readout_from_rates=self.readout_kind == "rates",
            bulk=None if self.bulk is None else self.bulk_g * self.bulk, bulk_g=self.bulk_g,
        )

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights excluded)."""
        if self.phi.name.startswith("custom:"):
            raise ConfigError("A RateRNN with a custom nonlinearity cannot be described by a config; "
                              "use one of the named nonlinearities to save it.")
        return {
            "input_size": self.input_size, "hidden_size": self.hidden_size, "output_size": self.output_size,
            "tau": self.tau, "dt": self.dt, "time": self.time, "nonlinearity": self.phi.name,
            "rank": self.rank, "g": self.g, "bulk_g": self.bulk_g, "dale": self.dale,
            "sparsity": self.sparsity, "autapses": self.autapses, "bias": self.bias is not None,
            "readout": self.readout_kind, "noise_std": self._noise_std,
            "input_noise_std": self._input_noise_std, "learn_initial_state": self.learn_initial_state,
            "frozen": list(self.frozen), "seed": self.seed,
        }

    def extra_repr(self) -> str:
        rank = "full" if self.rank is None else self.rank
        return (f"{self.input_size}, {self.hidden_size}, {self.output_size}, time={self.time!r}, "
                f"tau={self.tau:g}, dt={self.dt:g}, nonlinearity={self.phi.name!r}, rank={rank}")


def _check_weights(method: str, **weights: Any) -> None:
    """Refuse NaN or infinite weights given to a ``RateRNN.from_*`` constructor, naming them."""
    for name, value in weights.items():
        if isinstance(value, bool) or value is None:
            continue
        check_finite(f"RateRNN.{method}", name, {name: torch.as_tensor(value)})


def _as_matrix(name: str, value: Any, rows: int | None = None, cols: int | None = None) -> torch.Tensor:
    t = torch.as_tensor(value)
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if t.ndim == 1 and name in ("m", "n"):
        t = t[:, None]
    if t.ndim != 2:
        raise ShapeError(f"{name!r} must be a 2-D tensor. Got shape {tuple(t.shape)} instead.")
    if rows is not None and t.shape[0] != rows:
        raise ShapeError(f"{name!r} must have {rows} rows (hidden_size). Got shape {tuple(t.shape)} instead.")
    if cols is not None and t.shape[1] != cols:
        raise ShapeError(f"{name!r} must have {cols} columns (hidden_size). Got shape {tuple(t.shape)} instead.")
    return t


def _as_vector(name: str, value: Any, size: int) -> torch.Tensor:
    t = torch.as_tensor(value)
    if t.shape != (size,):
        raise ShapeError(f"{name!r} must have shape ({size},). Got {tuple(t.shape)} instead.")
    return t
