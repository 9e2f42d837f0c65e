"""Hopfield networks (Hopfield 1982, 1984): Hebbian storage of +-1 patterns.

Two dynamics share one coupling matrix ``J = (1/N) sum_mu xi^mu xi^mu^T`` (zero diagonal):

* the **continuous rate model** ``tau dx/dt = -x + J tanh(beta x) + u`` (Hopfield 1984), a vector
  field like every other model: :func:`rnnscope.dynamics.simulate` integrates it, and fixed points,
  flow fields and Lyapunov spectra apply unchanged;
* the **binary (Ising) dynamics** ``s_i <- sign(h_i)``, ``h = J s`` (Hopfield 1982), asynchronous or
  synchronous. These are not the Euler steps of a vector field, so they live in methods of the model
  (:meth:`Hopfield.update`, :meth:`Hopfield.retrieve`) rather than in a second simulation loop.

Asynchronous updates are exact and event driven: each state of the batch visits its units in its own
random order per sweep, but only the units whose update would change them (``s_i h_i < 0``) are
processed, in that order, with the local fields kept up to date by rank-one corrections
(``h += 2 s_i J_i`` when unit ``i`` flips). Units that would not change are no-ops, so skipping them
leaves the dynamics identical to visiting every unit one by one, and a sweep costs one batched
operation per *flip* instead of one per unit. The couplings are handled as the integers
``N J_ij`` so that the fields, and hence ties ``h_i = 0``, are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..errors import ConfigError, ShapeError
from ._base import AbstractRNN

__all__ = ["Hopfield", "HopfieldRetrieval"]

_OWN = "Hopfield"


@dataclass(frozen=True)
class HopfieldRetrieval:
    """The outcome of binary Hopfield dynamics started from a batch of cues.

    Attributes:
        states: the final +-1 states.
        overlaps: ``m_mu = (1/N) xi^mu . s`` of each final state with each stored pattern.
        steps: sweeps (asynchronous) or steps (synchronous) that changed the state; one more sweep
            without any change confirms a fixed point.
        converged: whether the state reached a fixed point of ``s = sign(J s)`` within the budget
            (synchronous dynamics may instead end on a 2-cycle).
        energy: ``E = -1/2 s^T J s`` after each sweep (index 0: the cue), the final value repeated
            once a state has converged.
        mode: ``"async"`` or ``"sync"``.
        trace_time, trace_overlaps, trace_energy: with ``record=True`` (asynchronous only), the
            time in sweeps (fractional: unit updates / N) of every flip and the overlaps and energy
            just after it; rows after a state has converged repeat its final values. None otherwise.

    Shape:
        - states: (batch, N); overlaps: (batch, P); steps, converged: (batch,)
        - energy: (batch, max_steps + 1)
        - trace_time, trace_energy: (events + 1, batch); trace_overlaps: (events + 1, batch, P)
    """

    states: torch.Tensor
    overlaps: torch.Tensor
    steps: torch.Tensor
    converged: torch.Tensor
    energy: torch.Tensor
    mode: str
    trace_time: torch.Tensor | None = None
    trace_overlaps: torch.Tensor | None = None
    trace_energy: torch.Tensor | None = None

    @property
    def retrieved_pattern(self) -> torch.Tensor:
        """Index of the pattern with the largest absolute overlap with each final state. Shape (batch,)."""
        return self.overlaps.abs().argmax(dim=-1)

    @property
    def max_overlap(self) -> torch.Tensor:
        """The largest absolute overlap of each final state with any pattern. Shape (batch,)."""
        return self.overlaps.abs().max(dim=-1).values


class Hopfield(AbstractRNN):
    r"""A Hopfield network storing +-1 patterns with the Hebbian rule.

    Continuous rate dynamics (a vector field like every other model; Euler through
    :func:`rnnscope.dynamics.simulate`)::

        tau dx/dt = -x + J tanh(beta x) + u,     J = (1/N) sum_mu xi^mu xi^mu^T, J_ii = 0

    Readout: the overlaps ``m_mu = (1/N) xi^mu . tanh(beta x)`` of the *rates* with each stored
    pattern (smooth in x, so that gradients and Jacobians exist; for large beta they equal the
    overlaps of ``sign(x)``). The binary dynamics and their overlaps are :meth:`update`,
    :meth:`retrieve` and :meth:`overlaps`.

    The couplings are fixed (buffers): the model has no trainable parameters, and every group of
    :meth:`parameter_groups` is empty.

    Args:
        patterns: the stored patterns, (P, N) with entries exactly +1 or -1, N >= 2.
        beta: gain of the tanh (inverse temperature of the rate model), > 0.
        tau: time constant in ms, > 0.
        dt: Euler step in ms, 0 < dt <= tau.
        input_drive: if True the model takes an external current to every unit
            (``input_size = N``, drive ``u``); if False it is autonomous (``input_size = 0``).
        noise_std: sigma of the process noise, scaled ``sqrt(2 dt / tau) sigma`` per step as in
            :class:`~rnnscope.models.RateRNN`.
        device, dtype: where and in which precision the buffers live.

    Shape:
        - patterns: (P, N)
        - inputs: (batch, time, N) with ``input_drive=True``, else (batch, time, 0)
        - outputs: (batch, time, P), states: (batch, time, N)

    Example:
        >>> net = Hopfield.random(500, 25, seed=0)
        >>> cues = Hopfield.corrupt(net.patterns, 0.2, generator=torch.Generator().manual_seed(1))
        >>> net.retrieve(cues).overlaps.diagonal().min() > 0.99
        tensor(True)
    """

    def __init__(
        self,
        patterns: torch.Tensor,
        *,
        beta: float = 4.0,
        tau: float = 100.0,
        dt: float = 10.0,
        input_drive: bool = False,
        noise_std: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        xi = _check_patterns(patterns)
        P, N = xi.shape
        self.beta = check_float(_OWN, "beta", beta, low=0, low_inclusive=False)
        self.tau = check_float(_OWN, "tau", tau, low=0, low_inclusive=False)
        self.dt = check_float(_OWN, "dt", dt, low=0, low_inclusive=False)
        if self.dt > self.tau:
            raise ConfigError(f"The 'dt' parameter of {_OWN} must be <= tau ({self.tau:g} ms), or Euler "
                              f"integration is unstable. Got {self.dt:g} instead.")
        self.input_drive = check_bool(_OWN, "input_drive", input_drive)
        self._noise_std = check_float(_OWN, "noise_std", noise_std, low=0)
        self.time = "continuous"
        self.hidden_size = N
        self.n_patterns = P
        self.input_size = N if self.input_drive else 0
        self.output_size = P
        factory: dict[str, Any] = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        couplings = xi.T @ xi  # integers N J_ij, exact in float64
        couplings.fill_diagonal_(0.0)
        self.register_buffer("patterns", xi.to(**factory))
        self.register_buffer("J", (couplings / N).to(**factory))
        self.register_buffer("x0", torch.zeros(N, **factory))

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(
        cls,
        n_units: int,
        n_patterns: int,
        *,
        seed: int = 0,
        **kwargs: Any,
    ) -> Hopfield:
        """A network storing ``n_patterns`` independent random patterns (each entry +-1 with p = 1/2).

        Args:
            n_units: N >= 2.
            n_patterns: P >= 1.
            seed: seed of the pattern draw (the global RNG is never used).
            **kwargs: any other constructor keyword (beta, tau, dt, input_drive, noise_std, ...).
        """
        own = "Hopfield.random"
        N = check_int(own, "n_units", n_units, low=2)
        P = check_int(own, "n_patterns", n_patterns, low=1)
        seed = check_seed(own, "seed", seed)
        return cls(random_patterns(P, N, seed=seed), **kwargs)

    # ------------------------------------------------------------------ the vector-field contract
    @property
    def load(self) -> float:
        """The load ``alpha = P / N``."""
        return self.n_patterns / self.hidden_size

    @property
    def alpha(self) -> float:
        """The Euler factor ``dt / tau`` (the load P/N is :attr:`load`)."""
        return self.dt / self.tau

    @property
    def process_noise_std(self) -> float:
        return math.sqrt(2.0 * self.alpha) * self._noise_std

    @property
    def input_noise_std(self) -> float:
        return 0.0

    def recurrent_matrix(self) -> torch.Tensor:
        """The coupling matrix J. Shape: (N, N), symmetric, zero diagonal."""
        return self.J

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Empty groups: the Hebbian couplings are fixed, nothing is trained."""
        return {"input": [], "recurrent": [], "output": []}

    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.shape[-1] != self.input_size:
            raise ShapeError(f"The inputs of {_OWN} must have {self.input_size} channels (input_drive="
                             f"{self.input_drive}). Got shape {tuple(inputs.shape)} instead.")
        if self.input_drive:
            return inputs
        return inputs.new_zeros(*inputs.shape[:-1], self.hidden_size)

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """``tanh(beta x)``. Shape preserved."""
        return torch.tanh(self.beta * x)

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """``(-x + J tanh(beta x) + drive) / tau``. Shape: (..., N) -> (..., N)."""
        return (self.rates(x) @ self.J.T.to(x.dtype) - x + drive) / self.tau

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """Overlaps ``(1/N) xi^mu . tanh(beta x)`` with each pattern. Shape: (..., N) -> (..., P)."""
        return self.rates(x) @ self.patterns.T.to(x.dtype) / self.hidden_size

    @property
    def time_constant(self) -> float:
        """tau (ms)."""
        return self.tau

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """``(-I + beta J diag(1 - tanh^2(beta x))) / tau``; independent of the drive.

        Shape: x (..., N) -> (..., N, N).
        """
        gain = self.beta * (1.0 - torch.tanh(self.beta * x) ** 2)
        jac = self.J.to(x.dtype) * gain[..., None, :]
        eye = torch.eye(self.hidden_size, dtype=x.dtype, device=x.device)
        return (jac - eye) / self.tau

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return self.x0.expand(batch_size, self.hidden_size)

    # ------------------------------------------------------------------ binary dynamics
    def overlaps(self, s: torch.Tensor) -> torch.Tensor:
        """Overlaps ``m_mu = (1/N) xi^mu . s`` of states with each stored pattern.

        Shape: s (..., N) -> (..., P).
        """
        s = self._check_states("s", s, binary=False)
        return s @ self.patterns.T.to(s.dtype) / self.hidden_size

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """``E = -1/2 s^T J s`` of each state. Shape: s (..., N) -> (...)."""
        s = self._check_states("s", s, binary=False)
        return -0.5 * ((s @ self.J.T.to(s.dtype)) * s).sum(-1)

    @staticmethod
    def corrupt(patterns: torch.Tensor, flip_fraction: float, *, generator: torch.Generator | None = None
                ) -> torch.Tensor:
        """Cues: copies of ``patterns`` with exactly ``round(flip_fraction * N)`` random units flipped each.

        The overlap of each cue with its pattern is then ``1 - 2 k / N`` exactly.

        Args:
            patterns: +-1 states, (..., N).
            flip_fraction: fraction of units to flip, in [0, 1].
            generator: source of the random choice of units (None: fresh entropy).

        Shape: patterns (..., N) -> (..., N).
        """
        own = "Hopfield.corrupt"
        f = check_float(own, "flip_fraction", flip_fraction, low=0, high=1)
        if not isinstance(patterns, torch.Tensor) or patterns.ndim < 1:
            got = tuple(patterns.shape) if isinstance(patterns, torch.Tensor) else type(patterns).__name__
            raise ShapeError(f"The 'patterns' parameter of {own} must be a tensor of shape (..., N). "
                             f"Got {got} instead.")
        N = patterns.shape[-1]
        k = int(round(f * N))
        keys = torch.rand(patterns.shape, generator=generator).to(patterns.device)
        flip = torch.zeros(patterns.shape, dtype=torch.bool, device=patterns.device)
        if k > 0:
            flip.scatter_(-1, keys.argsort(dim=-1)[..., :k], True)
        return torch.where(flip, -patterns, patterns)

    def update(
        self,
        s: torch.Tensor,
        *,
        mode: str = "async",
        steps: int = 1,
        generator: torch.Generator | None = None,
        return_energy: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` sweeps (asynchronous) or steps (synchronous) of ``s_i <- sign(h_i)``, ``h = J s``.

        Asynchronous: in each sweep every unit is updated once, in a random order drawn anew for each
        sweep and each state of the batch; ``E = -1/2 s^T J s`` never increases (it falls by
        ``2 |h_i|`` at every flip). Synchronous: all units at once, ``s <- sign(J s)``; the energy need
        not decrease and 2-cycles are possible. In both, a unit whose field is exactly zero keeps
        its state (``sign(0)`` -> previous value).

        Args:
            s: +-1 states, (batch, N) or (N,).
            mode: ``"async"`` or ``"sync"``.
            steps: number of sweeps (async) or synchronous steps, >= 0; a state stops early at a
                fixed point.
            generator: source of the update orders (async; None: fresh entropy).
            return_energy: also return the energy after each sweep (index 0: before the first).

        Returns:
            The final states, same shape as ``s``; with ``return_energy``, also the energies,
            (batch, steps + 1) (or (steps + 1,)).
        """
        own = "Hopfield.update"
        check_choice(own, "mode", mode, ("async", "sync"))
        steps = check_int(own, "steps", steps, low=0)
        check_bool(own, "return_energy", return_energy)
        result = self._run(s, mode, steps, generator, record=False, owner=own)
        states, energy = result.states, result.energy
        if s.ndim == 1:
            states, energy = states[0], energy[0]
        return (states, energy) if return_energy else states

    def retrieve(
        self,
        cues: torch.Tensor,
        *,
        mode: str = "async",
        max_steps: int = 100,
        generator: torch.Generator | None = None,
        record: bool = False,
    ) -> HopfieldRetrieval:
        """Zero-temperature binary dynamics from ``cues`` until a fixed point (or ``max_steps``).

        Args:
            cues: +-1 states, (batch, N) or (N,).
            mode: ``"async"`` (random sequential order per sweep) or ``"sync"``.
            max_steps: budget of sweeps (async) or synchronous steps.
            generator: source of the update orders (async; None: fresh entropy).
            record: record the overlaps and energy after every flip (async only).

        Returns:
            A :class:`HopfieldRetrieval` (batch axis kept even for a single cue).

        Shape:
            - cues: (batch, N) or (N,)
        """
        own = "Hopfield.retrieve"
        check_choice(own, "mode", mode, ("async", "sync"))
        max_steps = check_int(own, "max_steps", max_steps, low=0)
        check_bool(own, "record", record)
        if record and mode != "async":
            raise ConfigError(f"The 'record' parameter of {own} applies to asynchronous dynamics only "
                              f"(mode='async'). Got record=True with mode={mode!r} instead.")
        return self._run(cues, mode, max_steps, generator, record=record, owner=own)

    # ------------------------------------------------------------------ internals
    def _check_states(self, name: str, s: Any, *, binary: bool, owner: str = _OWN) -> torch.Tensor:
        N = self.hidden_size
        if not isinstance(s, torch.Tensor):
            raise ShapeError(f"The {name!r} parameter of {owner} must be a torch.Tensor of shape (..., {N}). "
                             f"Got {type(s).__name__} instead.")
        if s.ndim < 1 or s.shape[-1] != N:
            raise ShapeError(f"The {name!r} parameter of {owner} must have shape (..., {N}) (N units). "
                             f"Got {tuple(s.shape)} instead.")
        if binary and not bool(((s == 1) | (s == -1)).all()):
            raise ConfigError(f"The {name!r} parameter of {owner} must contain only +1 and -1 "
                              f"(binary states). Got values {_some_bad_values(s)} instead.")
        return s if s.is_floating_point() else s.to(self.J.dtype)

    def _couplings(self, dtype: torch.dtype) -> torch.Tensor:
        """The integers ``N J_ij`` (exact): symmetric, zero diagonal."""
        xi = self.patterns.to(dtype)
        W = xi.T @ xi
        return W.fill_diagonal_(0.0)

    def _run(self, s, mode, steps, generator, *, record, owner) -> HopfieldRetrieval:
        s = self._check_states("s" if owner.endswith("update") else "cues", s, binary=True, owner=owner)
        if s.ndim not in (1, 2):
            raise ShapeError(f"The states given to {owner} must have shape (batch, {self.hidden_size}) or "
                             f"({self.hidden_size},). Got {tuple(s.shape)} instead.")
        out_dtype = s.dtype
        s = s.reshape(-1, self.hidden_size)
        N, P = self.hidden_size, self.n_patterns
        # float32 holds the integer fields exactly while |h| <= N P < 2^24
        work = torch.float32 if N * P < 2**24 else torch.float64
        W = self._couplings(work).to(s.device)
        x = s.to(work)
        if mode == "sync":
            res = _sync(x, W, steps)
        else:
            xi = self.patterns.to(device=s.device, dtype=work) if record else None
            res = _one_thread(_async, x, W, steps, generator, xi)
        states, n_steps, converged, energy, trace = res
        final = states.to(out_dtype)
        overlaps = (states @ self.patterns.to(device=s.device, dtype=work).T / N).to(out_dtype)
        kw: dict[str, Any] = {}
        if trace is not None:
            t, m, e = trace
            kw = {"trace_time": t, "trace_overlaps": (m / N).to(out_dtype), "trace_energy": (e / N).to(out_dtype)}
        return HopfieldRetrieval(states=final, overlaps=overlaps, steps=n_steps, converged=converged,
                         energy=(energy / N).to(out_dtype), mode=mode, **kw)

    def extra_repr(self) -> str:
        return (f"n_units={self.hidden_size}, n_patterns={self.n_patterns}, load={self.load:.3g}, "
                f"beta={self.beta:g}, tau={self.tau:g}, dt={self.dt:g}, input_drive={self.input_drive}")


# ---------------------------------------------------------------------------------------------- helpers
def random_patterns(n_patterns: int, n_units: int, *, seed: int = 0) -> torch.Tensor:
    """Independent random +-1 patterns (p = 1/2 each), float64. Shape: (n_patterns, n_units)."""
    gen = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (n_patterns, n_units), generator=gen, dtype=torch.int64)
    return (2 * bits - 1).to(torch.float64)


def _some_bad_values(t: torch.Tensor) -> list[float]:
    bad = t[~((t == 1) | (t == -1))].flatten()[:3]
    return [float(v) for v in bad]


def _check_patterns(patterns: Any) -> torch.Tensor:
    if not isinstance(patterns, torch.Tensor):
        try:
            patterns = torch.as_tensor(patterns)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"The 'patterns' parameter of {_OWN} must be a (P, N) tensor of +-1. "
                              f"Got {type(patterns).__name__} instead.") from None
    if patterns.ndim != 2:
        raise ShapeError(f"The 'patterns' parameter of {_OWN} must be 2-D, (P, N) = (n_patterns, n_units). "
                         f"Got shape {tuple(patterns.shape)} instead.")
    P, N = patterns.shape
    if P < 1 or N < 2:
        raise ShapeError(f"The 'patterns' parameter of {_OWN} must hold at least one pattern of N >= 2 "
                         f"units, shape (P, N). Got shape {tuple(patterns.shape)} instead.")
    if patterns.dtype == torch.bool or patterns.is_complex():
        raise ConfigError(f"The 'patterns' parameter of {_OWN} must contain only +1 and -1. "
                          f"Got dtype {patterns.dtype} instead.")
    if not bool(((patterns == 1) | (patterns == -1)).all()):
        raise ConfigError(f"The 'patterns' parameter of {_OWN} must contain only +1 and -1. "
                          f"Got values {_some_bad_values(patterns)} instead.")
    return patterns.detach().to(device="cpu", dtype=torch.float64)


def _one_thread(fn, *args):
    """Run ``fn`` with one intra-op thread (restored afterwards).

    The event-driven loop is a long chain of small tensor operations; splitting each over threads
    costs more in synchronisation than it saves, by 10-40x on a busy machine.
    """
    before = torch.get_num_threads()
    if before == 1:
        return fn(*args)
    torch.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(before)


def _sync(s: torch.Tensor, W: torch.Tensor, steps: int):
    B = s.shape[0]
    h = s @ W
    energy = [-0.5 * (h * s).sum(-1)]
    n_steps = torch.zeros(B, dtype=torch.long)
    converged = torch.zeros(B, dtype=torch.bool)
    for _ in range(steps):
        new = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s)).to(s.dtype)
        changed = (new != s).any(-1).cpu()
        converged |= ~changed
        n_steps += changed.long()
        s = new
        h = s @ W
        energy.append(-0.5 * (h * s).sum(-1))
        if bool(converged.all()):
            break
    converged |= ~((s * h) < 0).any(-1).cpu()
    E = torch.stack(energy, dim=1)
    E = torch.cat([E, E[:, -1:].expand(B, steps + 1 - E.shape[1])], dim=1)
    return s, n_steps, converged, E, None


def _async(s: torch.Tensor, W: torch.Tensor, steps: int, generator: torch.Generator | None,
           xi: torch.Tensor | None):
    """Event-driven asynchronous dynamics (see the module docstring).

    Works on a compacted set of the states still running: each iteration flips, for every running
    state, the first unit ahead in its current sweep's order whose field opposes it, or ends that
    state's sweep. Energies (and recorded overlaps) are in the integer units of ``N J``.
    """
    B, N = s.shape
    dev = s.device
    out = s.clone()                                             # final states, written as states stop
    h0 = s @ W
    E = -0.5 * (h0 * s).sum(-1)                                 # current energy of every state
    energy = torch.empty(B, steps + 1, dtype=s.dtype, device=dev)
    energy[:, 0] = E
    sweeps = torch.zeros(B, dtype=torch.long, device=dev)      # sweeps performed (all of which flip)
    converged = ~((s * h0) < 0).any(-1)
    keys_all = torch.rand((B, N), generator=generator).to(dev)  # visiting order of the first sweep
    ids = torch.nonzero(~converged).flatten() if steps > 0 else torch.zeros(0, dtype=torch.long, device=dev)
    # the working set: states still running
    sw, hw, kw = s[ids], h0[ids], keys_all[ids]
    pos = torch.full((ids.numel(),), -1.0, dtype=kw.dtype, device=dev)
    sweeps[ids] = 1
    inf = torch.tensor(float("inf"), dtype=kw.dtype, device=dev)
    if xi is not None:
        m = s @ xi.T
        keys_rec, pos_rec = keys_all.clone(), torch.full((B,), -1.0, dtype=kw.dtype, device=dev)
        running = torch.zeros(B, dtype=torch.bool, device=dev)
        running[ids] = True
        t_rec, m_rec, e_rec = [torch.zeros(B, dtype=torch.float64)], [m.clone()], [E.clone()]
    while ids.numel() > 0:
        ahead = ((sw * hw) < 0) & (kw > pos[:, None])
        k, unit = torch.where(ahead, kw, inf).min(dim=-1)
        flips = torch.isfinite(k)
        # flip the first unstable unit ahead: h += 2 s_new W_i, E += 2 s_old h_i (< 0)
        r = torch.arange(ids.numel(), device=dev)
        old = sw[r, unit]
        coef = torch.where(flips, -2.0 * old, torch.zeros_like(old))
        E[ids] += coef * -hw[r, unit]
        sw[r, unit] = old + coef
        hw.addcmul_(coef[:, None], W[unit])
        pos = torch.where(flips, k, pos)
        if xi is not None:
            m[ids] += coef[:, None] * xi[:, unit].T
            pos_rec[ids] = pos
        # states at the end of a sweep: record the energy, then stop (fixed point or budget) or go on
        ended = ~flips
        if bool(ended.any()):
            eb = ids[ended]
            energy[eb, sweeps[eb]] = E[eb]
            still = ((sw[ended] * hw[ended]) < 0).any(-1)
            converged[eb[~still]] = True
            go_on = ended.clone()
            go_on[ended] = still & (sweeps[eb] < steps)
            stop = ended & ~go_on
            if bool(go_on.any()):
                gb = ids[go_on]
                sweeps[gb] += 1
                kw[go_on] = torch.rand((gb.numel(), N), generator=generator).to(dev)
                pos[go_on] = -1.0
                if xi is not None:
                    keys_rec[gb], pos_rec[gb] = kw[go_on], -1.0
            if bool(stop.any()):
                out[ids[stop]] = sw[stop]
                keep = ~stop
                if xi is not None:
                    running[ids[stop]] = False
                ids, sw, hw, kw, pos = ids[keep], sw[keep], hw[keep], kw[keep], pos[keep]
        if xi is not None:
            frac = (keys_rec <= pos_rec[:, None]).sum(-1).to(torch.float64) / N
            t = torch.where(running, (sweeps - 1).to(torch.float64) + frac, sweeps.to(torch.float64))
            t_rec.append(t.cpu())
            m_rec.append(m.clone())
            e_rec.append(E.clone())
    # pad each state's energy trace with its final value after it stopped
    done = torch.arange(steps + 1, device=dev)[None, :] > sweeps[:, None]
    energy = torch.where(done, E[:, None], energy)
    trace = None
    if xi is not None:
        trace = (torch.stack(t_rec), torch.stack(m_rec), torch.stack(e_rec))
    return out, sweeps.cpu(), converged.cpu(), energy, trace
