"""The numerical core every analysis shares: one trust-region Newton solver, the small dense
linear-algebra helpers, and accurate ODE integration."""

from ._linalg import (
    eig,
    left_eigenvectors,
    lu_factor,
    matching_eigenvectors,
    solve,
    sort_and_normalise,
    sorted_eig,
    sorted_eigvals,
)
from ._newton import NonlinearSystem, half_squared_norm, newton_search, unique_points
from ._ode import integrate

__all__ = [
    "NonlinearSystem",
    "newton_search",
    "unique_points",
    "half_squared_norm",
    "lu_factor",
    "solve",
    "eig",
    "sorted_eig",
    "sort_and_normalise",
    "sorted_eigvals",
    "matching_eigenvectors",
    "left_eigenvectors",
    "integrate",
]
