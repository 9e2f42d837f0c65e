"""Accurate integration of autonomous ODEs ``x' = f(x)``: the one integrator behind the reference
trajectories of dynamical systems, mean-field latent trajectories and the DMFT particle.

This is not the simulation loop of networks (:func:`rnnscope.dynamics.simulate`, the Euler step a
network is trained with): it integrates the ODE itself, adaptively, to a set tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RnnscopeError

__all__ = ["integrate", "OdeSolution"]


@dataclass(frozen=True)
class OdeSolution:
    """What :func:`integrate` returns.

    Attributes:
        t: the times of ``y`` (the requested ones, or the solver's own steps).
        y: the states at ``t``, shape (len(t), *x0.shape).
        t_events: for each event function, the times it fired.
        dense: a callable ``dense(t) -> states`` (shape (*x0.shape, len(t)) flattened to
            (D_total, len(t))) when ``dense_output`` was asked, else None.
    """

    t: np.ndarray
    y: np.ndarray
    t_events: list[np.ndarray]
    dense: Callable[[np.ndarray], np.ndarray] | None


def integrate(
    vector_field: Callable[[np.ndarray], np.ndarray],
    x0: Any,
    duration: float,
    *,
    t_eval: Sequence[float] | np.ndarray | None = None,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    events: Sequence[Callable[[float, np.ndarray], float]] = (),
    dense_output: bool = False,
) -> OdeSolution:
    """Integrate ``x' = vector_field(x)`` from ``x0`` over ``[0, duration]`` (scipy's adaptive
    Runge-Kutta, DOP853 by default).

    ``x0`` may hold a stack of initial conditions, shape (..., D): they are integrated as one system
    (one adaptive step for all, error control on all), which is as accurate as one at a time and
    much faster. ``vector_field`` receives and returns arrays of that shape.

    Args:
        vector_field: f(x) with x of the shape of ``x0``.
        x0: initial state(s), (..., D).
        duration: the end time (the start is 0).
        t_eval: times at which to store the solution (default: the solver's steps).
        method, rtol, atol: passed to :func:`scipy.integrate.solve_ivp`.
        events: event functions ``e(t, y_flat)`` (``terminal`` / ``direction`` attributes as in scipy).
        dense_output: also return a continuous interpolant.

    Raises:
        RnnscopeError: when the solver fails.
    """
    from scipy.integrate import solve_ivp

    x0 = np.asarray(x0, dtype=np.float64)
    shape = x0.shape

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        return np.asarray(vector_field(y.reshape(shape)), dtype=np.float64).ravel()

    sol = solve_ivp(rhs, (0.0, float(duration)), x0.ravel(), method=method, t_eval=t_eval, rtol=rtol, atol=atol,
                    events=list(events) or None, dense_output=dense_output)
    if sol.status < 0:
        raise RnnscopeError(f"The ODE integration failed at t = {sol.t[-1]:g} of {duration:g}: {sol.message}")
    y = np.asarray(sol.y, dtype=np.float64).T.reshape(len(sol.t), *shape)  # a list when no t_eval was reached
    t_events = list(sol.t_events) if sol.t_events is not None else []
    return OdeSolution(t=sol.t, y=y, t_events=t_events, dense=sol.sol if dense_output else None)
