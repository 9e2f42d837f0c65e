"""Dynamical systems and fitting rate networks to them (Doya 1993).

- :class:`VanDerPol`, :class:`Bistable`, :class:`Lorenz`: vector fields with precise trajectories
  (:func:`rnnscope.numerics.integrate`);
- :func:`fit_dynamical_system`: train a :class:`~rnnscope.models.RateRNN` with the one trainer to
  reproduce a system's trajectories, then check that it has the system's attractors
  (:meth:`FittedSystem.period`, :meth:`FittedSystem.fixed_points`).

Example:
    >>> fit = fit_dynamical_system(VanDerPol(), hidden_size=64, steps=400)
    >>> fit.heldout_nmse, fit.period()[0], VanDerPol().reference_period()
"""

from ._fit import FittedSystem, TrajectoryTask, fit_dynamical_system, normalised_mse
from ._systems import Bistable, DynamicalSystem, Lorenz, SystemTrajectories, VanDerPol, limit_cycle_period

__all__ = [
    "DynamicalSystem",
    "SystemTrajectories",
    "VanDerPol",
    "Bistable",
    "Lorenz",
    "limit_cycle_period",
    "TrajectoryTask",
    "FittedSystem",
    "fit_dynamical_system",
    "normalised_mse",
]
