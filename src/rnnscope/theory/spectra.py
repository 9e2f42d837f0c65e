"""Eigenvalue spectra of random connectivity: the circular law.

The eigenvalues of an N x N matrix with independent entries of mean 0 and variance ``g^2 / N``
fill, as N -> infinity, the disk of radius g in the complex plane uniformly (Girko 1984; Bai 1997;
Tao & Vu 2010 for any entry distribution with finite variance). Zeroing the diagonal changes the
trace by O(1 / sqrt(N)) per eigenvalue and leaves the limit unchanged. For a rate network
``dx/dt = -x + J tanh(x)`` the linearisation at 0 is ``-I + J``: the quiescent state loses its
stability when the disk crosses Re(lambda) = 1, i.e. at g = 1 (Sompolinsky, Crisanti & Sommers 1988).
Finite N: the largest modulus exceeds g by O(N^{-1/2}) fluctuations (a few percent at N = 1000).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validation import check_float
from ..errors import ShapeError

__all__ = ["circular_law_radius", "circular_law_fraction", "fraction_inside"]


def circular_law_radius(g: float) -> float:
    """Radius of the disk the eigenvalues of ``J_ij ~ N(0, g^2 / N)`` fill as N -> infinity: g."""
    return check_float("circular_law_radius", "g", g, low=0)


def circular_law_fraction(r: Any, g: float) -> Any:
    """Expected fraction of eigenvalues with ``|lambda| <= r`` under the circular law: ``min(r^2 / g^2, 1)``.

    Args:
        r: radius (a float, a numpy array or a torch tensor, each >= 0).
        g: the coupling strength (> 0).

    Returns:
        The same kind as ``r`` (float, numpy array, or tensor).

    Shape:
        - r: any; the result has the same shape.
    """
    g = check_float("circular_law_fraction", "g", g, low=0, low_inclusive=False)
    if isinstance(r, torch.Tensor):
        if bool((r < 0).any()):
            raise ShapeError("The 'r' parameter of circular_law_fraction must be >= 0. Got a negative radius.")
        return torch.clamp((r / g) ** 2, max=1.0)
    if np.ndim(r) == 0:
        r = check_float("circular_law_fraction", "r", r, low=0)
        return min(r * r / (g * g), 1.0)
    arr = np.asarray(r, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ShapeError("The 'r' parameter of circular_law_fraction must be finite and >= 0.")
    return np.minimum((arr / g) ** 2, 1.0)


def fraction_inside(eigenvalues: Any, r: float) -> float:
    """Measured fraction of ``eigenvalues`` (complex, numpy or torch) with ``|lambda| <= r``.

    Shape:
        - eigenvalues: (n,)
    """
    r = check_float("fraction_inside", "r", r, low=0)
    if isinstance(eigenvalues, torch.Tensor):
        eigenvalues = eigenvalues.detach().cpu().numpy()
    ev = np.asarray(eigenvalues)
    if ev.ndim != 1 or ev.size == 0:
        raise ShapeError(f"The 'eigenvalues' of fraction_inside must be a non-empty 1-D array. "
                         f"Got shape {ev.shape} instead.")
    return float(np.mean(np.abs(ev) <= r))
