"""Lyapunov spectra by the QR (Benettin) method with the analytic Jacobian.

The exponents are those of the map the library actually simulates: the Euler map
``x -> x + dt f(x, u)`` in continuous time (Jacobian ``I + dt * model.jacobian(x, u)``, which for a rate
network is ``(1 - alpha) I + alpha J diag(phi'(x))``), the map itself in discrete time (Jacobian
``model.jacobian(x, u)``). An orthonormal basis of k tangent vectors is propagated with that Jacobian
and re-orthonormalised by QR; the exponents are the time averages of ``log |R_ii|`` (Benettin et al.
1980; Engelken, Wolf & Abbott 2023).

Units. Continuous time: **per ms** (the library's time unit), so a linear network ``dx/dt = A x``
gives ``log|eig(I + dt A)| / dt``, which tends to ``Re eig(A)`` as ``dt -> 0``;
:attr:`LyapunovSpectrum.per_tau` gives them per membrane time constant, the unit papers quote.
Discrete time: **per step**, so a linear network ``x(t+1) = A x(t)`` gives ``log|eig(A)|``.

Noise is off: the spectrum is that of the deterministic system, autonomous (zero input) or driven
by a given input sequence.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._threads import few_threads
from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..dynamics import euler_step
from ..errors import ConfigError, RnnscopeError, ShapeError
from ..models import AbstractRNN
from ._checks import check_state
from ._results_io import load_result, save_result

__all__ = [
    "LyapunovSpectrum",
    "lyapunov_spectrum",
    "largest_lyapunov_exponent",
    "largest_exponent_from_trajectories",
    "kaplan_yorke_dimension",
]

#: number of blocks the measured run is split into (history checkpoints and the standard error)
_N_BLOCKS = 20


# ---------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """Lyapunov exponents of a network, largest first, with their convergence.

    Attributes:
        exponents: the exponents, sorted largest first; per ms in continuous time, per step in
            discrete time (see :attr:`per_tau`).
        convergence: standard error of each exponent, from the spread of the exponents measured on
            20 consecutive blocks of the run (``std(block estimates) / sqrt(20)``; fewer blocks when
            the run has fewer than 20 re-orthonormalisations). A statistical error bar that assumes
            blocks longer than the correlation time; it does not include the O(1 / n_steps) bias of
            the initial tangent basis (``basis_transient_steps`` removes most of that). NaN with a
            single block.
        history: running estimates (same units) at the end of each block, to judge convergence by eye.
        history_steps: the number of measured steps at each row of ``history``.
        n_steps: measured steps (transients excluded).
        dt: the model's step in ms.
        time: ``"continuous"`` or ``"discrete"``.
        hidden_size: N, the dimension of the state (the length of a full spectrum).
        tau: the membrane time constant in ms for a continuous-time rate network, else None.

    Shape:
        - exponents, convergence: (k,)
        - history: (n_checkpoints, k); history_steps: (n_checkpoints,)
    """

    exponents: torch.Tensor
    convergence: torch.Tensor
    history: torch.Tensor
    history_steps: torch.Tensor
    n_steps: int
    dt: float
    time: str
    hidden_size: int
    tau: float | None = None

    @property
    def largest(self) -> float:
        """The largest exponent (same units as :attr:`exponents`)."""
        return float(self.exponents[0])

    @property
    def sum(self) -> float:
        """The sum of the computed exponents (the mean log volume growth rate for a full spectrum)."""
        return float(self.exponents.sum())

    @property
    def n_positive(self) -> int:
        """How many computed exponents are > 0 (no tolerance: compare with :attr:`convergence`)."""
        return int((self.exponents > 0).sum())

    @property
    def is_full(self) -> bool:
        """Whether all ``hidden_size`` exponents were computed."""
        return int(self.exponents.shape[0]) == self.hidden_size

    @property
    def kaplan_yorke_dimension(self) -> float:
        """The Kaplan-Yorke (Lyapunov) dimension of the attractor, see :func:`kaplan_yorke_dimension`.

        NaN for a partial spectrum whose cumulative sum is still >= 0 at its last exponent (the
        dimension is then at least k and the missing exponents are needed).
        """
        ex = self.exponents
        if not self.is_full and bool(ex.sum() >= 0):
            return math.nan
        return kaplan_yorke_dimension(ex)

    @property
    def per_tau(self) -> torch.Tensor:
        """The exponents in units of 1 / tau (continuous-time rate networks only)."""
        if self.time != "continuous" or self.tau is None:
            raise ConfigError(
                "LyapunovSpectrum.per_tau needs a continuous-time network with a membrane time constant "
                f"tau. Got time={self.time!r}, tau={self.tau!r} instead; use 'exponents'."
            )
        return self.exponents * self.tau

    def save(self, path: str | Path) -> Path:
        """Write the result to one ``.npz`` file (arrays plus JSON metadata); returns the path."""
        arrays = {"exponents": self.exponents, "convergence": self.convergence, "history": self.history,
                  "history_steps": self.history_steps}
        meta = {"n_steps": self.n_steps, "dt": self.dt, "time": self.time, "hidden_size": self.hidden_size,
                "tau": self.tau}
        return save_result(path, "LyapunovSpectrum", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> LyapunovSpectrum:
        """Read a result written by :meth:`save`."""
        t, meta = load_result(path, "LyapunovSpectrum", ("exponents", "convergence", "history", "history_steps"))
        return cls(
            exponents=t["exponents"], convergence=t["convergence"], history=t["history"],
            history_steps=t["history_steps"], n_steps=int(meta["n_steps"]), dt=float(meta["dt"]),
            time=str(meta["time"]), hidden_size=int(meta["hidden_size"]),
            tau=None if meta["tau"] is None else float(meta["tau"]),
        )

    def __repr__(self) -> str:
        k = int(self.exponents.shape[0])
        unit = "1/ms" if self.time == "continuous" else "1/step"
        return (f"LyapunovSpectrum(k={k} of {self.hidden_size}, largest={self.largest:.4g} {unit}, "
                f"n_positive={self.n_positive}, n_steps={self.n_steps})")


def kaplan_yorke_dimension(exponents: torch.Tensor | np.ndarray | Sequence[float]) -> float:
    """The Kaplan-Yorke dimension ``D = j + (l_1 + ... + l_j) / |l_{j+1}|`` of a Lyapunov spectrum.

    The exponents are sorted largest first; ``j`` is the largest index whose cumulative sum is >= 0.
    ``D = 0`` if the largest exponent is < 0 (a stable fixed point), and ``D = len(exponents)`` if the
    cumulative sum never becomes negative (the spectrum is taken to be complete).

    Shape:
        - exponents: (k,)

    Example:
        >>> kaplan_yorke_dimension([1.0, -0.5, -2.0])
        2.25
    """
    ex = torch.as_tensor(np.asarray(exponents, dtype=np.float64) if not isinstance(exponents, torch.Tensor)
                         else exponents.detach().cpu().to(torch.float64))
    if ex.ndim != 1:
        raise ShapeError(f"The 'exponents' parameter of kaplan_yorke_dimension must be 1-D, shape (k,). "
                         f"Got shape {tuple(ex.shape)} instead.")
    if bool(torch.isnan(ex).any()) or bool((ex == math.inf).any()):
        raise ConfigError(f"The 'exponents' parameter of kaplan_yorke_dimension must not contain NaN or "
                          f"+inf. Got {ex.tolist()} instead.")
    if ex.numel() == 0:
        return 0.0
    ex = torch.sort(ex, descending=True).values
    csum = torch.cumsum(ex, 0)
    nonneg = torch.nonzero(csum >= 0).flatten()
    if nonneg.numel() == 0:
        return 0.0
    j = int(nonneg[-1]) + 1  # the cumulative sum is non-increasing once exponents turn negative
    if j == ex.numel():
        return float(j)
    return float(j + csum[j - 1] / ex[j].abs())


# ---------------------------------------------------------------------------------------- setup
@dataclass(frozen=True)
class _Setup:
    model: AbstractRNN          # working copy in the computation dtype
    x0: torch.Tensor            # (N,)
    inputs: torch.Tensor        # (T, input_size), cycled
    drive: torch.Tensor         # (T, N), model.drive(inputs)
    h: float                    # time per step: dt (ms) in continuous time, 1 in discrete time
    generator: torch.Generator  # seeded; draws the initial state (if not given) and the tangent basis
    tau: float | None


def _prepare(owner: str, model: AbstractRNN, inputs, initial_state, seed: int, dtype: torch.dtype) -> _Setup:
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {owner} must be an rnnscope AbstractRNN (e.g. a RateRNN). "
                          f"Got {type(model).__name__} instead.")
    seed = check_seed(owner, "seed", seed)
    check_choice(owner, "dtype", dtype, (torch.float64, torch.float32))
    with torch.no_grad():
        same = all(p.dtype == dtype for p in model.parameters() if p.is_floating_point())
        work = model if same else model.for_analysis(dtype)
        device = work.initial_state(1).device
        I = model.input_size
        if inputs is None:
            u = torch.zeros(1, I, dtype=dtype, device=device)
        else:
            if not isinstance(inputs, torch.Tensor):
                raise ShapeError(f"The 'inputs' parameter of {owner} must be a torch.Tensor of shape (time, {I}) "
                                 f"or (1, time, {I}), or None. Got {type(inputs).__name__} instead.")
            u = inputs[0] if inputs.ndim == 3 and inputs.shape[0] == 1 else inputs
            if u.ndim != 2 or u.shape[1] != I or u.shape[0] == 0:
                raise ShapeError(f"The 'inputs' parameter of {owner} must have shape (time, {I}) or (1, time, {I}) "
                                 f"with time >= 1 (input_size={I}). Got {tuple(inputs.shape)} instead.")
            u = u.detach().to(device=device, dtype=dtype)
            if not bool(torch.isfinite(u).all()):
                raise ConfigError(f"The 'inputs' parameter of {owner} must be finite. Got NaN or inf values instead.")
        drive = work.drive(u)
        gen = torch.Generator().manual_seed(seed)
        N = work.hidden_size
        if initial_state is None:
            x0 = work.initial_state(1)[0].to(dtype) + torch.randn(N, generator=gen, dtype=torch.float64).to(
                device=device, dtype=dtype)
        else:
            x0 = check_state(owner, work, initial_state).to(device=device, dtype=dtype)
    continuous = work.time == "continuous"
    tau = float(work.time_constant) if continuous and work.time_constant is not None else None
    return _Setup(work, x0.clone(), u, drive, float(work.dt) if continuous else 1.0, gen, tau)


def _check_steps(owner: str, n_steps, transient_steps, basis_transient_steps) -> tuple[int, int, int]:
    n_steps = check_int(owner, "n_steps", n_steps, low=1)
    transient_steps = check_int(owner, "transient_steps", transient_steps, low=0)
    if basis_transient_steps is None:
        basis_transient_steps = n_steps // 10
    basis_transient_steps = check_int(owner, "basis_transient_steps", basis_transient_steps, low=0)
    return n_steps, transient_steps, basis_transient_steps


def _show_progress(owner: str, progress) -> bool:
    if progress is None:
        return sys.stderr is not None and sys.stderr.isatty()
    return check_bool(owner, "progress", progress)


# ---------------------------------------------------------------------------------------- the loop
class _Tangent:
    """State plus k tangent vectors, advanced by the Euler map (or discrete map) and its Jacobian.

    The tangent vectors move with the model's :meth:`~rnnscope.models.AbstractRNN.jacobian_product_fn`:
    ``Q <- Q + dt A(x) Q`` (continuous) or ``Q <- A(x) Q`` (discrete), in place. A rate network does
    this without the N x N Jacobian (one product with J per step); other models form A(x).
    """

    def __init__(self, s: _Setup, Q: torch.Tensor) -> None:
        m = s.model
        self.s = s
        self.x = s.x0
        self.Q = Q.contiguous()
        self.flow = m.flow_fn()
        self.jvp = m.jacobian_product_fn()
        self.continuous = m.time == "continuous"
        self.T = s.drive.shape[0]

    def advance_state(self, g: int) -> None:
        self.x = euler_step(self.s.model, self.flow, self.x, self.s.drive[g % self.T])

    def advance(self, g: int) -> None:
        drive = self.s.drive[g % self.T]
        if self.continuous:  # Q <- Q + dt A Q
            self.jvp(self.x, self.Q, drive, scale=self.s.model.dt, add=1.0, out=self.Q)
        else:
            self.Q = self.jvp(self.x, self.Q, drive)
        self.advance_state(g)

    def renormalise(self) -> torch.Tensor:
        Q, logs = _orthonormalise(self.Q)
        self.Q.copy_(Q)  # keep the buffer row-major (QR returns column-major)
        return logs


class _Pair:
    """Two trajectories a small distance apart; the separation is rescaled to ``d0`` on renormalising."""

    def __init__(self, s: _Setup, direction: torch.Tensor, d0: float) -> None:
        self.s = s
        self.flow = s.model.flow_fn()
        self.T = s.drive.shape[0]
        self.d0 = d0
        self.x = s.x0
        self.direction = direction / torch.linalg.vector_norm(direction)
        self.y = None

    def advance_state(self, g: int) -> None:
        self.x = euler_step(self.s.model, self.flow, self.x, self.s.drive[g % self.T])

    def advance(self, g: int) -> None:
        if self.y is None:
            self.y = self.x + self.d0 * self.direction
        drive = self.s.drive[g % self.T]
        self.y = euler_step(self.s.model, self.flow, self.y, drive)
        self.advance_state(g)

    def renormalise(self) -> torch.Tensor:
        if self.y is None:
            self.y = self.x + self.d0 * self.direction
            return torch.zeros(1, dtype=self.x.dtype, device=self.x.device)
        d = self.y - self.x
        r = torch.linalg.vector_norm(d)
        self.y = self.x + d * (self.d0 / r)
        return torch.log(r / self.d0).reshape(1)


def _orthonormalise(Q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Q R = Q_in`` with ``diag(R) > 0``; returns the new Q and ``log |R_ii|``."""
    if Q.shape[1] == 1:
        r = torch.linalg.vector_norm(Q)
        return Q / r, torch.log(r).reshape(1)
    # geqrf + householder_product is torch.linalg.qr's reduced mode without its parallel wrapper, which
    # costs milliseconds per call on a busy 2-core machine even for tiny matrices
    a, tau = torch.geqrf(Q)
    d = torch.diagonal(a)  # diag(R)
    Q = torch.linalg.householder_product(a, tau)
    sign = torch.where(d < 0, -1.0, 1.0).to(Q.dtype)
    return Q * sign, torch.log(d.abs())


def _run(
    owner: str,
    system: _Tangent | _Pair,
    k: int,
    n_steps: int,
    transient_steps: int,
    basis_transient_steps: int,
    every: int,
    show_progress: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Transients, then the measured run in blocks. Returns (exponents, convergence, history, steps)."""
    s = system.s
    total = transient_steps + basis_transient_steps + n_steps
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=owner, unit="step", leave=False)

    def tick(n: int = 1) -> None:
        if bar is not None:
            bar.update(n)

    def check_finite(g: int) -> None:
        if not bool(torch.isfinite(system.x).all()):
            raise RnnscopeError(
                f"{owner}: the state became NaN or infinite by step {g}; the trajectory diverges and has no "
                "Lyapunov spectrum. Check the weights, or reduce dt in continuous time."
            )

    g = 0  # global step index: the input at step g is inputs[g % time]
    N = s.model.hidden_size
    try:
        with torch.no_grad(), few_threads(N * N * (k + 1)):
            for _ in range(transient_steps):
                system.advance_state(g)
                g += 1
                tick()
            since = 0
            for _ in range(basis_transient_steps):
                system.advance(g)
                g += 1
                since += 1
                if since == every:
                    system.renormalise()
                    since = 0
                tick()
            system.renormalise()  # the measurement starts from an orthonormal basis
            check_finite(g)

            # block ends on multiples of `every` where possible, so blocks add no extra QR
            n_intervals = -(-n_steps // every)
            n_blocks = min(_N_BLOCKS, n_intervals)
            ends = [min(n_steps, every * round((b + 1) * n_intervals / n_blocks)) for b in range(n_blocks)]
            sums = torch.zeros(n_blocks, k, dtype=torch.float64)
            t = 0
            for b, end in enumerate(ends):
                acc = torch.zeros(k, dtype=s.x0.dtype, device=s.x0.device)
                since = 0
                while t < end:
                    system.advance(g)
                    g += 1
                    t += 1
                    since += 1
                    if since == every or t == end:
                        acc += system.renormalise()
                        since = 0
                    tick()
                sums[b] = acc.to(device="cpu", dtype=torch.float64)
                check_finite(g)
    finally:
        if bar is not None:
            bar.close()

    steps = torch.tensor(ends, dtype=torch.int64)
    lengths = torch.diff(steps, prepend=torch.zeros(1, dtype=torch.int64)).to(torch.float64)
    exponents = sums.sum(0) / (n_steps * s.h)
    history = torch.cumsum(sums, 0) / (steps.to(torch.float64)[:, None] * s.h)
    if n_blocks >= 2:
        block_rates = sums / (lengths[:, None] * s.h)
        convergence = block_rates.std(0, correction=1) / math.sqrt(n_blocks)
    else:
        convergence = torch.full((k,), math.nan, dtype=torch.float64)
    order = torch.argsort(exponents, descending=True, stable=True)
    return exponents[order], convergence[order], history[:, order], steps


def _result(s: _Setup, out, n_steps: int) -> LyapunovSpectrum:
    exponents, convergence, history, steps = out
    m = s.model
    return LyapunovSpectrum(exponents=exponents, convergence=convergence, history=history, history_steps=steps,
                            n_steps=n_steps, dt=float(m.dt), time=m.time, hidden_size=m.hidden_size, tau=s.tau)


def _initial_basis(s: _Setup, k: int) -> torch.Tensor:
    """Orthonormalised standard normal columns, drawn one column at a time.

    Column j is the same whatever k, so the first k vectors of a full-spectrum run start (and, the QR
    being column by column, stay) where a k-exponent run's vectors are.
    """
    N = s.model.hidden_size
    A = torch.stack([torch.randn(N, generator=s.generator, dtype=torch.float64) for _ in range(k)], dim=1)
    Q, _ = _orthonormalise(A)
    return Q.to(device=s.x0.device, dtype=s.x0.dtype)


# ---------------------------------------------------------------------------------------- public API
def lyapunov_spectrum(
    model: AbstractRNN,
    inputs: torch.Tensor | None = None,
    *,
    n_exponents: int | None = None,
    n_steps: int = 10_000,
    transient_steps: int = 1_000,
    basis_transient_steps: int | None = None,
    initial_state: torch.Tensor | None = None,
    qr_every: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    progress: bool | None = None,
) -> LyapunovSpectrum:
    """The k largest Lyapunov exponents (or all N) by the QR method with the analytic Jacobian.

    The state runs ``transient_steps`` steps alone (onto the attractor), then with k tangent vectors
    for ``basis_transient_steps`` steps (aligning the basis; logs discarded), then ``n_steps`` measured
    steps. The tangent vectors follow the Jacobian of the simulated step: ``I + dt * jacobian(x, u)``
    (continuous time, Euler) or ``jacobian(x, u)`` (discrete time). Every ``qr_every`` steps the basis
    is re-orthonormalised by QR (``diag(R) > 0``) and ``log R_ii`` accumulated; the exponents are the
    accumulated logs divided by the measured time. Re-orthonormalising less often gives the same
    exponents in exact arithmetic (the diagonal of a product of triangular matrices is the product of
    their diagonals) and saves the QR, as long as the basis does not collapse in between:
    ``qr_every * dt * (l_1 - l_k)`` should stay below ~20.

    For a :class:`~rnnscope.models.RateRNN` the Jacobian is never built: each step costs one product
    ``J @ (phi'(x) * Q)``. Any other model goes through ``model.jacobian(x, u)``. Small problems
    (``N^2 (k + 1) < 2^20`` multiply-adds per step) run with one torch thread for the duration of the
    call (the thread count is restored afterwards): threads only add synchronisation to such steps.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`; its noise is ignored.
        inputs: None for the autonomous network (zero input; biases still act), or an input sequence
            of shape (time, input_size) or (1, time, input_size); step g (counted from the first
            transient step) receives ``inputs[g % time]``, so a short sequence is cycled.
        n_exponents: k, how many exponents (the k largest); None for all N.
        n_steps: measured steps.
        transient_steps: steps of the state alone before the basis starts.
        basis_transient_steps: steps of state and basis whose logs are discarded; None for
            ``n_steps // 10``.
        initial_state: (N,) or (1, N); None for the model's initial state plus a standard normal
            perturbation drawn from ``seed`` (a network started exactly at a fixed point, such as a
            random network at 0, would otherwise never leave it).
        qr_every: steps between re-orthonormalisations.
        seed: seeds the initial-state perturbation and the random initial basis.
        dtype: the computation's precision (float64 recommended; the model is copied, never changed).
        progress: show a tqdm bar; None shows one when stderr is a terminal.

    Returns:
        A :class:`LyapunovSpectrum`; ``exponents`` per ms (continuous) or per step (discrete), sorted
        largest first; ``per_tau`` in units of 1 / tau.

    Shape:
        - inputs: (time, input_size) or (1, time, input_size)
        - initial_state: (hidden_size,)
        - result.exponents: (k,)

    Example:
        >>> model = RateRNN(0, 400, 0, tau=1.0, dt=0.1, g=2.0, autapses=False, seed=0)
        >>> spectrum = lyapunov_spectrum(model, n_steps=2_000, qr_every=10)
        >>> spectrum.per_tau[:3], spectrum.kaplan_yorke_dimension
    """
    owner = "lyapunov_spectrum"
    s = _prepare(owner, model, inputs, initial_state, seed, dtype)
    N = s.model.hidden_size
    k = N if n_exponents is None else check_int(owner, "n_exponents", n_exponents, low=1, high=N)
    n_steps, transient_steps, basis_transient_steps = _check_steps(owner, n_steps, transient_steps,
                                                                   basis_transient_steps)
    qr_every = check_int(owner, "qr_every", qr_every, low=1)
    show = _show_progress(owner, progress)
    with torch.no_grad():
        system = _Tangent(s, _initial_basis(s, k))
    out = _run(owner, system, k, n_steps, transient_steps, basis_transient_steps, qr_every, show)
    return _result(s, out, n_steps)


def largest_lyapunov_exponent(
    model: AbstractRNN,
    inputs: torch.Tensor | None = None,
    *,
    n_steps: int = 10_000,
    transient_steps: int = 1_000,
    basis_transient_steps: int | None = None,
    initial_state: torch.Tensor | None = None,
    normalise_every: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    progress: bool | None = None,
) -> LyapunovSpectrum:
    """The largest Lyapunov exponent alone: one tangent vector, normalised instead of a QR.

    Same arguments and units as :func:`lyapunov_spectrum` (``normalise_every`` plays the role of
    ``qr_every``); costs one matrix-vector product per step. Returns a :class:`LyapunovSpectrum` with
    k = 1; ``result.largest`` is the number.

    Example:
        >>> largest_lyapunov_exponent(model, n_steps=5_000).largest
    """
    owner = "largest_lyapunov_exponent"
    s = _prepare(owner, model, inputs, initial_state, seed, dtype)
    n_steps, transient_steps, basis_transient_steps = _check_steps(owner, n_steps, transient_steps,
                                                                   basis_transient_steps)
    every = check_int(owner, "normalise_every", normalise_every, low=1)
    show = _show_progress(owner, progress)
    with torch.no_grad():
        system = _Tangent(s, _initial_basis(s, 1))
    out = _run(owner, system, 1, n_steps, transient_steps, basis_transient_steps, every, show)
    return _result(s, out, n_steps)


def largest_exponent_from_trajectories(
    model: AbstractRNN,
    inputs: torch.Tensor | None = None,
    *,
    n_steps: int = 10_000,
    transient_steps: int = 1_000,
    basis_transient_steps: int | None = None,
    initial_state: torch.Tensor | None = None,
    separation: float = 1e-8,
    renormalise_every: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    progress: bool | None = None,
) -> LyapunovSpectrum:
    """The largest exponent from two nearby trajectories, without any Jacobian (a cross-check).

    After the transient a second trajectory starts ``separation`` away in a random direction; both
    follow the model's own step (``model.vector_field``), and every ``renormalise_every`` steps the
    growth ``log(d / separation)`` of their distance d is accumulated and the second trajectory is
    pulled back to distance ``separation`` along the current difference. Same units as
    :func:`lyapunov_spectrum`; returns a :class:`LyapunovSpectrum` with k = 1.
    """
    owner = "largest_exponent_from_trajectories"
    s = _prepare(owner, model, inputs, initial_state, seed, dtype)
    n_steps, transient_steps, basis_transient_steps = _check_steps(owner, n_steps, transient_steps,
                                                                   basis_transient_steps)
    every = check_int(owner, "renormalise_every", renormalise_every, low=1)
    d0 = check_float(owner, "separation", separation, low=0, low_inclusive=False)
    show = _show_progress(owner, progress)
    with torch.no_grad():
        system = _Pair(s, _initial_basis(s, 1)[:, 0], d0)
    out = _run(owner, system, 1, n_steps, transient_steps, basis_transient_steps, every, show)
    return _result(s, out, n_steps)
