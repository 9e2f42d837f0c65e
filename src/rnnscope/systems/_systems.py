"""Low-dimensional dynamical systems as vector fields, integrated precisely with scipy.

Each system is a frozen dataclass with its parameters; :meth:`DynamicalSystem.vector_field` is
``dx/dt = f(x)`` (time in the system's own units), and :meth:`DynamicalSystem.trajectories`
integrates many initial conditions at once with an adaptive high-order Runge-Kutta method
(:func:`rnnscope.numerics.integrate`: DOP853, rtol 1e-10, atol 1e-12 by default) and samples them on a regular grid.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validation import check_float, check_int, check_seed
from ..errors import ConfigError, ShapeError
from ..numerics import integrate

__all__ = ["DynamicalSystem", "SystemTrajectories", "VanDerPol", "Bistable", "Lorenz", "limit_cycle_period"]


@dataclass(frozen=True)
class SystemTrajectories:
    """Trajectories of a dynamical system sampled every ``dt`` from t = 0.

    Shape:
        - times: (time,), ``dt * arange(time)``
        - states: (batch, time, dim); ``states[:, 0]`` are the initial conditions
    """

    times: np.ndarray
    states: np.ndarray
    dt: float

    @property
    def initial_conditions(self) -> np.ndarray:
        return self.states[:, 0]


class DynamicalSystem(abc.ABC):
    """An autonomous system ``dx/dt = f(x)`` with a box of initial conditions."""

    #: short name, e.g. ``"van_der_pol"``
    name: ClassVar[str]
    #: names of the state variables
    state_names: ClassVar[tuple[str, ...]]

    @property
    def dim(self) -> int:
        return len(self.state_names)

    @abc.abstractmethod
    def vector_field(self, x: np.ndarray) -> np.ndarray:
        """``dx/dt``. Shape: (..., dim) -> (..., dim)."""

    @abc.abstractmethod
    def initial_box(self) -> tuple[tuple[float, float], ...]:
        """(low, high) per state variable: where :meth:`sample_initial_conditions` draws from."""

    def sample_initial_conditions(self, n: int, *, seed: int = 0) -> np.ndarray:
        """``n`` initial conditions uniform in :meth:`initial_box`. Shape: (n, dim)."""
        own = f"{type(self).__name__}.sample_initial_conditions"
        n = check_int(own, "n", n, low=1)
        rng = np.random.default_rng(check_seed(own, "seed", seed))
        box = np.asarray(self.initial_box(), dtype=np.float64)
        return box[:, 0] + (box[:, 1] - box[:, 0]) * rng.random((n, self.dim))

    def trajectories(self, initial_conditions, duration: float, dt: float, *, rtol: float = 1e-10,
                     atol: float = 1e-12) -> SystemTrajectories:
        """Integrate every initial condition for ``duration`` and sample every ``dt``.

        All initial conditions are integrated as one stacked system (one adaptive step size for
        all, error control on all), which is as accurate as one at a time and much faster.

        Shape:
            - initial_conditions: (batch, dim) or (dim,)
            - returns states (batch, round(duration / dt) + 1, dim)
        """
        own = f"{type(self).__name__}.trajectories"
        duration = check_float(own, "duration", duration, low=0, low_inclusive=False)
        dt = check_float(own, "dt", dt, low=0, low_inclusive=False, high=duration)
        x0 = np.asarray(initial_conditions, dtype=np.float64)
        if x0.ndim == 1:
            x0 = x0[None]
        if x0.ndim != 2 or x0.shape[1] != self.dim:
            raise ShapeError(f"The 'initial_conditions' parameter of {own} must have shape (batch, {self.dim}). "
                             f"Got {tuple(x0.shape)} instead.")
        if not np.isfinite(x0).all():
            raise ConfigError(f"The 'initial_conditions' parameter of {own} must be finite.")
        n_steps = int(round(duration / dt))
        times = dt * np.arange(n_steps + 1)
        sol = integrate(self.vector_field, x0, times[-1], t_eval=times, rtol=rtol, atol=atol)
        states = sol.y.transpose(1, 0, 2)
        return SystemTrajectories(times=times, states=np.ascontiguousarray(states), dt=dt)


@dataclass(frozen=True)
class VanDerPol(DynamicalSystem):
    """The van der Pol oscillator ``x' = y``, ``y' = mu (1 - x^2) y - x``: one stable limit cycle.

    For ``mu = 1`` the period is 6.6633 time units (:meth:`reference_period` computes it).
    """

    mu: float = 1.0
    name: ClassVar[str] = "van_der_pol"
    state_names: ClassVar[tuple[str, ...]] = ("x", "y")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", check_float("VanDerPol", "mu", self.mu, low=0, low_inclusive=False))

    def vector_field(self, x: np.ndarray) -> np.ndarray:
        p, q = x[..., 0], x[..., 1]
        return np.stack([q, self.mu * (1 - p**2) * q - p], axis=-1)

    def initial_box(self) -> tuple[tuple[float, float], ...]:
        return ((-3.0, 3.0), (-3.0, 3.0))

    def reference_period(self, *, cycles: int = 20, transient: float = 60.0) -> float:
        """The limit-cycle period, from upward crossings of x = 0 located by event detection.

        Integrates from (2, 0) for ``transient`` time units, then over ``cycles`` more periods
        (DOP853, rtol 1e-12), and returns the mean interval between crossings.
        """
        def crossing(_t, y):
            return y[0]

        crossing.direction = 1.0
        warm = integrate(self.vector_field, [2.0, 0.0], transient, rtol=1e-12, atol=1e-12)
        sol = integrate(self.vector_field, warm.y[-1], (cycles + 2) * 2 * math.pi * max(1.0, self.mu),
                        rtol=1e-12, atol=1e-12, events=[crossing])
        t = sol.t_events[0]
        return float(np.diff(t).mean())


@dataclass(frozen=True)
class Bistable(DynamicalSystem):
    """``x' = x - x^3``, ``y' = -y``: stable nodes at (+-1, 0), a saddle at the origin."""

    name: ClassVar[str] = "bistable"
    state_names: ClassVar[tuple[str, ...]] = ("x", "y")

    def vector_field(self, x: np.ndarray) -> np.ndarray:
        p, q = x[..., 0], x[..., 1]
        return np.stack([p - p**3, -q], axis=-1)

    def initial_box(self) -> tuple[tuple[float, float], ...]:
        return ((-2.0, 2.0), (-2.0, 2.0))

    def fixed_points(self) -> dict[str, np.ndarray]:
        """The exact fixed points: ``{"stable": (2, 2), "saddle": (1, 2)}``."""
        return {"stable": np.array([[-1.0, 0.0], [1.0, 0.0]]), "saddle": np.array([[0.0, 0.0]])}


@dataclass(frozen=True)
class Lorenz(DynamicalSystem):
    """The Lorenz system (sigma 10, rho 28, beta 8/3 by default): a chaotic attractor.

    Its largest Lyapunov exponent is about 0.906 per time unit (Sprott 2003)."""

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    name: ClassVar[str] = "lorenz"
    state_names: ClassVar[tuple[str, ...]] = ("x", "y", "z")
    #: largest Lyapunov exponent for the default parameters, per time unit
    LARGEST_LYAPUNOV: ClassVar[float] = 0.9056

    def __post_init__(self) -> None:
        for k in ("sigma", "rho", "beta"):
            object.__setattr__(self, k, check_float("Lorenz", k, getattr(self, k), low=0, low_inclusive=False))

    def vector_field(self, x: np.ndarray) -> np.ndarray:
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        return np.stack([self.sigma * (b - a), a * (self.rho - c) - b, a * b - self.beta * c], axis=-1)

    def initial_box(self) -> tuple[tuple[float, float], ...]:
        # on (near) the attractor: sampled around its extent; a short transient is cut by the task
        return ((-15.0, 15.0), (-20.0, 20.0), (10.0, 40.0))


def limit_cycle_period(signal, dt: float, *, transient: int = 0) -> tuple[float, float, int]:
    """Period of an oscillating signal from its upward crossings of its mean (linear interpolation).

    Args:
        signal: a 1-D sampled signal.
        dt: sampling interval.
        transient: samples dropped from the start.

    Returns:
        ``(period, std of the intervals, number of intervals)``; NaN period with fewer than 2 crossings.

    Shape:
        - signal: (time,)
    """
    own = "limit_cycle_period"
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ShapeError(f"The 'signal' parameter of {own} must be 1-D (time,). Got shape {s.shape} instead.")
    dt = check_float(own, "dt", dt, low=0, low_inclusive=False)
    transient = check_int(own, "transient", transient, low=0, high=max(len(s) - 2, 0))
    s = s[transient:]
    s = s - s.mean()
    i = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    if len(i) < 2:
        return float("nan"), float("nan"), 0
    t = (i + s[i] / (s[i] - s[i + 1])) * dt
    d = np.diff(t)
    return float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0, int(len(d))
