"""Storage capacity of the Hopfield network: replica theory (Amit, Gutfreund & Sompolinsky 1985)
and its measurement in simulation.

**Replica-symmetric theory at zero temperature.** With P = alpha N random patterns and one condensed
pattern of overlap m, the AGS saddle-point equations at temperature T = 0 are::

    m = erf(m / sqrt(2 alpha r))
    C = sqrt(2 / (pi alpha r)) exp(-m^2 / (2 alpha r))        (C = lim beta (1 - q))
    r = 1 / (1 - C)^2

``alpha r`` is the variance of the Gaussian crosstalk noise from the uncondensed patterns. With
``y = m / sqrt(2 alpha r)`` the three collapse to one equation::

    sqrt(2 alpha) = F(y),    F(y) = (erf(y) - (2 / sqrt(pi)) y exp(-y^2)) / y

(from the first two, ``1 - C = y sqrt(2 alpha) / erf(y)`` and ``C = (2/sqrt(pi)) y exp(-y^2) / erf(y)``).
F rises from 0, peaks and falls back to 0, so a retrieval solution exists only for
``alpha <= alpha_c = max_y F(y)^2 / 2 = 0.1379``; there its overlap jumps from ``m_c = 0.967``
(1.7 % of the bits wrong) to zero. Below alpha_c the retrieval branch is the larger root y
(m = erf(y)); the smaller one is the unstable partner that merges with it at alpha_c.

**Simulation.** :func:`hopfield_capacity_curve` stores random patterns in networks of N units, starts
zero-temperature asynchronous dynamics at every stored pattern (all P patterns of a network as one
batch), and measures the overlap of the fixed point reached with the pattern it started from. At
finite N the transition is smeared and ends somewhat above alpha_c; the replica-symmetric m(alpha) is
a close approximation (replica symmetry breaking corrects alpha_c only in the third digit).
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy import optimize, special

from .._validation import check_bool, check_float, check_int, check_seed
from ..errors import ConfigError
from ..models import Hopfield

__all__ = [
    "ALPHA_C_AGS",
    "AGSRetrieval",
    "CapacityCurve",
    "ags_critical_load",
    "ags_retrieval",
    "hopfield_capacity_curve",
    "rate_model_overlap",
]

#: Critical load of the Hopfield network at zero temperature, replica-symmetric theory
#: (Amit, Gutfreund & Sompolinsky 1985, Phys. Rev. Lett. 55, 1530; Ann. Phys. 173, 30 (1987)).
#: Hopfield (1982) estimated "about 0.15 N" from simulations.
ALPHA_C_AGS = 0.138


def _F(y: float) -> float:
    """``(erf(y) - 2/sqrt(pi) y exp(-y^2)) / y``, the right-hand side of ``sqrt(2 alpha) = F(y)``."""
    return (special.erf(y) - 2.0 / math.sqrt(math.pi) * y * math.exp(-y * y)) / y


def _peak() -> tuple[float, float]:
    """The maximiser y_c of F and F(y_c)."""
    # F'(y) = 0  <=>  erf(y) = (2/sqrt(pi)) y exp(-y^2) (1 + 2 y^2)
    y_c = optimize.brentq(lambda y: special.erf(y) - 2.0 / math.sqrt(math.pi) * y * math.exp(-y * y) * (1 + 2 * y * y),
                          0.5, 3.0, xtol=1e-14)
    return float(y_c), float(_F(y_c))


def ags_critical_load() -> tuple[float, float]:
    """The replica-symmetric critical load and the overlap there: ``(alpha_c, m_c)`` = (0.1379, 0.967).

    Solved from ``F'(y) = 0`` (see the module docstring): ``alpha_c = F(y_c)^2 / 2``, ``m_c = erf(y_c)``.
    """
    y_c, f_c = _peak()
    return float(0.5 * f_c * f_c), float(special.erf(y_c))


@dataclass(frozen=True)
class AGSRetrieval:
    """The retrieval branch of the zero-temperature replica-symmetric equations.

    Attributes:
        alpha: the loads.
        overlap: m, the overlap of the retrieval state with its pattern (0 where none exists).
        r: the crosstalk-noise factor ``r = 1 / (1 - C)^2`` (nan where no retrieval state exists).
        C: ``lim beta (1 - q)`` (nan where no retrieval state exists).
        exists: whether a retrieval solution exists (``alpha <= alpha_c``).
        alpha_c: the critical load.

    Shape:
        - alpha, overlap, r, C, exists: (n_alphas,)
    """

    alpha: np.ndarray
    overlap: np.ndarray
    r: np.ndarray
    C: np.ndarray
    exists: np.ndarray
    alpha_c: float

    @property
    def error_fraction(self) -> np.ndarray:
        """Fraction of wrong bits in the retrieval state, ``(1 - m) / 2``. Shape (n_alphas,)."""
        return (1.0 - self.overlap) / 2.0


def ags_retrieval(alphas: Any) -> AGSRetrieval:
    """Solve the zero-temperature AGS equations for the retrieval overlap m at each load.

    Args:
        alphas: loads alpha = P / N, each >= 0 (a number or a 1-D sequence).

    Returns:
        An :class:`AGSRetrieval`; ``m = 1`` at alpha = 0, ``m = 0`` (no retrieval state) above alpha_c.

    Example:
        >>> ags_retrieval([0.05, 0.1, 0.13, 0.14]).overlap.round(4)
        array([1.    , 0.998 , 0.9872, 0.    ])
    """
    a = np.atleast_1d(np.asarray(alphas, dtype=float))
    if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ConfigError(f"The 'alphas' parameter of ags_retrieval must be loads >= 0 (a number or a 1-D "
                          f"sequence). Got {alphas!r} instead.")
    y_c, f_c = _peak()
    alpha_c = 0.5 * f_c * f_c
    m = np.zeros_like(a)
    r = np.full_like(a, np.nan)
    C = np.full_like(a, np.nan)
    exists = a <= alpha_c
    for i, alpha in enumerate(a):
        if not exists[i]:
            continue
        if alpha == 0:
            m[i], r[i], C[i] = 1.0, 1.0, 0.0
            continue
        target = math.sqrt(2 * alpha)
        # larger root: F decreases from F(y_c) towards 0 as y grows; F(y) ~ 1/y for large y
        hi = max(2 * y_c, 2.0 / target)
        y = y_c if target >= f_c else optimize.brentq(lambda v: _F(v) - target, y_c, hi, xtol=1e-14)
        m[i] = special.erf(y)
        C[i] = 2.0 / math.sqrt(math.pi) * y * math.exp(-y * y) / m[i]
        r[i] = 1.0 / (1.0 - C[i]) ** 2
    return AGSRetrieval(alpha=a, overlap=m, r=r, C=C, exists=exists, alpha_c=alpha_c)


def rate_model_overlap(beta: float, alpha: float) -> float:
    """Overlap of the rate model's retrieval fixed point, Gaussian-crosstalk (signal-to-noise) estimate.

    At a fixed point ``x = J tanh(beta x)`` near pattern 1, ``xi_i x_i`` is the signal m plus the
    crosstalk of the other P - 1 patterns, approximately Gaussian with variance ``alpha q``::

        m = < tanh(beta (m + sqrt(alpha q) z)) >_z,   q = < tanh^2(beta (m + sqrt(alpha q) z)) >_z

    (the reaction term of the full self-consistent analysis is neglected: it changes m by ~3e-4 at
    beta = 4, alpha = 0.05). At alpha = 0 this is ``m = tanh(beta m)``. Returns the overlap of the
    rates ``tanh(beta x)`` with the pattern, the readout of :class:`~rnnscope.models.Hopfield`;
    0 if only the trivial solution exists.
    """
    own = "rate_model_overlap"
    beta = check_float(own, "beta", beta, low=0, low_inclusive=False)
    alpha = check_float(own, "alpha", alpha, low=0)
    z, w = np.polynomial.hermite_e.hermegauss(101)
    w = w / w.sum()
    m, q = 1.0, 1.0
    for _ in range(10_000):
        t = np.tanh(beta * (m + math.sqrt(alpha * q) * z))
        m_new, q_new = float(w @ t), float(w @ (t * t))
        if abs(m_new - m) < 1e-13 and abs(q_new - q) < 1e-13:
            break
        m, q = m_new, q_new
    return m_new if m_new > 1e-6 else 0.0


# ---------------------------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class CapacityCurve:
    """Retrieval quality against load, measured by zero-temperature asynchronous dynamics started at
    every stored pattern.

    Attributes:
        n_units: N.
        alphas: the loads P / N actually used (P = round(alpha N)).
        n_patterns: P at each load.
        overlaps: final overlap of each run with the pattern it started from, per network
            (n_networks * P values per load, as a list of arrays).
        mean_overlap: mean final overlap over all patterns of all networks.
        sem_overlap: standard error of ``mean_overlap`` over networks.
        fraction_retrieved: fraction of patterns with final overlap > ``threshold``.
        mean_sweeps: mean number of sweeps that changed the state.
        threshold: the overlap counted as retrieval.
        n_networks: networks per load.
        seed: the seed every network's patterns and update orders derive from.

    Shape:
        - alphas, n_patterns, mean_overlap, sem_overlap, fraction_retrieved, mean_sweeps: (n_alphas,)
    """

    n_units: int
    alphas: np.ndarray
    n_patterns: np.ndarray
    overlaps: list[np.ndarray]
    mean_overlap: np.ndarray
    sem_overlap: np.ndarray
    fraction_retrieved: np.ndarray
    mean_sweeps: np.ndarray
    threshold: float
    n_networks: int
    seed: int

    def alpha_half(self) -> float:
        """The load where ``fraction_retrieved`` first falls through 1/2 (linear interpolation; nan if never)."""
        f = self.fraction_retrieved
        for i in range(1, len(f)):
            if f[i - 1] >= 0.5 > f[i]:
                a0, a1 = self.alphas[i - 1], self.alphas[i]
                return float(a0 + (f[i - 1] - 0.5) / (f[i - 1] - f[i]) * (a1 - a0))
        return float("nan")

    def at(self, alpha: float) -> int:
        """Index of the load closest to ``alpha``."""
        return int(np.argmin(np.abs(self.alphas - alpha)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overlaps"] = [o.tolist() for o in self.overlaps]
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                d[k] = v.tolist()
        d["alpha_half"] = self.alpha_half()
        return d


def hopfield_capacity_curve(
    n_units: int,
    alphas: Any,
    n_networks: int = 5,
    *,
    seed: int = 0,
    threshold: float = 0.9,
    max_sweeps: int = 200,
    progress: bool | None = None,
) -> CapacityCurve:
    """Measure retrieval quality against load ``alpha = P / N`` at zero temperature.

    For each load and each of ``n_networks`` networks of ``n_units`` units storing
    ``P = round(alpha N)`` random patterns, asynchronous dynamics start at every stored pattern (the
    P patterns as one batch; :meth:`rnnscope.models.Hopfield.retrieve`) and run to a fixed point; the
    final overlap with the starting pattern measures how far the stable state lies from it.

    Args:
        n_units: N >= 2.
        alphas: loads, each > 0 (a 1-D sequence), with ``round(alpha N) >= 1``.
        n_networks: independent networks (pattern sets) per load.
        seed: seed of the patterns and update orders; network k with P patterns uses a seed derived from
            (seed, N, P, k), so a load gives the same networks whatever other loads are asked for.
        threshold: the final overlap above which a pattern counts as retrieved, in (0, 1). The
            default 0.9 lies in the gap between the two peaks of the final overlaps near capacity
            (retrieved: 0.93-1; lost: 0.2-0.8 at N = 1000); with 0.95 the half-retrieved load at
            N = 1000 moves from about 0.164 to 0.160.
        max_sweeps: budget of sweeps per run (runs that do not converge keep their last state).
        progress: show a progress bar (None: when stderr is a terminal).

    Returns:
        A :class:`CapacityCurve`.
    """
    own = "hopfield_capacity_curve"
    N = check_int(own, "n_units", n_units, low=2)
    n_networks = check_int(own, "n_networks", n_networks, low=1)
    seed = check_seed(own, "seed", seed)
    threshold = check_float(own, "threshold", threshold, low=0, high=1, low_inclusive=False, high_inclusive=False)
    max_sweeps = check_int(own, "max_sweeps", max_sweeps, low=1)
    if progress is not None:
        check_bool(own, "progress", progress)
    show = sys.stderr.isatty() if progress is None else progress
    a = np.atleast_1d(np.asarray(alphas, dtype=float))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ConfigError(f"The 'alphas' parameter of {own} must be a non-empty 1-D sequence of loads > 0. "
                          f"Got {alphas!r} instead.")
    P = np.rint(a * N).astype(int)
    if np.any(P < 1):
        raise ConfigError(f"The 'alphas' parameter of {own} must give at least one pattern (round(alpha N) >= 1) "
                          f"at N = {N}. Got {alphas!r} instead.")
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(P) * n_networks, desc="capacity", leave=False)
    overlaps, means, sems, frac, sweeps = [], [], [], [], []
    for i, p in enumerate(P):
        per_net, per_sweep = [], []
        for k in range(n_networks):
            net_seed = seed * 1_000_003 + 104_729 * N + 7919 * int(p) + k
            net = Hopfield.random(N, int(p), seed=net_seed)
            gen = torch.Generator().manual_seed(net_seed + 1)
            res = net.retrieve(net.patterns, max_steps=max_sweeps, generator=gen)
            per_net.append(res.overlaps.diagonal().numpy())
            per_sweep.append(res.steps.double().mean().item())
            if bar is not None:
                bar.update(1)
        o = np.stack(per_net)                          # (n_networks, P)
        overlaps.append(o)
        means.append(o.mean())
        sems.append(o.mean(1).std(ddof=1) / math.sqrt(n_networks) if n_networks > 1 else float("nan"))
        frac.append((o > threshold).mean())
        sweeps.append(float(np.mean(per_sweep)))
    if bar is not None:
        bar.close()
    return CapacityCurve(n_units=N, alphas=P / N, n_patterns=P, overlaps=overlaps, mean_overlap=np.array(means),
                         sem_overlap=np.array(sems), fraction_retrieved=np.array(frac),
                         mean_sweeps=np.array(sweeps), threshold=threshold, n_networks=n_networks, seed=seed)
