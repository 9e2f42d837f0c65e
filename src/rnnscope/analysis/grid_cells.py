"""Spatial rate maps and grid scores: are a network's units grid cells?

:func:`rate_maps` bins the activity of units by the position of the agent (occupancy-normalised,
smoothed); :func:`grid_scores` measures each map's sixfold (grid) and fourfold symmetry on its spatial
autocorrelogram, the definition of Sargolini et al. (2006) with the sweep of ring masks of Langston et
al. (2010) and Banino et al. (2018), as Sorscher et al. (2019, 2023) use it:

- the autocorrelogram is the Pearson correlation of the map with itself shifted by each lag (over the
  bins that both cover);
- it is rotated by 30, 45, 60, 90, 120, 135 and 150 degrees and correlated (Pearson) with itself
  inside a ring mask around the centre (the central peak excluded), giving ``c_angle``;
- ``score60 = mean(c60, c120) - mean(c30, c90, c150)`` (hexagonal symmetry) and
  ``score90 = c90 - mean(c45, c135)`` (square symmetry), each the maximum over ring masks with an inner
  radius of 0.2 and outer radii 0.4 ... 1.0 of the autocorrelogram's half-width (the box side).

Spacing and orientation come from the six peaks of the autocorrelogram nearest its centre: the
spacing is their median distance (in the units of the box), the orientation the angle of the peak
directions modulo 60 degrees (in [0, 60)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage, sparse

from .._validation import check_float, check_int
from ..errors import ConfigError, ShapeError
from ._results_io import load_result, save_result

__all__ = ["RateMaps", "GridScores", "rate_maps", "spatial_autocorrelogram", "grid_scores"]

_ANGLES = (30, 45, 60, 90, 120, 135, 150)
#: Ring masks of the score: inner radius 0.2, outer radii 0.4 ... 1.0 of the half-width (Banino et al.).
_MASK_INNER = 0.2
_MASK_OUTER = tuple(np.linspace(0.4, 1.0, 10).tolist())
#: Lags of the autocorrelogram covered by fewer bins than this in both maps are left out (NaN).
_MIN_OVERLAP = 20


def _as_array(x: object, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    if isinstance(x, np.ndarray):
        return x.astype(np.float64)
    raise ShapeError(f"'{name}' must be a torch.Tensor or a numpy array. Got {type(x).__name__} instead.")


def _box_bounds(box: float | Sequence[Sequence[float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    if isinstance(box, (int, float)) and not isinstance(box, bool):
        side = check_float("rate_maps", "box", box, low=0, low_inclusive=False)
        return (0.0, side), (0.0, side)
    try:
        (x0, x1), (y0, y1) = box  # type: ignore[misc]
        bounds = (float(x0), float(x1)), (float(y0), float(y1))
    except (TypeError, ValueError):
        raise ConfigError(f"The 'box' parameter of rate_maps must be a side length > 0 or "
                          f"((x_min, x_max), (y_min, y_max)). Got {box!r} instead.") from None
    if not all(hi > lo for lo, hi in bounds):
        raise ConfigError(f"The 'box' parameter of rate_maps must have max > min on each axis. Got {box!r} instead.")
    return bounds


@dataclass(frozen=True, eq=False)
class RateMaps:
    """Occupancy-normalised, smoothed spatial rate maps of units.

    Attributes:
        maps: mean activity of each unit in each spatial bin; NaN where the agent never went.
        occupancy: number of samples in each bin.
        box: ((x_min, x_max), (y_min, y_max)), the area the bins cover.

    Shape:
        - maps: (units, bins, bins), axis 1 is y and axis 2 is x (``imshow(..., origin="lower")``)
        - occupancy: (bins, bins)
    """

    maps: torch.Tensor
    occupancy: torch.Tensor
    box: tuple[tuple[float, float], tuple[float, float]]

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (``maps``, ``occupancy``; ``box`` in its ``meta``)."""
        return save_result(path, "RateMaps", {"maps": self.maps, "occupancy": self.occupancy},
                           {"box": [list(b) for b in self.box]})

    @classmethod
    def load(cls, path: str | Path) -> RateMaps:
        """Read a file written by :meth:`save`."""
        kw, meta = load_result(path, "RateMaps", ("maps", "occupancy"))
        (x0, x1), (y0, y1) = meta["box"]
        return cls(**kw, box=((float(x0), float(x1)), (float(y0), float(y1))))


def rate_maps(
    positions: torch.Tensor | np.ndarray,
    activity: torch.Tensor | np.ndarray,
    *,
    bins: int = 32,
    box: float | Sequence[Sequence[float]] = 1.0,
    smooth: float = 1.0,
) -> RateMaps:
    """Spatial rate maps: the mean activity of each unit in each bin of the box.

    The activity summed in each bin and the occupancy (samples per bin) are both smoothed with a
    Gaussian of ``smooth`` bins before dividing, so sparsely visited bins borrow from their
    neighbours; bins never visited are NaN. Positions outside the box go to the nearest edge bin.

    Args:
        positions: positions of the agent, in the units of ``box``.
        activity: the units' activity at those positions (e.g. ``Trajectory.states`` or rates).
        bins: number of bins per side.
        box: the side of a square box ``[0, box]^2``, or ``((x_min, x_max), (y_min, y_max))``.
        smooth: standard deviation of the Gaussian smoothing in bins; 0 for none.

    Shape:
        - positions: (..., 2), activity: (..., units) with the same leading axes (e.g. (batch, time))
        - returns maps (units, bins, bins)
    """
    pos, act = _as_array(positions, "positions"), _as_array(activity, "activity")
    if pos.shape[-1:] != (2,) or act.ndim < 1 or pos.shape[:-1] != act.shape[:-1]:
        raise ShapeError(f"'positions' (..., 2) and 'activity' (..., units) must share their leading axes. "
                         f"Got {pos.shape} and {act.shape} instead.")
    bins = check_int("rate_maps", "bins", bins, low=2)
    smooth = check_float("rate_maps", "smooth", smooth, low=0)
    (x0, x1), (y0, y1) = bounds = _box_bounds(box)
    pos, act = pos.reshape(-1, 2), act.reshape(-1, act.shape[-1])
    ix = np.clip(((pos[:, 0] - x0) / (x1 - x0) * bins).astype(np.int64), 0, bins - 1)
    iy = np.clip(((pos[:, 1] - y0) / (y1 - y0) * bins).astype(np.int64), 0, bins - 1)
    flat = iy * bins + ix
    occupancy = np.bincount(flat, minlength=bins * bins).reshape(bins, bins).astype(np.float64)
    # summed activity per bin: a sparse (bins^2, samples) indicator times the activity
    indicator = sparse.csr_matrix((np.ones(len(flat)), (flat, np.arange(len(flat)))), shape=(bins * bins, len(flat)))
    total = np.asarray(indicator @ act).T.reshape(-1, bins, bins)
    if smooth > 0:
        occ_s = ndimage.gaussian_filter(occupancy, smooth, mode="constant")
        total = ndimage.gaussian_filter(total, (0, smooth, smooth), mode="constant")
    else:
        occ_s = occupancy
    with np.errstate(invalid="ignore", divide="ignore"):
        maps = total / occ_s
    maps[:, occupancy == 0] = np.nan
    return RateMaps(torch.from_numpy(maps), torch.from_numpy(occupancy), bounds)


def spatial_autocorrelogram(maps: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Pearson correlation of each map with itself at every spatial lag (NaN bins left out).

    Lags at which fewer than 20 bins overlap are NaN.

    Shape: maps (units, H, W) or (H, W) -> (units, 2H - 1, 2W - 1) or (2H - 1, 2W - 1); the zero lag
    at the centre ``[H - 1, W - 1]``.
    """
    m = _as_array(maps, "maps")
    single = m.ndim == 2
    if single:
        m = m[None]
    if m.ndim != 3:
        raise ShapeError(f"'maps' must be (units, H, W) or (H, W). Got shape {m.shape} instead.")
    return torch.from_numpy(_autocorrelograms(m)[0] if single else _autocorrelograms(m))


def _autocorrelograms(m: np.ndarray) -> np.ndarray:
    U, H, W = m.shape
    valid = np.isfinite(m).astype(np.float64)
    f = np.where(valid > 0, m, 0.0)
    shape = (2 * H - 1, 2 * W - 1)
    fft = lambda a: np.fft.rfft2(a, s=shape)  # noqa: E731

    def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # sum_x a(x + lag) b(x), every lag
        c = np.fft.irfft2(fft(a) * np.conj(fft(b)), s=shape)
        return np.fft.fftshift(c, axes=(-2, -1))

    n = np.rint(corr(valid, valid))
    s1 = corr(f, valid)  # sums over the overlap of the shifted map
    s2 = corr(valid, f)
    s11 = corr(f * f, valid)
    s22 = corr(valid, f * f)
    s12 = corr(f, f)
    with np.errstate(invalid="ignore", divide="ignore"):
        num = n * s12 - s1 * s2
        den = np.sqrt(np.clip(n * s11 - s1**2, 0, None) * np.clip(n * s22 - s2**2, 0, None))
        r = num / den
    r[(n < _MIN_OVERLAP) | ~np.isfinite(r)] = np.nan
    return r


@dataclass(frozen=True, eq=False)
class GridScores:
    """Grid scores of rate maps (Sargolini et al. 2006; ring masks of Langston et al. 2010).

    Attributes:
        score60: hexagonal symmetry, ``mean(c60, c120) - mean(c30, c90, c150)``, best ring mask.
        score90: square symmetry, ``c90 - mean(c45, c135)``, best ring mask.
        spacing: median distance of the six autocorrelogram peaks nearest the centre, in the units
            of the maps' box (in bins when the maps carry no box); NaN when fewer than 3 peaks exist.
        orientation: direction of those peaks modulo 60 degrees, in degrees in [0, 60).
        mask_outer60: outer radius (fraction of the half-width) of the mask that gave score60.
        autocorrelograms: the spatial autocorrelograms.

    Shape:
        - score60, score90, spacing, orientation, mask_outer60: (units,)
        - autocorrelograms: (units, 2H - 1, 2W - 1)
    """

    score60: torch.Tensor
    score90: torch.Tensor
    spacing: torch.Tensor
    orientation: torch.Tensor
    mask_outer60: torch.Tensor
    autocorrelograms: torch.Tensor

    def fraction_above(self, threshold: float = 0.3, which: str = "score60") -> float:
        """Fraction of units whose ``which`` score exceeds ``threshold`` (NaN scores count as below)."""
        s = getattr(self, which)
        return float((s > threshold).double().mean())

    def best(self, k: int, which: str = "score60") -> torch.Tensor:
        """Indices of the ``k`` units with the highest ``which`` score (NaN last). Shape: (k,)."""
        s = torch.nan_to_num(getattr(self, which), nan=-math.inf)
        return torch.argsort(s, descending=True)[: min(k, s.numel())]

    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file with every attribute."""
        return save_result(path, "GridScores", {n: getattr(self, n) for n in _GRID_ARRAYS}, {})

    @classmethod
    def load(cls, path: str | Path) -> GridScores:
        """Read a file written by :meth:`save`."""
        kw, _ = load_result(path, "GridScores", _GRID_ARRAYS)
        return cls(**kw)


_GRID_ARRAYS = ("score60", "score90", "spacing", "orientation", "mask_outer60", "autocorrelograms")


def _masked_corr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    keep = mask & np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return math.nan
    x, y = a[keep] - a[keep].mean(), b[keep] - b[keep].mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else math.nan


def _scores(ac: np.ndarray, radius: np.ndarray) -> tuple[float, float, float]:
    """score60, score90 and the outer radius of score60's mask for one autocorrelogram."""
    filled = np.nan_to_num(ac, nan=0.0)
    finite = np.isfinite(ac).astype(np.float64)
    rotated = {}
    for angle in _ANGLES:
        r = ndimage.rotate(filled, angle, reshape=False, order=1, mode="constant", cval=0.0)
        ok = ndimage.rotate(finite, angle, reshape=False, order=1, mode="constant", cval=0.0) > 0.999
        rotated[angle] = np.where(ok, r, np.nan)
    best60, best90, outer60 = -math.inf, -math.inf, math.nan
    for outer in _MASK_OUTER:
        mask = (radius >= _MASK_INNER) & (radius <= outer)
        c = {a: _masked_corr(ac, rotated[a], mask) for a in _ANGLES}
        s60 = (c[60] + c[120]) / 2 - (c[30] + c[90] + c[150]) / 3
        s90 = c[90] - (c[45] + c[135]) / 2
        if s60 > best60:
            best60, outer60 = s60, outer
        if s90 > best90:
            best90 = s90
    nan = lambda v: v if math.isfinite(v) else math.nan  # noqa: E731
    return nan(best60), nan(best90), outer60


def _refine(ac: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """Sub-bin position of a peak by a parabola through it and its two neighbours on each axis."""
    def offset(lo: float, mid: float, hi: float) -> float:
        den = lo - 2 * mid + hi
        return 0.0 if not np.isfinite(den) or den >= 0 else float(np.clip(0.5 * (lo - hi) / den, -0.5, 0.5))

    H, W = ac.shape
    di = offset(ac[i - 1, j], ac[i, j], ac[i + 1, j]) if 0 < i < H - 1 else 0.0
    dj = offset(ac[i, j - 1], ac[i, j], ac[i, j + 1]) if 0 < j < W - 1 else 0.0
    return i + di, j + dj


def _spacing_orientation(ac: np.ndarray, cy: int, cx: int) -> tuple[float, float]:
    """Median distance (bins) and orientation (degrees mod 60) of the six peaks nearest the centre."""
    filled = np.nan_to_num(ac, nan=-np.inf)
    peaks = (filled == ndimage.maximum_filter(filled, size=3, mode="constant", cval=-np.inf)) & (filled > 0)
    peaks[cy, cx] = False
    ii, jj = np.nonzero(peaks)
    if ii.size < 3:
        return math.nan, math.nan
    refined = np.array([_refine(ac, i, j) for i, j in zip(ii, jj)])
    dy, dx = refined[:, 0] - cy, refined[:, 1] - cx
    dist = np.hypot(dx, dy)
    near = np.argsort(dist)[:6]
    angles = np.arctan2(dy[near], dx[near])
    # circular mean of 6 * angle, so that the six directions of one lattice agree
    mean6 = math.atan2(float(np.sin(6 * angles).sum()), float(np.cos(6 * angles).sum()))
    orientation = math.degrees(mean6 / 6) % 60.0
    return float(np.median(dist[near])), 0.0 if orientation >= 60.0 else orientation  # -0.0 % 60 is 60.0


def grid_scores(maps: RateMaps | torch.Tensor | np.ndarray) -> GridScores:
    """Grid scores (score60, score90), spacing and orientation of each rate map.

    Args:
        maps: a :class:`RateMaps`, or maps (units, H, W) (NaN where unvisited; spacing then in bins).
            Maps of a non-square box are fine; the ring masks are fractions of the shorter half-width.

    Returns:
        A :class:`GridScores`. A constant map scores NaN.

    Chance is not 0: the maximum over masks favours the luckiest ring, and smoothing leaves few
    independent bins. Unsmoothed noise maps (32 x 32) score 0.07 on average and none exceeds 0.3;
    uniform noise at 20 samples per bin through ``rate_maps(..., smooth=1)`` scores 0.18 on average
    and a quarter of such units exceed 0.3. Compare scores with a control measured the same way
    (an untrained network, or shuffled activity).

    Shape: maps (units, H, W) -> score60 (units,), ...
    """
    scale = 1.0
    if isinstance(maps, RateMaps):
        (x0, x1), _ = maps.box
        m = _as_array(maps.maps, "maps")
        scale = (x1 - x0) / m.shape[-1]  # box units per bin (square bins assumed along x)
    else:
        m = _as_array(maps, "maps")
    if m.ndim != 3 or min(m.shape[1:]) < 4:
        raise ShapeError(f"'maps' must be (units, H, W) with H, W >= 4. Got shape {m.shape} instead.")
    U, H, W = m.shape
    acs = _autocorrelograms(m)
    cy, cx = H - 1, W - 1
    yy, xx = np.mgrid[0 : 2 * H - 1, 0 : 2 * W - 1]
    radius = np.hypot(yy - cy, xx - cx) / min(H, W)
    out = np.full((5, U), np.nan)
    for u in range(U):
        out[0, u], out[1, u], out[4, u] = _scores(acs[u], radius)
        spacing, orientation = _spacing_orientation(acs[u], cy, cx)
        out[2, u], out[3, u] = spacing * scale, orientation
    t = torch.from_numpy
    return GridScores(t(out[0]), t(out[1]), t(out[2]), t(out[3]), t(out[4]), t(acs))
