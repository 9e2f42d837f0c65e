"""Temporal scaling: do responses stretch with the interval, or shift?

In timing tasks, cortical neurons (Wang, Narain et al. 2018) and the units of trained networks
produce, for a longer interval, roughly the same response stretched in time, and the population
state runs along the same path more slowly. Two measures:

- :func:`temporal_scaling` (the population, KiNeT of Remington et al. 2018): for each time of a
  reference trajectory, the nearest point on each other trajectory (on the polyline through its
  samples, so times are not rounded to a step). The matched times ``t_i(t_ref)`` lie on a line of
  slope ``T_i / T_ref`` under perfect scaling; the inverse of that slope is each trajectory's
  *relative speed* (1 for the reference). The slope is fitted on the middle of the reference (its
  first and last ``trim`` left out), so the ends, where nearest points pile up, do not bias it. The
  distance at matched times says whether the trajectories share one path (0) or run apart.
- :func:`unit_scaling` (single units): each unit's response in each condition is compared with its
  response in the reference condition stretched by a factor (scaling) and shifted by a delay
  (shifting); the best factor and the best shift, each with its R^2, tell which describes the unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validation import check_float
from ..errors import ConfigError, ShapeError
from ._results_io import load_result, save_result

__all__ = ["TemporalScaling", "temporal_scaling", "UnitScaling", "unit_scaling"]


def _trajectories(trajectories: object, name: str = "trajectories") -> list[np.ndarray]:
    """A list of (time, units) float64 arrays, from a list of arrays or a (conditions, time, units) array."""
    if isinstance(trajectories, (torch.Tensor, np.ndarray)):
        items = list(trajectories)
    elif isinstance(trajectories, Sequence) and not isinstance(trajectories, str):
        items = list(trajectories)
    else:
        raise ShapeError(f"'{name}' must be a list of (time, units) arrays or a (conditions, time, units) array. "
                         f"Got {type(trajectories).__name__} instead.")
    out = []
    for k, x in enumerate(items):
        a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] < 3:
            raise ShapeError(f"Each of '{name}' must be (time, units) with at least 3 steps. Item {k} has shape {a.shape}.")
        if out and a.shape[1] != out[0].shape[1]:
            raise ShapeError(f"Every one of '{name}' must have the same number of units. Item {k} has {a.shape[1]}, "
                             f"item 0 has {out[0].shape[1]}.")
        out.append(a)
    if len(out) < 2:
        raise ShapeError(f"'{name}' must hold at least 2 trajectories. Got {len(out)}.")
    return out


def _reference(reference: int | None, trajs: list[np.ndarray]) -> int:
    if reference is None:  # the trajectory of median duration
        return int(np.argsort([len(t) for t in trajs])[(len(trajs) - 1) // 2])
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or not 0 <= reference < len(trajs):
        raise ConfigError(f"The 'reference' parameter must be an index in [0, {len(trajs) - 1}] or None. "
                          f"Got {reference!r} instead.")
    return int(reference)


@dataclass(frozen=True, eq=False)
class TemporalScaling:
    """Kinematic comparison of trajectories with a reference (KiNeT, Remington et al. 2018).

    Attributes:
        reference_times: times of the reference trajectory's samples, ms.
        matched_times: for each trajectory and reference time, the time (ms, between samples) of the
            nearest point on that trajectory; the reference's own are ``reference_times``.
        distances: the distance from the reference state to that nearest point.
        relative_speed: each trajectory's speed relative to the reference (1 for it): the inverse
            slope of ``matched_times`` against ``reference_times`` on the middle of the reference.
        durations: each trajectory's duration ``(time - 1) * dt`` in ms.
        reference: index of the reference trajectory.
        trim: fraction of the reference left out at each end of the slope fit.

    Shape:
        - reference_times: (T_ref,); matched_times, distances: (conditions, T_ref)
        - relative_speed, durations: (conditions,)
    """

    reference_times: torch.Tensor
    matched_times: torch.Tensor
    distances: torch.Tensor
    relative_speed: torch.Tensor
    durations: torch.Tensor
    reference: int
    trim: float

    def speed_vs_inverse_duration_r(self) -> float:
        """Pearson correlation across trajectories of the relative speed with 1 / duration (1 under
        perfect scaling, where speed is proportional to 1 / duration)."""
        return float(np.corrcoef(self.relative_speed.numpy(), 1.0 / self.durations.numpy())[0, 1])

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file with every attribute."""
        arrays = {n: getattr(self, n) for n in _KINET_ARRAYS}
        return save_result(path, "TemporalScaling", arrays, {"reference": self.reference, "trim": self.trim})

    @classmethod
    def load(cls, path: str | Path) -> TemporalScaling:
        """Read a file written by :meth:`save`."""
        kw, meta = load_result(path, "TemporalScaling", _KINET_ARRAYS)
        return cls(**kw, reference=int(meta["reference"]), trim=float(meta["trim"]))


_KINET_ARRAYS = ("reference_times", "matched_times", "distances", "relative_speed", "durations")


def _nearest_on_polyline(q: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point of ``q`` (M, N) the fractional index and distance of the nearest point of the
    polyline through ``p`` (T, N)."""
    a, d = p[:-1], np.diff(p, axis=0)  # segments a + lam d, lam in [0, 1]
    dd = (d * d).sum(-1)
    best_idx, best_d2 = np.empty(len(q)), np.empty(len(q))
    for start in range(0, len(q), 256):  # chunks bound the (chunk, T, N) work array
        qq = q[start : start + 256]
        rel = qq[:, None, :] - a[None]
        lam = np.clip(np.einsum("mtn,tn->mt", rel, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
        d2 = ((rel - lam[..., None] * d[None]) ** 2).sum(-1)
        j = d2.argmin(axis=1)
        rows = np.arange(len(qq))
        best_idx[start : start + 256] = j + lam[rows, j]
        best_d2[start : start + 256] = d2[rows, j]
    return best_idx, np.sqrt(best_d2)


def temporal_scaling(
    trajectories: Sequence[torch.Tensor | np.ndarray] | torch.Tensor | np.ndarray,
    dt: float,
    *,
    reference: int | None = None,
    trim: float = 0.1,
) -> TemporalScaling:
    """Relative speed of trajectories of different durations, and their distance, by nearest points.

    Args:
        trajectories: one (time, units) array per condition (durations may differ), or a
            (conditions, time, units) array. Use the states of the epoch to compare (e.g. the
            production epoch of Measure-Set-Go, from Set to Go), or their first principal
            components, as Remington et al. did.
        dt: time step in ms.
        reference: index of the reference trajectory; None takes the one of median duration.
        trim: fraction of the reference left out at each end when fitting the slope, in [0, 0.45].

    Returns:
        A :class:`TemporalScaling`.

    Shape: trajectories[i] (T_i, units) -> matched_times (conditions, T_ref)
    """
    trajs = _trajectories(trajectories)
    dt = check_float("temporal_scaling", "dt", dt, low=0, low_inclusive=False)
    trim = check_float("temporal_scaling", "trim", trim, low=0, high=0.45)
    ref = _reference(reference, trajs)
    q = trajs[ref]
    T_ref = len(q)
    t_ref = np.arange(T_ref) * dt
    lo, hi = int(math.floor(trim * (T_ref - 1))), int(math.ceil((1 - trim) * (T_ref - 1)))
    middle = slice(lo, hi + 1)
    matched, dist, speed = np.empty((len(trajs), T_ref)), np.empty((len(trajs), T_ref)), np.empty(len(trajs))
    for i, p in enumerate(trajs):
        if i == ref:
            matched[i], dist[i], speed[i] = t_ref, 0.0, 1.0
            continue
        idx, dist[i] = _nearest_on_polyline(q, p)
        matched[i] = idx * dt
        slope = np.polyfit(t_ref[middle], matched[i, middle], 1)[0]
        speed[i] = 1.0 / slope if slope > 0 else math.nan
    durations = np.array([(len(t) - 1) * dt for t in trajs])
    t = torch.from_numpy
    return TemporalScaling(t(t_ref), t(matched), t(dist), t(speed), t(durations), ref, trim)


@dataclass(frozen=True, eq=False)
class UnitScaling:
    """Per unit and condition: the response as a stretched or as a shifted copy of the reference's.

    Attributes:
        warp_factor: the best stretch ``f``: the response at ``t`` is compared with the reference
            response at ``t / f`` (``f = T_i / T_ref`` under perfect scaling).
        r2_warp: the fraction of the response's variance explained by the stretched reference.
        shift: the best delay in ms: the response at ``t`` against the reference at ``t - shift``.
        r2_shift: the fraction of variance explained by the shifted reference.
        r2_normalised: the R^2 with time normalised, ``f = T_i / T_ref`` exactly.
        r2_raw: the R^2 without warp or shift (``f = 1``, ``shift = 0``).
        reference: index of the reference condition (its row: ``f = 1``, ``R^2 = 1``).
        active: units whose reference response varies (the others are NaN).

    Shape:
        - every array: (units, conditions), ``active`` (units,)
    """

    warp_factor: torch.Tensor
    r2_warp: torch.Tensor
    shift: torch.Tensor
    r2_shift: torch.Tensor
    r2_normalised: torch.Tensor
    r2_raw: torch.Tensor
    reference: int
    active: torch.Tensor

    def scaling_better(self) -> torch.Tensor:
        """Per unit: whether the stretch fits better than the shift, on average over the conditions
        other than the reference. Shape: (units,) bool (False for inactive units)."""
        others = [c for c in range(self.r2_warp.shape[1]) if c != self.reference]
        gap = (self.r2_warp[:, others] - self.r2_shift[:, others]).mean(1)
        return (gap > 0) & self.active

    def fraction_scaling(self) -> float:
        """Fraction of active units better fit by scaling than by shifting."""
        n = int(self.active.sum())
        return float(self.scaling_better().sum()) / n if n else math.nan

    def scaling_index(self) -> float:
        """Mean over active units and non-reference conditions of ``r2_normalised - r2_raw``: how
        much variance normalising time explains beyond comparing responses as they are."""
        others = [c for c in range(self.r2_warp.shape[1]) if c != self.reference]
        gain = (self.r2_normalised - self.r2_raw)[self.active][:, others]
        return float(gain.mean())

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file with every attribute."""
        return save_result(path, "UnitScaling", {n: getattr(self, n) for n in _UNIT_ARRAYS},
                           {"reference": self.reference})

    @classmethod
    def load(cls, path: str | Path) -> UnitScaling:
        """Read a file written by :meth:`save`."""
        kw, meta = load_result(path, "UnitScaling", _UNIT_ARRAYS)
        return cls(**kw, reference=int(meta["reference"]))


_UNIT_ARRAYS = ("warp_factor", "r2_warp", "shift", "r2_shift", "r2_normalised", "r2_raw", "active")


def _r2(y: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """R^2 of ``fit`` for ``y`` per unit, both (T, units)."""
    sst = ((y - y.mean(0)) ** 2).sum(0)
    sse = ((y - fit) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sst > 0, 1.0 - sse / sst, np.nan)


def unit_scaling(
    responses: Sequence[torch.Tensor | np.ndarray] | torch.Tensor | np.ndarray,
    dt: float,
    *,
    reference: int | None = None,
    factors: Sequence[float] | None = None,
    shifts: Sequence[float] | None = None,
) -> UnitScaling:
    """Is each unit's response a stretched copy of its reference response, or a shifted one?

    For each condition ``i`` and unit, the response ``r_i(t)`` is compared over its whole duration with
    the reference response ``r_ref(t / f)`` for each stretch ``f`` in ``factors`` and with
    ``r_ref(t - s)`` for each delay ``s`` in ``shifts`` (the reference held at its first or last value
    outside its duration, linear interpolation between samples). The best of each, by R^2, is kept.

    Args:
        responses: one (time, units) array per condition (durations may differ), or a
            (conditions, time, units) array, e.g. the production epochs of Measure-Set-Go.
        dt: time step in ms.
        reference: index of the reference condition; None takes the one of median duration.
        factors: stretches tried; by default 61 values spaced geometrically from half the smallest
            to twice the largest duration ratio ``T_i / T_ref`` (within [0.25, 4]), plus the ratios.
        shifts: delays tried in ms; by default every step from ``-T_ref`` to ``T_ref``.

    Returns:
        A :class:`UnitScaling`.
    """
    trajs = _trajectories(responses, "responses")
    dt = check_float("unit_scaling", "dt", dt, low=0, low_inclusive=False)
    ref = _reference(reference, trajs)
    r_ref = trajs[ref]
    T_ref = len(r_ref)
    ratios = np.array([(len(t) - 1) / (T_ref - 1) for t in trajs])
    if factors is None:
        f_lo, f_hi = max(0.5 * ratios.min(), 0.25), min(2.0 * ratios.max(), 4.0)
        factors = np.unique(np.concatenate([np.geomspace(f_lo, f_hi, 61), ratios]))
    factors = np.asarray(factors, dtype=np.float64)
    shifts = np.arange(-(T_ref - 1), T_ref) * dt if shifts is None else np.asarray(shifts, dtype=np.float64)
    if factors.ndim != 1 or factors.size == 0 or (factors <= 0).any():
        raise ConfigError(f"The 'factors' parameter of unit_scaling must be stretches > 0. Got {factors!r} instead.")
    if shifts.ndim != 1 or shifts.size == 0:
        raise ConfigError(f"The 'shifts' parameter of unit_scaling must be a non-empty list of delays in ms. "
                          f"Got {shifts!r} instead.")
    U, C = r_ref.shape[1], len(trajs)

    def template(at: np.ndarray) -> np.ndarray:  # the reference response at times ``at`` (T,) -> (T, U)
        pos = np.clip(at / dt, 0, T_ref - 1)
        j = np.minimum(np.floor(pos).astype(np.int64), T_ref - 2)
        lam = (pos - j)[:, None]
        return (1 - lam) * r_ref[j] + lam * r_ref[j + 1]

    out = {k: np.full((U, C), np.nan) for k in ("warp_factor", "r2_warp", "shift", "r2_shift", "r2_normalised", "r2_raw")}
    for c, y in enumerate(trajs):
        t = np.arange(len(y)) * dt
        warp = np.stack([_r2(y, template(t / f)) for f in factors])  # (factors, U)
        shift = np.stack([_r2(y, template(t - s)) for s in shifts])
        filled_w, filled_s = np.nan_to_num(warp, nan=-np.inf), np.nan_to_num(shift, nan=-np.inf)
        bw, bs = filled_w.argmax(0), filled_s.argmax(0)
        cols = np.arange(U)
        out["warp_factor"][:, c], out["r2_warp"][:, c] = factors[bw], warp[bw, cols]
        out["shift"][:, c], out["r2_shift"][:, c] = shifts[bs], shift[bs, cols]
        out["r2_normalised"][:, c] = _r2(y, template(t / ratios[c]))
        out["r2_raw"][:, c] = _r2(y, template(t))
    active = r_ref.std(0) > 1e-8 * max(float(np.abs(r_ref).max()), 1e-300)
    for k in out:
        out[k][~active] = np.nan
    return UnitScaling(**{k: torch.from_numpy(v) for k, v in out.items()}, reference=ref,
                       active=torch.from_numpy(active))
