"""Dynamic mean-field theory of random tanh networks (Sompolinsky, Crisanti & Sommers 1988).

For ``dx_i/dt = -x_i + sum_j J_ij tanh(x_j)`` with ``J_ij ~ N(0, g^2 / N)`` and N -> infinity, every
unit is a Gaussian process driven by a field whose autocorrelation is set self-consistently by the
network. The autocorrelation ``Delta(tau) = <x_i(t) x_i(t + tau)>`` (time in units of the membrane
time constant) obeys

    d^2 Delta / d tau^2 = Delta - g^2 C(Delta),     C(Delta) = <phi(x) phi(y)>,

with x, y jointly Gaussian, both of variance ``Delta0 = Delta(0)`` and covariance Delta. By Price's
theorem ``C = d/dDelta <Phi(x) Phi(y)>`` with ``Phi = log cosh`` the antiderivative of tanh, so Delta
moves like a particle in the potential

    V(Delta) = -Delta^2 / 2 + g^2 <Phi(x) Phi(y)>,      d^2 Delta / d tau^2 = -dV/dDelta,

released at rest from Delta0. The chaotic solution is the one that creeps up to the hill top at
Delta = 0 as tau -> infinity (zero velocity there): energy conservation ``V(Delta0) = V(0)`` gives

    Delta0^2 / 2 = g^2 (<Phi^2> - <Phi>^2)          (Gaussian averages of variance Delta0),

which has a non-zero root only for g > 1. The *static* branch, a time-independent field with
``Delta0 = g^2 <phi^2>``, also has a non-zero root above g = 1, but it is not what the network does
(the fixed points it describes are unstable); it is kept here to show the difference.

Gaussian averages use Gauss-Hermite quadrature (probabilists' weight, ``numpy.polynomial.hermite_e``).
Correlated averages use Mehler's formula: with ``a_k = E[tanh(sigma z) He_k(z)] / sqrt(k!)``
(``sigma^2 = Delta0``), ``<tanh(x) tanh(y)> = sum_k a_k^2 rho^k`` at correlation ``rho = Delta / Delta0``,
and ``<Phi(x) Phi(y)> - <Phi>^2 = Delta0 sum_{k>=1} a_{k-1}^2 rho^k / k``. The chaotic condition becomes
``Delta0 / 2 = g^2 sum_k a_k^2 / (k + 1)``, and the force and the potential of the particle come from the
same truncated series, so the integrated motion conserves its energy exactly and reaches the top.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.polynomial import hermite_e
from scipy import optimize

from .._validation import check_choice, check_float, check_int
from ..errors import ShapeError
from ..numerics import integrate

__all__ = ["DMFTSolution", "dmft", "empirical_autocorrelation"]

_PHI = ("tanh",)
#: spacing (units of tau) of the stored solution, interpolated between by cubic Hermite polynomials
_GRID = 0.01


@functools.lru_cache(maxsize=8)
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for E over a standard normal (weights sum to 1)."""
    z, w = hermite_e.hermegauss(n)
    return z, w / math.sqrt(2.0 * math.pi)


def _log_cosh(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)


def _mean(fn, variance: float, n_nodes: int) -> float:
    """``E[fn(x)]`` for ``x ~ N(0, variance)`` by Gauss-Hermite quadrature."""
    z, w = _nodes(n_nodes)
    return float(np.dot(w, fn(math.sqrt(max(variance, 0.0)) * z)))


def _hermite_coefficients(variance: float, n_terms: int, n_nodes: int) -> np.ndarray:
    """``a_k = E[tanh(sigma z) He_k(z)] / sqrt(k!)`` for k < n_terms, z standard normal, sigma^2 = variance.

    With these, Mehler's formula gives ``<tanh(x) tanh(y)> = sum_k a_k^2 rho^k`` for x, y of variance
    ``sigma^2`` and correlation rho (tanh is odd: only odd k are non-zero).
    """
    z, w = _nodes(n_nodes)
    f = np.tanh(math.sqrt(max(variance, 0.0)) * z) * w
    out = np.empty(n_terms)
    h_prev, h = np.zeros_like(z), np.ones_like(z)  # normalised He_{-1}, He_0
    for k in range(n_terms):
        out[k] = f @ h
        h_prev, h = h, (z * h - math.sqrt(k) * h_prev) / math.sqrt(k + 1)
    return out


def _chaotic_delta0(g: float, n_terms: int, n_nodes: int) -> float:
    """The root Delta0 > 0 of ``Delta0 / 2 = g^2 sum_k a_k^2 / (k + 1)`` (g > 1).

    This is ``Delta0^2 / 2 = g^2 (<Phi^2> - <Phi>^2)`` written with the coefficients of tanh: the
    Hermite coefficients of ``Phi(sigma z)`` are ``sigma a_{k-1} / sqrt(k)``. The same truncated series
    is the force in the equation of motion, so the particle's energy is conserved exactly by it.
    """
    k1 = np.arange(1, n_terms + 1)

    def f(d: float) -> float:
        a = _hermite_coefficients(d, n_terms, n_nodes)
        return d / 2.0 - g * g * float(np.sum(a * a / k1))

    # small Delta0: the sum is Delta0 / 2 - O(Delta0^2), so f ~ (1 - g^2) Delta0 / 2 < 0 for g > 1;
    # large Delta0: the sum tends to Var|x| / Delta0 = 1 - 2 / pi, so f > 0 beyond ~ 0.73 g^2
    lo = 1e-6 * min(1.0, g - 1.0)
    hi = max(4.0, 4.0 * g * g)
    return float(optimize.brentq(f, lo, hi, xtol=1e-13, rtol=1e-12))


def _static_delta0(g: float, n_nodes: int) -> float:
    """The root Delta0 > 0 of ``Delta0 = g^2 <tanh^2>`` (g > 1)."""

    def f(d: float) -> float:
        return d - g * g * _mean(lambda x: np.tanh(x) ** 2, d, n_nodes)

    lo = 1e-6 * min(1.0, g - 1.0)
    return float(optimize.brentq(f, lo, g * g + 1.0, xtol=1e-13, rtol=1e-12))


@dataclass(frozen=True, eq=False)
class DMFTSolution:
    """The mean-field autocorrelation of a random tanh network at coupling strength g.

    Time is in units of the membrane time constant tau. On the chaotic branch (``g > 1``),
    ``Delta(tau)`` decreases monotonically from ``delta0`` to ``delta_infinity = 0``; for g <= 1 the
    only solution is the quiescent one, ``Delta = 0``.

    Attributes:
        g: the coupling strength.
        phi: the nonlinearity (``"tanh"``).
        delta0: ``Delta(0)``, the stationary variance of each unit's state x.
        delta_infinity: ``Delta(tau -> infinity)`` (0 on the zero-mean chaotic branch).
        static_delta0: the static-branch variance, root of ``Delta0 = g^2 <tanh^2>`` (a
            time-independent field): the wrong answer above g = 1, kept for comparison; 0 for g <= 1.
        chaotic: whether the solution is the chaotic one (g > 1).
        decay_rate: rate of the exponential tail ``Delta ~ exp(-decay_rate tau)`` at long lags,
            ``sqrt(1 - g^2 <phi'>^2)`` (0 for g <= 1).
        hermite_coefficients: ``a_k`` such that ``<tanh(x) tanh(y)> = sum_k a_k^2 (Delta / delta0)^k``
            (empty for g <= 1).
    """

    g: float
    phi: str
    delta0: float
    delta_infinity: float
    static_delta0: float
    chaotic: bool
    decay_rate: float
    hermite_coefficients: np.ndarray = field(repr=False)
    _lags: np.ndarray = field(repr=False)
    _values: np.ndarray = field(repr=False)
    _velocity: np.ndarray = field(repr=False)

    def autocorrelation(self, lags: Any) -> Any:
        """``Delta(tau)`` at the given lags (units of tau); even in tau.

        Args:
            lags: a float, a numpy array or a torch tensor of lags.

        Returns:
            The same kind as ``lags``: a float for a float, a numpy array for an array, a torch tensor
            (same dtype if floating, same device) for a tensor.

        Shape:
            - lags: any shape; the result has the same shape.
        """
        if isinstance(lags, torch.Tensor):
            vals = self._evaluate(lags.detach().cpu().to(torch.float64).numpy())
            dtype = lags.dtype if lags.is_floating_point() else torch.get_default_dtype()
            return torch.as_tensor(vals, dtype=dtype, device=lags.device)
        try:
            arr = np.asarray(lags, dtype=float)
        except (TypeError, ValueError):
            raise ShapeError(f"The 'lags' of DMFTSolution.autocorrelation must be numbers (a float, an array or a "
                             f"tensor). Got {type(lags).__name__} instead.") from None
        vals = self._evaluate(arr)
        return float(vals) if arr.ndim == 0 else vals

    def _evaluate(self, lags: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(lags)):
            raise ShapeError("The 'lags' of DMFTSolution.autocorrelation must be finite. Got a NaN or infinity.")
        shape = np.shape(lags)
        t = np.abs(np.asarray(lags, dtype=float)).ravel()
        if not self.chaotic:
            return np.zeros(shape)
        # cubic Hermite interpolation between stored points (values and velocities from the integrator)
        grid, end = self._lags, self._lags[-1]
        i = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, len(grid) - 2)
        h = grid[i + 1] - grid[i]
        s = np.clip((t - grid[i]) / h, 0.0, 1.0)
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        out = (h00 * self._values[i] + h10 * h * self._velocity[i]
               + h01 * self._values[i + 1] + h11 * h * self._velocity[i + 1])
        tail = t > end
        out[tail] = self._values[-1] * np.exp(-self.decay_rate * (t[tail] - end))
        return np.maximum(out, 0.0).reshape(shape)

    def correlation(self, delta: Any) -> np.ndarray:
        """``C(Delta) = <tanh(x) tanh(y)>``, x, y of variance ``delta0`` and covariance Delta in [0, delta0].

        Shape: any -> the same shape (numpy).
        """
        d = np.asarray(delta, dtype=float)
        if not self.chaotic:
            return np.zeros_like(d)
        rho = np.clip(d / self.delta0, 0.0, 1.0)
        return np.polynomial.polynomial.polyval(rho, self.hermite_coefficients**2)

    def potential(self, delta: Any) -> np.ndarray:
        """``V(Delta) - V(0)`` with ``V(Delta) = -Delta^2 / 2 + g^2 <Phi(x) Phi(y)>``, for 0 <= Delta <= delta0.

        The particle starts at rest at ``V(delta0) = V(0)`` (the chaotic condition) and
        ``d^2 Delta / d tau^2 = -dV/dDelta = Delta - g^2 C(Delta)``.

        Shape: any -> the same shape (numpy).
        """
        d = np.asarray(delta, dtype=float)
        if not self.chaotic:
            return -(d**2) / 2
        a2 = self.hermite_coefficients**2
        k = np.arange(1, len(a2) + 1)
        rho = np.clip(d / self.delta0, 0.0, 1.0)
        # <Phi Phi> - <Phi>^2 = delta0 sum_{k>=1} a_{k-1}^2 rho^k / k
        return -(d**2) / 2 + self.g**2 * self.delta0 * np.polynomial.polynomial.polyval(rho, np.r_[0.0, a2 / k])

    def correlation_time(self) -> float:
        """The lag at which ``Delta`` falls to half of ``delta0`` (units of tau); NaN for g <= 1."""
        if not self.chaotic:
            return math.nan
        target = 0.5 * self.delta0
        return float(optimize.brentq(lambda t: float(self._evaluate(np.array([t]))[0]) - target,
                                     0.0, float(self._lags[-1])))


def dmft(
    g: float,
    *,
    phi: str = "tanh",
    max_lag: float | None = None,
    n_terms: int = 150,
    n_nodes: int = 240,
    rtol: float = 1e-10,
) -> DMFTSolution:
    """Solve the dynamic mean-field theory of a random tanh network for its autocorrelation.

    Gaussian averages over x of variance Delta0 are Gauss-Hermite sums (``n_nodes`` nodes). The
    correlated average ``C(Delta) = <tanh(x) tanh(y)>`` uses Mehler's formula
    ``sum_k a_k^2 rho^k`` (``rho = Delta / Delta0``, ``a_k`` the normalised Hermite coefficients of
    ``tanh(sqrt(Delta0) z)``, by the same quadrature), and ``<Phi(x) Phi(y)>`` follows from it
    term by term. Delta0 is the root (brentq) of the chaotic condition ``Delta0^2 / 2 = g^2
    Var(log cosh x)``; ``Delta(tau)`` comes from integrating ``Delta'' = Delta - g^2 C(Delta)`` from rest
    at Delta0 (scipy ``solve_ivp``, DOP853). The released particle reaches the hill top Delta = 0 only
    asymptotically and rounding eventually pushes it over or back, so the integration stops when
    Delta falls below ``1e-4 delta0``, at a turning point, or at ``max_lag``, and the tail continues as
    ``Delta_end exp(-decay_rate (tau - tau_end))``, the linearised motion near the top.

    Args:
        g: coupling strength (>= 0); chaotic for g > 1.
        phi: the nonlinearity; only ``"tanh"`` (antiderivative log cosh) is implemented.
        max_lag: longest lag integrated (units of tau); None for ``40 + 20 / (g - 1)``.
        n_terms: terms of the Mehler series (``n_terms <= n_nodes / 1.5``: higher coefficients would
            not be resolved by the quadrature). 150 gives Delta0 to ~1e-6 relative up to g = 3.
        n_nodes: Gauss-Hermite nodes (numpy's ``hermegauss`` is accurate up to ~300).
        rtol: relative tolerance of the ODE integration.

    Returns:
        A :class:`DMFTSolution`.

    Example:
        >>> sol = dmft(2.0)
        >>> round(sol.delta0, 4), round(sol.static_delta0, 4)
        (1.9248, 2.1215)
        >>> sol.autocorrelation(np.linspace(0.0, 10.0, 101)).shape
        (101,)
    """
    own = "dmft"
    g = check_float(own, "g", g, low=0)
    phi = check_choice(own, "phi", phi, _PHI)
    n_nodes = check_int(own, "n_nodes", n_nodes, low=20, high=300)
    n_terms = check_int(own, "n_terms", n_terms, low=4, high=int(n_nodes / 1.5))
    rtol = check_float(own, "rtol", rtol, low=0, high=1e-3, low_inclusive=False)
    if max_lag is not None:
        max_lag = check_float(own, "max_lag", max_lag, low=0, low_inclusive=False)
    if g <= 1.0:
        empty = np.zeros(2)
        return DMFTSolution(g=g, phi=phi, delta0=0.0, delta_infinity=0.0, static_delta0=0.0, chaotic=False,
                            decay_rate=0.0, hermite_coefficients=np.zeros(0), _lags=np.array([0.0, 1.0]),
                            _values=empty, _velocity=empty)
    d0 = _chaotic_delta0(g, n_terms, n_nodes)
    static = _static_delta0(g, n_nodes)
    a = _hermite_coefficients(d0, n_terms, n_nodes)
    a2 = a * a
    slope = a[1] ** 2 / d0  # C'(0) = <phi'>^2
    decay = math.sqrt(max(1.0 - g * g * slope, 0.0))
    if max_lag is None:
        max_lag = 40.0 + 20.0 / (g - 1.0)
    poly = np.polynomial.Polynomial(a2)

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        return np.array([y[1], y[0] - g * g * poly(min(max(y[0] / d0, 0.0), 1.0))])

    def too_low(_t: float, y: np.ndarray) -> float:
        return y[0] - 1e-4 * d0

    def turned(t: float, y: np.ndarray) -> float:
        return y[1] if t > 1e-6 else -1.0

    too_low.terminal = True
    turned.terminal = True
    turned.direction = 1.0
    sol = integrate(lambda y: rhs(0.0, y), np.array([d0, 0.0]), max_lag, rtol=rtol, atol=1e-12 * d0,
                    events=(too_low, turned), dense_output=True)
    end = float(sol.t[-1])
    lags = np.linspace(0.0, end, max(int(math.ceil(end / _GRID)), 2) + 1)
    values, velocity = sol.dense(lags)
    return DMFTSolution(g=g, phi=phi, delta0=d0, delta_infinity=0.0, static_delta0=static, chaotic=True,
                        decay_rate=decay, hermite_coefficients=a, _lags=lags, _values=values, _velocity=velocity)


def empirical_autocorrelation(states: Any, dt: float, max_lag: float) -> tuple[np.ndarray, np.ndarray]:
    """The autocorrelation ``<x_i(t) x_i(t + tau)>`` of simulated states, averaged over time, units and trials.

    Computed by FFT (zero-padded, so without wrap-around), each lag normalised by its number of
    overlapping time pairs; the states are not mean-subtracted (the chaotic branch has zero mean).

    Args:
        states: (batch, time, units) or (time, units), numpy or torch, sampled every ``dt``.
        dt: sampling step (units of tau).
        max_lag: the longest lag returned (units of tau; less than the duration).

    Returns:
        ``(lags, values)``, both numpy arrays of shape (n_lags,), lags ``0, dt, ..., <= max_lag``.

    Shape:
        - states: (batch, time, units) or (time, units)
    """
    own = "empirical_autocorrelation"
    dt = check_float(own, "dt", dt, low=0, low_inclusive=False)
    max_lag = check_float(own, "max_lag", max_lag, low=0)
    if isinstance(states, torch.Tensor):
        states = states.detach().cpu().to(torch.float64).numpy()
    x = np.asarray(states, dtype=float)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ShapeError(f"The 'states' of {own} must have shape (batch, time, units) or (time, units). "
                         f"Got {x.shape} instead.")
    T = x.shape[1]
    n_lags = int(math.floor(max_lag / dt + 1e-9)) + 1
    if n_lags > T - 1:
        raise ShapeError(f"The 'max_lag' of {own} must be shorter than the simulation ({(T - 1) * dt:g}). "
                         f"Got {max_lag:g} instead.")
    n_fft = 1 << int(math.ceil(math.log2(2 * T)))
    acc = np.zeros(n_lags)
    for trial in x:  # (time, units): one FFT per unit, summed over units
        f = np.fft.rfft(trial, n=n_fft, axis=0)
        acc += np.fft.irfft((f * f.conj()).real.sum(axis=1), n=n_fft)[:n_lags]
    counts = (T - np.arange(n_lags)) * x.shape[0] * x.shape[2]
    return np.arange(n_lags) * dt, acc / counts
