"""Periodic orbits of any model at a constant input, with their Floquet multipliers.

Continuous time. A periodic orbit of ``dx/dt = f(x)`` (the model's flow at the input, per ms) is a
root of the shooting function

    G(x0, T) = ( phi_T(x0) - x0 ,  n . (x0 - p) )

where ``phi_T`` is the flow map of the ODE over time ``T`` and the second row is a phase condition
(the orbit starts on the plane through the reference point ``p`` normal to ``n = f(p) / |f(p)|``,
which removes the freedom to slide the start along the orbit). ``phi_T`` and its Jacobian, the
monodromy matrix ``M = d phi_T / d x0``, come from one accurate integration
(:func:`rnnscope.numerics.integrate`, DOP853 to rtol 1e-11) of the ODE together with its variational
equation ``dM/dt = A(x(t)) M``, ``A`` the Jacobian of the flow (the model's
:meth:`~rnnscope.models.AbstractRNN.jacobian_product_fn`); ``d phi_T / dT = f(phi_T(x0))``. The
root is found by the library's one trust-region Newton solver
(:func:`rnnscope.numerics.newton_search`). This is the orbit of the ODE, not of the Euler map the
network is simulated with. The Floquet multipliers are the eigenvalues of ``M``: for an autonomous
ODE one of them equals 1 (the direction along the orbit), and the orbit is stable when all the
others lie inside the unit circle.

Discrete time. A cycle of period ``k`` steps is a root of ``F(x) = f^k(x) - x``; its multipliers are
the eigenvalues of the product of the map's Jacobians along the cycle (no multiplier is 1 in
general).

Without ``period_guess`` the period is first estimated: the state is integrated (or iterated) past a
transient and the first return to the plane through it, crossed in the same direction (continuous),
or the first near return (discrete), gives the guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._threads import few_threads
from .._validation import check_float, check_int
from ..errors import ConfigError, ConvergenceError, ShapeError
from ..models import AbstractRNN
from ..numerics import NonlinearSystem, integrate, newton_search
from ._checks import check_state
from ._results_io import load_result, save_result

__all__ = ["PeriodicOrbit", "find_periodic_orbit", "time_scale"]

_OWNER = "find_periodic_orbit"
_ARRAYS = ("states", "times", "floquet_multipliers", "inputs")


# ---------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class PeriodicOrbit:
    """A periodic orbit (continuous time) or cycle (discrete time) of a model at a constant input.

    Attributes:
        period: the period in ms (a cycle of k steps: ``k * dt``).
        states: the states along one period, starting at the orbit's phase point.
        times: the time of each state in ms, from 0 (exclusive of ``period``).
        floquet_multipliers: eigenvalues of the monodromy matrix (continuous) or of the product of
            the map's Jacobians over one cycle (discrete), complex, sorted by decreasing modulus.
        inputs: the constant input.
        residual: ``|phi_T(x0) - x0|`` (continuous) or ``|f^k(x0) - x0|`` (discrete) at the solution.
        time: ``"continuous"`` or ``"discrete"``.
        dt: the model's step in ms.
        eigenvalue_tol: a multiplier counts as unstable when its modulus exceeds ``1 + eigenvalue_tol``.

    Shape:
        - states: (n, hidden_size); times: (n,); floquet_multipliers: (hidden_size,); inputs: (input_size,)
    """

    period: float
    states: torch.Tensor
    times: torch.Tensor
    floquet_multipliers: torch.Tensor
    inputs: torch.Tensor
    residual: float
    time: str = "continuous"
    dt: float = 1.0
    eigenvalue_tol: float = 1e-6

    def __post_init__(self) -> None:
        if self.time not in ("continuous", "discrete"):
            raise ConfigError(f"The 'time' parameter of PeriodicOrbit must be one of 'continuous', 'discrete'. "
                              f"Got {self.time!r} instead.")
        if self.states.ndim != 2 or self.times.shape != self.states.shape[:1]:
            raise ShapeError(f"The 'states' and 'times' parameters of PeriodicOrbit must have shapes (n, hidden_size) "
                             f"and (n,). Got {tuple(self.states.shape)} and {tuple(self.times.shape)} instead.")
        if self.floquet_multipliers.shape != (self.states.shape[1],):
            raise ShapeError(f"The 'floquet_multipliers' parameter of PeriodicOrbit must have shape "
                             f"({self.states.shape[1]},). Got {tuple(self.floquet_multipliers.shape)} instead.")

    @property
    def hidden_size(self) -> int:
        return int(self.states.shape[1])

    @property
    def n_steps(self) -> int:
        """The period in steps of the map (discrete time); 0 in continuous time."""
        return int(round(self.period / self.dt)) if self.time == "discrete" else 0

    @property
    def trivial_index(self) -> int | None:
        """Index of the multiplier along the orbit (the one closest to 1) in continuous time, else None."""
        if self.time != "continuous":
            return None
        return int((self.floquet_multipliers - 1).abs().argmin())

    @property
    def trivial_multiplier(self) -> complex | None:
        """The multiplier along the orbit, 1 up to the integration tolerance (continuous time)."""
        i = self.trivial_index
        return None if i is None else complex(self.floquet_multipliers[i])

    def _nontrivial(self) -> torch.Tensor:
        mu = self.floquet_multipliers
        i = self.trivial_index
        return mu if i is None else torch.cat([mu[:i], mu[i + 1:]])

    @property
    def n_unstable(self) -> int:
        """Multipliers (the trivial one excluded) with modulus above ``1 + eigenvalue_tol``."""
        return int((self._nontrivial().abs() > 1 + self.eigenvalue_tol).sum())

    @property
    def is_stable(self) -> bool:
        return self.n_unstable == 0

    @property
    def stability(self) -> str:
        """``"stable"`` or ``"unstable-k"`` (k multipliers outside the unit circle)."""
        return "stable" if self.is_stable else f"unstable-{self.n_unstable}"

    @property
    def floquet_exponents(self) -> torch.Tensor:
        """``log(mu) / period``, per ms, in the order of the multipliers (real part: the rate of
        growth of a perturbation, averaged over one period)."""
        return torch.log(self.floquet_multipliers.to(torch.complex128)) / self.period

    @property
    def amplitude(self) -> float:
        """The largest distance of a state of the orbit from the orbit's mean state."""
        return float((self.states - self.states.mean(0)).norm(dim=-1).max())

    def __repr__(self) -> str:
        mu = ", ".join(f"{abs(complex(m)):.4g}" for m in self.floquet_multipliers[:4])
        return (f"PeriodicOrbit(period={self.period:.6g} ms, hidden_size={self.hidden_size}, time={self.time!r}, "
                f"{self.stability}, |multipliers|=[{mu}{', ...' if self.hidden_size > 4 else ''}])")

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file; :meth:`load` reads it back. Returns the path written."""
        meta = {"period": self.period, "residual": self.residual, "time": self.time, "dt": self.dt,
                "eigenvalue_tol": self.eigenvalue_tol}
        return save_result(path, "PeriodicOrbit", {name: getattr(self, name) for name in _ARRAYS}, meta)

    @classmethod
    def load(cls, path: str | Path) -> PeriodicOrbit:
        """Read a file written by :meth:`save`."""
        arrays, meta = load_result(path, "PeriodicOrbit", _ARRAYS)
        return cls(**arrays, period=float(meta["period"]), residual=float(meta["residual"]), time=meta["time"],
                   dt=float(meta["dt"]), eigenvalue_tol=float(meta["eigenvalue_tol"]))


# ---------------------------------------------------------------------------------------------- helpers
def time_scale(model: AbstractRNN) -> float:
    """The model's natural time unit in ms: its time constant where it has one, else ten steps."""
    tau = model.time_constant
    return float(tau) if tau is not None else 10.0 * float(model.dt)


class _Field:
    """The model's flow at one input as numpy functions for :func:`~rnnscope.numerics.integrate`:
    the state alone, or the state with a block of tangent vectors (the variational equation)."""

    def __init__(self, model: AbstractRNN, u: torch.Tensor) -> None:
        self.model = model
        self.field = model.at_input(u)
        self.jvp = model.jacobian_product_fn()
        self.N = model.hidden_size

    def flow(self, x: torch.Tensor) -> torch.Tensor:
        return self.field.flow(x)

    def rhs(self, scale: float = 1.0):
        def f(y: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return scale * self.field.flow(torch.from_numpy(y)).numpy()
        return f

    def variational_rhs(self, scale: float):
        N = self.N
        d = self.field.drive.reshape(1, -1)

        def f(y: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                t = torch.from_numpy(y)
                x, Q = t[:N].reshape(1, N), t[N:].reshape(1, N, N)
                dx = self.field.flow(x)[0]
                dQ = self.jvp(x, Q, d)[0]
                return scale * torch.cat([dx, dQ.reshape(-1)]).numpy()
        return f

    def flow_map(self, x0: torch.Tensor, T: float, rtol: float, atol: float) -> torch.Tensor:
        sol = integrate(self.rhs(T), x0.numpy(), 1.0, t_eval=[1.0], rtol=rtol, atol=atol)
        return torch.from_numpy(sol.y[-1])

    def monodromy(self, x0: torch.Tensor, T: float, rtol: float, atol: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``phi_T(x0)`` and ``d phi_T / d x0``."""
        N = self.N
        y0 = torch.cat([x0, torch.eye(N, dtype=x0.dtype).reshape(-1)]).numpy()
        sol = integrate(self.variational_rhs(T), y0, 1.0, t_eval=[1.0], rtol=rtol, atol=atol)
        y = torch.from_numpy(sol.y[-1])
        return y[:N], y[N:].reshape(N, N)


def _check_input(owner: str, model: AbstractRNN, inputs) -> torch.Tensor:
    if inputs is None:
        return torch.zeros(model.input_size, dtype=torch.float64)
    u = torch.as_tensor(inputs).detach()
    if tuple(u.shape) != (model.input_size,):
        raise ShapeError(f"The 'inputs' parameter of {owner} must have shape ({model.input_size},) (a constant "
                         f"input). Got {tuple(u.shape)} instead.")
    return u.to(torch.float64).cpu()


def _check_model(owner: str, model) -> AbstractRNN:
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {owner} must be an AbstractRNN. Got {type(model).__name__} instead.")
    return model.for_analysis().cpu()


def iterate_map(model: AbstractRNN, u: torch.Tensor, x0: torch.Tensor, steps: int) -> torch.Tensor:
    """The states ``x_1 .. x_steps`` of a discrete-time model's map at input ``u`` (no noise).

    Shape: x0 (N,) -> (steps, N)
    """
    field = model.at_input(u)
    out = torch.empty(steps, x0.shape[0], dtype=x0.dtype)
    x = x0[None]
    with torch.no_grad():
        for k in range(steps):
            x = field.flow(x)
            out[k] = x[0]
    return out


def _return_time(field: _Field, p: torch.Tensor, window: float, rtol: float, atol: float,
                 closeness: float = 0.05) -> float:
    """The first return time of the flow from ``p`` to the plane through ``p`` normal to f(p),
    crossed in the direction of f(p), within ``window`` ms, where the trajectory comes back within
    ``closeness`` times its extent (the largest distance from its mean) of ``p``."""
    n = field.flow(p[None])[0]
    n = (n / n.norm()).numpy()
    p_np = p.numpy()

    def section(_t: float, y: np.ndarray) -> float:
        return float(n @ (y - p_np))

    section.direction = 1.0  # type: ignore[attr-defined]
    sol = integrate(field.rhs(), p_np, window, events=[section], dense_output=True, rtol=rtol, atol=atol)
    times = np.asarray(sol.t_events[0]) if sol.t_events else np.zeros(0)
    times = times[times > 1e-6 * window]
    if times.size == 0:
        raise ConvergenceError(f"{_OWNER}: the trajectory from the initial state did not return to its Poincare "
                               f"section within {window:g} ms; give a 'period_guess' or a longer 'max_period'.")
    points = sol.dense(times).T  # (events, N)
    dist = np.linalg.norm(points - p_np, axis=1)
    path = sol.dense(np.linspace(0.0, window, 400)).T
    extent = float(np.linalg.norm(path - path.mean(0), axis=1).max())
    if dist.min() > closeness * max(extent, 1e-12):
        raise ConvergenceError(f"{_OWNER}: the trajectory from the initial state never came back within "
                               f"{closeness:g} of its extent ({dist.min():.3g} vs {extent:.3g}) in {window:g} ms: no "
                               f"closed orbit to start from; give a 'period_guess' to shoot anyway.")
    good = np.flatnonzero(dist <= max(2.0 * dist.min(), 1e-5 * (1 + np.linalg.norm(p_np))))
    return float(times[good[0]])


# ---------------------------------------------------------------------------------------------- search
def find_periodic_orbit(
    model: AbstractRNN,
    initial_state: torch.Tensor,
    *,
    inputs: torch.Tensor | None = None,
    period_guess: float | None = None,
    transient: float | None = None,
    max_period: float | None = None,
    n_samples: int = 200,
    tol: float = 1e-9,
    max_iterations: int = 50,
    eigenvalue_tol: float = 1e-6,
    rtol: float = 1e-11,
    atol: float = 1e-12,
) -> PeriodicOrbit:
    """A periodic orbit of ``model`` at a constant input, near the trajectory from ``initial_state``.

    See the module docstring for the method.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        initial_state: a state on or near the orbit, (hidden_size,).
        inputs: the constant input, (input_size,); None for zero input.
        period_guess: a guess of the period in ms (discrete time: rounded to whole steps); None
            estimates it from the first return of the trajectory.
        transient: how long to run the state before estimating the period, in ms; None: 20 time
            scales (:func:`time_scale`: tau, or ten steps) when the period is to be estimated, 0
            otherwise. Discrete time: rounded to whole steps.
        max_period: the longest period looked for, in ms; None: 50 time scales (discrete time: 200
            steps).
        n_samples: states returned along one period (continuous time; a discrete cycle returns its
            k states).
        tol: the orbit is accepted when ``|phi_T(x0) - x0|`` (and the phase condition) are at most
            ``tol * (1 + |x0|)``.
        max_iterations: budget of Newton steps.
        eigenvalue_tol: multipliers of modulus above ``1 + eigenvalue_tol`` are unstable.
        rtol, atol: tolerances of the ODE integration (continuous time).

    Returns:
        A :class:`PeriodicOrbit`.

    Raises:
        ConvergenceError: when no return is found, when Newton's method does not converge, or when it
            converges to a fixed point (where every period fits).

    Shape:
        - initial_state: (hidden_size,); inputs: (input_size,)
    """
    m64 = _check_model(_OWNER, model)
    x0 = check_state(_OWNER, m64, initial_state)
    u = _check_input(_OWNER, m64, inputs)
    scale = time_scale(m64)
    discrete = m64.time == "discrete"
    if period_guess is not None:
        period_guess = check_float(_OWNER, "period_guess", period_guess, low=0, low_inclusive=False)
    if transient is None:
        transient = 20.0 * scale if period_guess is None else 0.0
    transient = check_float(_OWNER, "transient", transient, low=0)
    if max_period is None:
        max_period = 200 * m64.dt if discrete else 50.0 * scale
    max_period = check_float(_OWNER, "max_period", max_period, low=0, low_inclusive=False)
    n_samples = check_int(_OWNER, "n_samples", n_samples, low=1)
    tol = check_float(_OWNER, "tol", tol, low=0, low_inclusive=False)
    max_iterations = check_int(_OWNER, "max_iterations", max_iterations, low=1)
    eigenvalue_tol = check_float(_OWNER, "eigenvalue_tol", eigenvalue_tol, low=0)
    rtol = check_float(_OWNER, "rtol", rtol, low=0, low_inclusive=False)
    atol = check_float(_OWNER, "atol", atol, low=0, low_inclusive=False)
    with few_threads(m64.hidden_size ** 3):
        if discrete:
            return _discrete_cycle(m64, u, x0, period_guess, transient, max_period, tol, max_iterations,
                                   eigenvalue_tol)
        return _continuous_orbit(m64, u, x0, period_guess, transient, max_period, n_samples, tol, max_iterations,
                                 eigenvalue_tol, rtol, atol)


def _continuous_orbit(model, u, x0, period_guess, transient, max_period, n_samples, tol, max_iterations,
                      eigenvalue_tol, rtol, atol) -> PeriodicOrbit:
    field = _Field(model, u)
    rough = dict(rtol=max(rtol, 1e-8), atol=max(atol, 1e-10))  # the transient and the guess
    if transient > 0:
        x0 = torch.from_numpy(integrate(field.rhs(), x0.numpy(), transient, t_eval=[transient], **rough).y[-1])
    f0 = field.flow(x0[None])[0]
    size = 1.0 + float(x0.norm())
    if float(f0.norm()) * time_scale(model) <= 1e-10 * size:
        raise ConvergenceError(f"{_OWNER}: the state after the transient is a fixed point (|dx/dt| = "
                               f"{float(f0.norm()):.3g} per ms); there is no orbit to follow from it.")
    T0 = period_guess if period_guess is not None else _return_time(field, x0, max_period, **rough)
    p, n = x0.clone(), f0 / f0.norm()
    N = model.hidden_size
    # the period enters as T = T0 (1 + w / L), so that w has the scale of the states
    L = max(float(x0.norm()), 1.0)

    def period(w: torch.Tensor) -> float:
        return T0 * (1.0 + float(w) / L)

    def F(z: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(z)
        for i, row in enumerate(z):
            T = period(row[N])
            if not (T > 0 and math.isfinite(T)):
                out[i] = math.nan
                continue
            out[i, :N] = field.flow_map(row[:N], T, rtol, atol) - row[:N]
            out[i, N] = n @ (row[:N] - p)
        return out

    def jacobian(z: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(z.shape[0], N + 1, N + 1, dtype=z.dtype)
        for i, row in enumerate(z):
            T = period(row[N])
            end, M = field.monodromy(row[:N], T, rtol, atol)
            out[i, :N, :N] = M - torch.eye(N, dtype=z.dtype)
            out[i, :N, N] = field.flow(end[None])[0] * T0 / L
            out[i, N, :N] = n
        return out

    start = torch.cat([x0, x0.new_zeros(1)])[None]
    tol_abs = tol * size
    z, q, conv = newton_search(NonlinearSystem(F, jacobian), start, tol_q=0.5 * tol_abs**2, radius=0.0,
                               trust_radius=L, known=start[:0], max_iterations=max_iterations, polish_steps=1,
                               progress=False, chord_steps=0, wave=0)
    if z.shape[0] == 0 or not bool(conv[0]):
        got = math.sqrt(2 * float(q[0])) if z.shape[0] else math.nan
        raise ConvergenceError(f"{_OWNER}: Newton's method on the shooting function did not converge in "
                               f"{max_iterations} iterations (residual {got:.3g}, asked {tol_abs:.3g}) from a period "
                               f"guess of {T0:.6g} ms; start closer to the orbit or give a better 'period_guess'.")
    x_star, T = z[0, :N], period(z[0, N])
    if float(field.flow(x_star[None])[0].norm()) * time_scale(model) <= 1e-8 * size:
        raise ConvergenceError(f"{_OWNER}: Newton's method converged to a fixed point, not to an orbit.")
    end, M = field.monodromy(x_star, T, rtol, atol)
    mu = torch.linalg.eigvals(M)
    mu = mu[torch.argsort(mu.abs(), descending=True, stable=True)]
    times = torch.linspace(0.0, T, n_samples + 1, dtype=torch.float64)[:-1]
    sol = integrate(field.rhs(), x_star.numpy(), T, t_eval=times.numpy(), rtol=rtol, atol=atol)
    states = torch.from_numpy(sol.y)
    return PeriodicOrbit(period=float(T), states=states, times=times, floquet_multipliers=mu, inputs=u,
                         residual=float((end - x_star).norm()), time="continuous", dt=float(model.dt),
                         eigenvalue_tol=eigenvalue_tol)


def _discrete_cycle(model, u, x0, period_guess, transient, max_period, tol, max_iterations,
                    eigenvalue_tol) -> PeriodicOrbit:
    dt = float(model.dt)
    steps = int(round(transient / dt))
    if steps > 0:
        x0 = iterate_map(model, u, x0, steps)[-1]
    size = 1.0 + float(x0.norm())
    if period_guess is not None:
        k = max(1, int(round(period_guess / dt)))
    else:
        k_max = max(1, int(round(max_period / dt)))
        path = iterate_map(model, u, x0, k_max)
        dist = (path - x0).norm(dim=-1)
        close = torch.nonzero(dist <= max(1e-6 * size, 1e-3 * float(dist.max()))).flatten()
        if close.numel() == 0:
            raise ConvergenceError(f"{_OWNER}: the map did not come back near its start within {k_max} steps; give a "
                                   f"'period_guess' or a longer 'max_period'.")
        k = int(close[0]) + 1
    field = model.at_input(u)
    N = model.hidden_size
    eye = torch.eye(N, dtype=torch.float64)

    def F(x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(k):
            y = field.flow(y)
        return y - x

    def product(x: torch.Tensor) -> torch.Tensor:
        P = eye.expand(x.shape[0], N, N)
        y = x
        for _ in range(k):
            P = field.jacobian(y) @ P
            y = field.flow(y)
        return P

    tol_abs = tol * size
    with torch.no_grad():
        z, q, conv = newton_search(NonlinearSystem(F, lambda x: product(x) - eye), x0[None], tol_q=0.5 * tol_abs**2,
                                   radius=0.0, trust_radius=size, known=x0[None][:0], max_iterations=max_iterations,
                                   polish_steps=2, progress=False, chord_steps=0, wave=0)
        if z.shape[0] == 0 or not bool(conv[0]):
            raise ConvergenceError(f"{_OWNER}: Newton's method did not find a cycle of {k} steps near the initial "
                                   f"state in {max_iterations} iterations; give another 'period_guess'.")
        x_star = z[0]
        states = torch.cat([x_star[None], iterate_map(model, u, x_star, k - 1)])
        if k > 1 and float((states[1:] - x_star).norm(dim=-1).min()) <= 10 * tol_abs:
            raise ConvergenceError(f"{_OWNER}: the cycle found repeats within {k} steps: its period is shorter; "
                                   f"give period_guess as a multiple of dt that is the least period.")
        mu = torch.linalg.eigvals(product(x_star[None])[0])
        mu = mu[torch.argsort(mu.abs(), descending=True, stable=True)]
        residual = float(F(x_star[None])[0].norm())
    return PeriodicOrbit(period=k * dt, states=states, times=dt * torch.arange(k, dtype=torch.float64),
                         floquet_multipliers=mu, inputs=u, residual=residual, time="discrete", dt=dt,
                         eigenvalue_tol=eigenvalue_tol)
