"""How similar are two sets of population activity? Model vs brain, or model vs model.

Every metric takes two activity sets recorded on the same trials and time bins,

- ``X`` of shape (trials, time, units_a) and ``Y`` of shape (trials, time, units_b), or
- 2-D ``(samples, units)`` arrays (each row one sample: a time bin of a trial, or a condition),

given as tensors, arrays, two :class:`~rnnscope.dynamics.Trajectory` (their ``states``) or two
:class:`~rnnscope.data.NeuralData` (their ``activity``, cut to the shortest trial), and returns a
:class:`SimilarityResult`: the
score **and a permutation baseline** with its p-value, so that a number means something.

Metrics
-------
- :func:`cca_similarity` -- SVCCA (Raghu et al. 2017): each set is reduced to its top ``k``
  principal components (the regulariser: CCA on all units of a large network fits noise), then the
  mean of the ``k`` canonical correlations between the two reduced sets. 1 = the same ``k``-dim
  subspace up to *any* invertible linear map. An optional ridge shrinks each covariance towards
  its mean variance before whitening.
- :func:`shape_distance` -- generalised shape metrics (Williams, Kunz, Kornblith & Linderman 2021):
  centre, partially whiten ``X -> X (alpha I + (1 - alpha) C_X)^(-1/2)``, scale to unit norm, zero-pad
  to equal width, and take the angle ``arccos ||X^T Y||_*`` between the two points modulo rotations.
  ``alpha = 1`` is the angular Procrustes distance (invariant to rotations, reflections, translation
  and overall scale), ``alpha = 0`` the CCA angle ``arccos(mean canonical correlation)``. For every
  alpha it is a metric: symmetric, zero only for equivalent sets, and it obeys the triangle inequality.
- :func:`rsa_similarity` -- representational similarity analysis: a representational dissimilarity
  matrix (RDM) over conditions, ``1 - Pearson correlation`` across units or the Euclidean distance,
  from the condition averages concatenated over time (one RDM) or at every time bin; the two RDMs
  are compared by the Spearman correlation of their upper triangles. Euclidean RDMs are invariant to
  rotations and translations of the state space, correlation RDMs are not; neither is invariant to
  a general linear map.
- :func:`dsa_distance` -- dynamical similarity analysis (Ostrow, Eisen, Kozachkov & Fiete 2023):
  each set is delay-embedded (a Hankel matrix of ``n_delays`` lagged copies), its leading
  ``rank`` singular time courses are fitted with one linear operator (HAVOK DMD), and the two
  operators are compared up to an orthogonal change of basis: ``min_C arccos(<A, C B C^T> / |A||B|)``
  over orthogonal C, an angle in [0, pi]. It compares how the activity evolves, not where it lies.
- :func:`~rnnscope.analysis.compare_dynamics` (in :mod:`rnnscope.analysis.dynamics_comparison`) goes
  beyond the geometry of trajectories: the fixed-point structure of two networks.

Baselines
---------
*Permutation*: the pairing between ``X`` and ``Y`` is shuffled ``n_permutations`` times and the
metric recomputed: for 3-D data the trials of ``Y`` are permuted (time kept, so the null keeps the
time course the two sets share and asks whether they agree on what differs between trials), for
2-D data the samples; RSA permutes the conditions of one RDM (a Mantel test). The p-value is
``(1 + #{null at least as similar}) / (1 + n_permutations)``.

*Split-half noise ceiling*: :func:`noise_ceiling` splits the repeats of each condition of one data
set into two halves, averages each half and scores the halves against each other: how similar a
second recording of the *same* system would look.
"""

from __future__ import annotations

import abc
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_choice, check_float, check_int, check_seed
from ..dynamics import Trajectory
from ._results_io import load_result, save_result
from ..errors import ConfigError, ShapeError
from ..training import jsonable as _jsonable

__all__ = [
    "ActivitySource",
    "SimilarityResult",
    "NoiseCeiling",
    "cca_similarity",
    "shape_distance",
    "procrustes_distance",
    "rsa_similarity",
    "representational_dissimilarity",
    "noise_ceiling",
    "compare_activity",
    "METRICS",
    "delay_embedding",
    "havok_dmd",
    "dsa_distance",
]

#: The metric names :func:`compare_activity` and ``rnnscope compare`` accept.
METRICS = ("cca", "procrustes", "rsa", "dsa")


# ---------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class SimilarityResult:
    """A similarity (or distance) between two activity sets with its permutation baseline.

    Attributes:
        metric: e.g. ``"cca"``, ``"procrustes"``, ``"shape(alpha=0.5)"``, ``"rsa"``.
        score: the value on the true pairing.
        null: the values on ``n_permutations`` shuffled pairings.
        p_value: ``(1 + #{null at least as similar as score}) / (1 + len(null))``; NaN without null.
        higher_is_similar: True for similarities (CCA, RSA), False for distances (shape metrics).
        permute: what was shuffled: ``"trials"``, ``"samples"``, ``"conditions"``, or ``"none"`` (no baseline).
        details: metric-specific numbers (canonical correlations, k, alpha, ...).
        ceiling: split-half noise ceiling (mean over splits), when computed.

    Shape:
        - null: (n_permutations,)
    """

    metric: str
    score: float
    null: np.ndarray
    p_value: float
    higher_is_similar: bool
    permute: str
    details: dict[str, Any] = field(default_factory=dict)
    ceiling: float | None = None

    @property
    def null_mean(self) -> float:
        return float(np.mean(self.null)) if len(self.null) else float("nan")

    @property
    def null_std(self) -> float:
        return float(np.std(self.null, ddof=1)) if len(self.null) > 1 else float("nan")

    @property
    def z_score(self) -> float:
        """(score - null mean) / null std, signed so that positive means more similar than chance."""
        sign = 1.0 if self.higher_is_similar else -1.0
        sd = self.null_std
        return sign * (self.score - self.null_mean) / sd if sd and math.isfinite(sd) and sd > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-able data (``null`` as a list; NaN as None)."""
        return _jsonable({
            "metric": self.metric, "score": self.score, "p_value": self.p_value,
            "null_mean": self.null_mean, "null_std": self.null_std, "n_permutations": int(len(self.null)),
            "higher_is_similar": self.higher_is_similar, "permute": self.permute, "ceiling": self.ceiling,
            "details": self.details, "null": [float(v) for v in self.null],
        })

    def save(self, path: str | Path) -> Path:
        """Write the result to one ``.npz`` file (the null as an array, the rest as JSON metadata);
        :meth:`load` reads it back. Returns the path."""
        meta = _jsonable({"metric": self.metric, "score": self.score, "p_value": self.p_value,
                          "higher_is_similar": self.higher_is_similar, "permute": self.permute,
                          "ceiling": self.ceiling, "details": self.details})
        return save_result(path, "SimilarityResult", {"null": np.asarray(self.null, dtype=np.float64)}, meta)

    @classmethod
    def load(cls, path: str | Path) -> SimilarityResult:
        """Read a result written by :meth:`save`."""
        arrays, d = load_result(path, "SimilarityResult", ("null",))
        return cls(metric=d["metric"], score=math.nan if d["score"] is None else float(d["score"]),
                   null=arrays["null"].numpy(),
                   p_value=float(d["p_value"]) if d["p_value"] is not None else math.nan,
                   higher_is_similar=bool(d["higher_is_similar"]), permute=d["permute"],
                   details=dict(d.get("details") or {}), ceiling=d.get("ceiling"))

    def line(self) -> str:
        """One table row: metric, score, null mean +- std, p-value."""
        ceil = "" if self.ceiling is None else f"  ceiling {self.ceiling:.3f}"
        if not self.higher_is_similar:
            ceil += "  (a distance: lower is more similar)"
        return (f"{self.metric:<18} {self.score:8.4f}   null {self.null_mean:7.4f} +- {self.null_std:6.4f}   "
                f"p = {self.p_value:.4f}{ceil}")

    def __repr__(self) -> str:
        return (f"SimilarityResult(metric={self.metric!r}, score={self.score:.4g}, null={self.null_mean:.4g}"
                f"+-{self.null_std:.2g}, p={self.p_value:.3g})")


@dataclass(frozen=True)
class NoiseCeiling:
    """Split-half scores of one data set against itself (a noise ceiling).

    Shape:
        - scores: (n_splits,)
    """

    metric: str
    scores: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0


# ---------------------------------------------------------------------------------------- inputs
class ActivitySource(abc.ABC):
    """Anything that holds activity on trials and can give it for comparison (e.g.
    :class:`~rnnscope.data.NeuralData`): every metric of this module accepts one."""

    @abc.abstractmethod
    def comparable_activity(self) -> torch.Tensor:
        """The activity on the time bins every trial has. Shape: (trials, time, units)."""


def _activity(owner: str, name: str, value: Any) -> np.ndarray:
    """Activity as a float64 array of shape (trials, time, units) or (samples, units)."""
    if isinstance(value, ActivitySource):
        value = value.comparable_activity()
    elif isinstance(value, Trajectory):
        value = value.states
    if isinstance(value, torch.Tensor):
        arr = value.detach().to("cpu", torch.float64).numpy()
    elif isinstance(value, np.ndarray):
        arr = value.astype(np.float64, copy=False)
    else:
        raise ShapeError(f"The {name!r} parameter of {owner} must be activity of shape (trials, time, units) "
                         f"or (samples, units): a tensor, an array, a Trajectory or NeuralData. "
                         f"Got {type(value).__name__} instead.")
    if arr.ndim not in (2, 3):
        raise ShapeError(f"The {name!r} parameter of {owner} must have shape (trials, time, units) or "
                         f"(samples, units). Got shape {tuple(arr.shape)} instead.")
    if arr.size == 0:
        raise ShapeError(f"The {name!r} parameter of {owner} is empty (shape {tuple(arr.shape)}).")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ConfigError(f"The {name!r} parameter of {owner} must be finite. Got {bad} NaN or infinite "
                          f"value(s) among {arr.size}; drop or interpolate them first.")
    return arr


def _pair(owner: str, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = _activity(owner, "X", X)
    Y = _activity(owner, "Y", Y)
    if X.ndim != Y.ndim:
        raise ShapeError(f"{owner} needs X and Y of the same kind: both (trials, time, units) or both "
                         f"(samples, units). Got shapes {X.shape} and {Y.shape} instead.")
    if X.shape[:-1] != Y.shape[:-1]:
        what = "trials and time bins" if X.ndim == 3 else "samples"
        raise ShapeError(f"{owner} compares activity on the same {what}: X and Y must agree on every axis but "
                         f"the last (units). Got shapes {X.shape} and {Y.shape} instead.")
    return X, Y


def _rows(A: np.ndarray) -> np.ndarray:
    return A.reshape(-1, A.shape[-1])


def _check_permute(owner: str, permute: str | None, ndim: int) -> str:
    if permute is None:
        return "trials" if ndim == 3 else "samples"
    check_choice(owner, "permute", permute, ("trials", "samples"))
    if permute == "trials" and ndim != 3:
        raise ConfigError(f"The 'permute' parameter of {owner} can be 'trials' only for activity of shape "
                          f"(trials, time, units). Got 2-D activity; use permute='samples'.")
    return permute


def _row_permutations(shape: tuple[int, ...], permute: str, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of ``n`` shuffled pairings of the flattened (samples, units) rows."""
    if permute == "samples":
        total = int(np.prod(shape[:-1]))
        return [rng.permutation(total) for _ in range(n)]
    trials, T = shape[0], shape[1]
    base = np.arange(T)
    return [(rng.permutation(trials)[:, None] * T + base).ravel() for _ in range(n)]


def _p_value(score: float, null: np.ndarray, higher: bool) -> float:
    if len(null) == 0:
        return float("nan")
    tol = 1e-12 * max(1.0, abs(score))
    hits = (null >= score - tol) if higher else (null <= score + tol)
    return float((1 + hits.sum()) / (1 + len(null)))


def _common(owner: str, n_permutations: int, seed: int) -> tuple[int, np.random.Generator]:
    n = check_int(owner, "n_permutations", n_permutations, low=0)
    s = check_seed(owner, "seed", seed)
    return n, np.random.default_rng(s)


# ---------------------------------------------------------------------------------------- CCA
def _pca_reduce(A: np.ndarray, k: int) -> np.ndarray:
    """Centred rows projected on their top-k principal components. Shape (n, p) -> (n, k)."""
    A = A - A.mean(0)
    u, s, _ = np.linalg.svd(A, full_matrices=False)
    return u[:, :k] * s[:k]


def _whiten(A: np.ndarray, ridge: float, owner: str, name: str) -> np.ndarray:
    """An orthonormal basis of the (ridge-shrunk) column space of centred ``A``: ``A C^(-1/2) / sqrt(n)``."""
    n, p = A.shape
    C = A.T @ A / n
    if ridge > 0:
        C = (1 - ridge) * C + ridge * np.trace(C) / p * np.eye(p)
    w, V = np.linalg.eigh(C)
    if w.min() <= 1e-12 * max(w.max(), 1e-300):
        raise ConfigError(f"{owner}: the top principal components of {name!r} are degenerate (activity of rank "
                          f"< k). Use a smaller 'k' or a ridge > 0.")
    return A @ (V / np.sqrt(w)) @ V.T / math.sqrt(n)


def cca_similarity(
    X: Any,
    Y: Any,
    *,
    k: int | None = None,
    ridge: float = 0.0,
    permute: str | None = None,
    n_permutations: int = 200,
    seed: int = 0,
) -> SimilarityResult:
    """SVCCA: mean canonical correlation of the top ``k`` principal components of X and of Y.

    Each set is centred and reduced to its top ``k`` principal components (SVD), the reduced sets are
    whitened, and the canonical correlations are the singular values of the product of the whitened
    sets. The PCA truncation is the regulariser (without it, CCA between two sets with more units
    than ``samples / 10`` or so finds spurious correlations); ``ridge`` additionally shrinks each
    covariance, ``C -> (1 - ridge) C + ridge * mean variance * I``.

    Invariances: any invertible linear map of the units that keeps the top-``k`` subspace (every
    invertible map when the activity has rank <= ``k``), translation and scale.

    Args:
        X, Y: activity on the same trials and time bins (see the module docstring).
        k: components kept per set; default ``min(10, units_a, units_b)``.
        ridge: covariance shrinkage in [0, 1).
        permute: ``"trials"`` (default for 3-D) or ``"samples"`` (default for 2-D) for the baseline.
        n_permutations: shuffled pairings of the baseline (0: none, p-value NaN).
        seed: seed of the permutations.

    Returns:
        A :class:`SimilarityResult` (higher is more similar; at most 1); ``details`` holds the
        canonical correlations and ``k``.

    Shape:
        - X: (trials, time, units_a) or (samples, units_a); Y: same leading axes, units_b
    """
    owner = "cca_similarity"
    X, Y = _pair(owner, X, Y)
    permute = _check_permute(owner, permute, X.ndim)
    n_perm, rng = _common(owner, n_permutations, seed)
    ridge = check_float(owner, "ridge", ridge, low=0, high=1, high_inclusive=False)
    A, B = _rows(X), _rows(Y)
    n = A.shape[0]
    k_max = min(A.shape[1], B.shape[1])
    k = min(10, k_max) if k is None else check_int(owner, "k", k, low=1, high=k_max)
    if n < k + 2:
        raise ShapeError(f"{owner} needs more samples than components: at least k + 2 = {k + 2} samples "
                         f"(trials x time bins). Got {n}.")
    Qa = _whiten(_pca_reduce(A, k), ridge, owner, "X")
    Qb = _whiten(_pca_reduce(B, k), ridge, owner, "Y")

    def score(idx: np.ndarray | None) -> tuple[float, np.ndarray]:
        Mb = Qb if idx is None else Qb[idx]
        rho = np.linalg.svd(Qa.T @ Mb, compute_uv=False)
        rho = np.clip(rho, 0.0, 1.0)
        return float(rho.mean()), rho

    value, rho = score(None)
    null = np.array([score(idx)[0] for idx in _row_permutations(X.shape, permute, n_perm, rng)])
    return SimilarityResult("cca", value, null, _p_value(value, null, True), True, permute,
                            {"k": k, "ridge": ridge, "canonical_correlations": rho.tolist()})


# ---------------------------------------------------------------------------------------- shape metrics
def _shape_embed(A: np.ndarray, alpha: float, n_components: int | None) -> np.ndarray:
    """Centred, partially whitened, unit-norm rows (the point of ``A`` in shape space)."""
    A = A - A.mean(0)
    if n_components is not None:
        A = _pca_reduce(A, n_components)
    n, p = A.shape
    C = A.T @ A / n
    mean_var = np.trace(C) / p
    if mean_var <= 0:
        return A  # constant activity: the zero point (caught by the caller)
    if alpha < 1:
        # scale so that the mean variance per dimension is 1: alpha blends I and C on equal footing
        w, V = np.linalg.eigh(C / mean_var)
        keep = w > 1e-10 * w.max()
        m = alpha + (1 - alpha) * w
        inv_sqrt = np.where(keep, 1.0 / np.sqrt(np.where(m > 0, m, 1.0)), 0.0)
        A = (A / math.sqrt(mean_var)) @ (V * inv_sqrt) @ V.T
    norm = np.linalg.norm(A)
    return A / norm


def _pad(A: np.ndarray, p: int) -> np.ndarray:
    return A if A.shape[1] == p else np.concatenate([A, np.zeros((A.shape[0], p - A.shape[1]))], axis=1)


def _angle(Za: np.ndarray, Zb: np.ndarray) -> float:
    nuc = np.linalg.svd(Za.T @ Zb, compute_uv=False).sum()
    return float(np.arccos(np.clip(nuc, -1.0, 1.0)))


def shape_distance(
    X: Any,
    Y: Any,
    *,
    alpha: float = 1.0,
    n_components: int | None = None,
    permute: str | None = None,
    n_permutations: int = 200,
    seed: int = 0,
) -> SimilarityResult:
    """Generalised shape metric (Williams et al. 2021): angular distance after partial whitening.

    Each set is centred, reduced to ``n_components`` principal components if given, partially
    whitened by ``(alpha I + (1 - alpha) C / c)^(-1/2)`` (C its covariance, c the mean variance per
    dimension), scaled to unit Frobenius norm and zero-padded to the width of the wider set. The
    distance is ``arccos(||Z_X^T Z_Y||_*)`` in radians, in [0, pi/2]: the angle between the two
    points after the best rotation/reflection. It is a metric on equivalence classes (symmetric,
    triangle inequality). ``alpha = 1``: Procrustes (invariant to orthogonal maps, translation,
    scale); ``alpha = 0``: the CCA angle, invariant to every invertible linear map.

    Args:
        X, Y: activity on the same trials and time bins.
        alpha: the whitening parameter in [0, 1].
        n_components: reduce each set to this many principal components first (None: zero-padding).
        permute, n_permutations, seed: the permutation baseline (see :func:`cca_similarity`).

    Returns:
        A :class:`SimilarityResult` (a distance: lower is more similar).

    Shape:
        - X: (trials, time, units_a) or (samples, units_a); Y: same leading axes, units_b
    """
    owner = "shape_distance"
    X, Y = _pair(owner, X, Y)
    alpha = check_float(owner, "alpha", alpha, low=0, high=1)
    permute = _check_permute(owner, permute, X.ndim)
    n_perm, rng = _common(owner, n_permutations, seed)
    A, B = _rows(X), _rows(Y)
    n = A.shape[0]
    if n_components is not None:
        n_components = check_int(owner, "n_components", n_components, low=1,
                                 high=min(A.shape[1], B.shape[1], n))
    if n < 3:
        raise ShapeError(f"{owner} needs at least 3 samples (trials x time bins). Got {n}.")
    for name, M in (("X", A), ("Y", B)):
        if np.allclose(M, M.mean(0)):
            raise ConfigError(f"The {name!r} parameter of {owner} is constant: a shape needs activity that varies "
                              "across samples.")
    Za, Zb = _shape_embed(A, alpha, n_components), _shape_embed(B, alpha, n_components)
    p = max(Za.shape[1], Zb.shape[1])
    Za, Zb = _pad(Za, p), _pad(Zb, p)
    value = _angle(Za, Zb)
    null = np.array([_angle(Za, Zb[idx]) for idx in _row_permutations(X.shape, permute, n_perm, rng)])
    name = "procrustes" if alpha == 1.0 else f"shape(alpha={alpha:g})"
    return SimilarityResult(name, value, null, _p_value(value, null, False), False, permute,
                            {"alpha": alpha, "n_components": n_components, "units": "radians"})


def procrustes_distance(X: Any, Y: Any, **kwargs: Any) -> SimilarityResult:
    """The angular Procrustes distance: :func:`shape_distance` with ``alpha = 1``."""
    if "alpha" in kwargs:
        raise ConfigError("procrustes_distance is shape_distance with alpha=1; call shape_distance for "
                          f"another alpha. Got alpha={kwargs['alpha']!r}.")
    return shape_distance(X, Y, alpha=1.0, **kwargs)


def _procrustes_map(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The orthogonal R minimising ``||A R - B||_F`` for centred A, B of equal width."""
    u, _, vt = np.linalg.svd(A.T @ B)
    return u @ vt


# ---------------------------------------------------------------------------------------- RSA
def _condition_groups(owner: str, A: np.ndarray, conditions: Any) -> np.ndarray:
    """The condition index (0, 1, ...) of each trial (row of A), from one label or a row of labels each."""
    labels = np.asarray(conditions.detach().cpu() if isinstance(conditions, torch.Tensor) else conditions)
    if labels.ndim == 1:
        labels = labels[:, None]
    if labels.ndim != 2 or labels.shape[0] != A.shape[0]:
        raise ShapeError(f"The 'conditions' parameter of {owner} must give one label (or row of labels) per trial, "
                         f"shape ({A.shape[0]},) or ({A.shape[0]}, k). Got shape {labels.shape} instead.")
    _, groups = np.unique(labels, axis=0, return_inverse=True)
    return groups.ravel()


def _condition_means(owner: str, A: np.ndarray, conditions: Any) -> np.ndarray:
    if conditions is None:
        return A
    groups = _condition_groups(owner, A, conditions)
    return np.stack([A[groups == g].mean(0) for g in range(groups.max() + 1)])


def representational_dissimilarity(
    activity: Any,
    *,
    dissimilarity: str = "correlation",
    mode: str = "concatenate",
    conditions: Any = None,
) -> np.ndarray:
    """Representational dissimilarity matrices over conditions.

    Args:
        activity: (trials, time, units) or (conditions, units) activity.
        dissimilarity: ``"correlation"`` (1 - Pearson correlation across units) or ``"euclidean"``.
        mode: ``"concatenate"`` (each condition is its whole time course: one RDM) or ``"time"``
            (one RDM per time bin). 2-D activity has a single RDM either way.
        conditions: per-trial labels (trials,) or (trials, k): trials with equal labels are averaged
            first; None treats every trial as its own condition.

    Returns:
        float64 array, (conditions, conditions) or (time, conditions, conditions) for ``mode="time"``.
    """
    owner = "representational_dissimilarity"
    A = _activity(owner, "activity", activity)
    check_choice(owner, "dissimilarity", dissimilarity, ("correlation", "euclidean"))
    check_choice(owner, "mode", mode, ("concatenate", "time"))
    return _rdm(owner, _condition_means(owner, A, conditions), dissimilarity, mode)


def _rdm(owner: str, A: np.ndarray, dissimilarity: str, mode: str) -> np.ndarray:
    if A.ndim == 3 and mode == "time":
        V = np.transpose(A, (1, 0, 2))  # (time, conditions, units)
    else:
        V = A.reshape(A.shape[0], -1)[None]
    if dissimilarity == "euclidean":
        sq = (V**2).sum(-1)
        D2 = sq[:, :, None] + sq[:, None, :] - 2 * V @ np.swapaxes(V, 1, 2)
        D = np.sqrt(np.clip(D2, 0, None))
    else:
        Vc = V - V.mean(-1, keepdims=True)
        norm = np.linalg.norm(Vc, axis=-1)
        if mode == "concatenate" and (norm <= 1e-12 * max(norm.max(), 1e-300)).any():
            raise ConfigError(f"{owner}: a condition has the same activity in every unit, so its correlation "
                              "dissimilarity is undefined; use dissimilarity='euclidean'.")
        with np.errstate(invalid="ignore", divide="ignore"):
            Vn = Vc / norm[..., None]
            D = 1.0 - Vn @ np.swapaxes(Vn, 1, 2)
    idx = np.arange(D.shape[-1])
    D[:, idx, idx] = 0.0
    return D if (A.ndim == 3 and mode == "time") else D[0]


def _upper_ranks(D: np.ndarray) -> np.ndarray:
    """A symmetric matrix of the (average) ranks of the upper-triangle entries of each RDM."""
    from scipy.stats import rankdata

    C = D.shape[-1]
    iu = np.triu_indices(C, 1)
    R = np.zeros_like(D)
    ranks = rankdata(D[..., iu[0], iu[1]], axis=-1)
    R[..., iu[0], iu[1]] = ranks
    R[..., iu[1], iu[0]] = ranks
    return R


def rsa_similarity(
    X: Any,
    Y: Any,
    *,
    dissimilarity: str = "correlation",
    mode: str = "concatenate",
    conditions: Any = None,
    n_permutations: int = 1000,
    seed: int = 0,
) -> SimilarityResult:
    """Representational similarity: Spearman correlation of the upper triangles of the two RDMs.

    The RDMs come from :func:`representational_dissimilarity`. With ``mode="time"`` the score is the
    mean over time bins of the per-bin Spearman correlations (bins where either RDM is constant, e.g.
    before the conditions differ, are skipped and counted in ``details``). The baseline permutes the
    conditions of Y's RDM (rows and columns together: a Mantel test), the same permutation at every
    time bin.

    Args:
        X, Y: activity on the same trials (and time bins), or (conditions, units).
        dissimilarity: ``"correlation"`` or ``"euclidean"``.
        mode: ``"concatenate"`` or ``"time"``.
        conditions: per-trial labels; trials with equal labels are averaged before the RDMs.
        n_permutations, seed: the permutation baseline.

    Returns:
        A :class:`SimilarityResult` (higher is more similar; 1 = the same ordering of dissimilarities).

    Shape:
        - X: (trials, time, units_a) or (conditions, units_a); Y: same leading axes, units_b
    """
    owner = "rsa_similarity"
    from scipy.stats import spearmanr

    X, Y = _pair(owner, X, Y)
    check_choice(owner, "dissimilarity", dissimilarity, ("correlation", "euclidean"))
    check_choice(owner, "mode", mode, ("concatenate", "time"))
    n_perm, rng = _common(owner, n_permutations, seed)
    Xc, Yc = _condition_means(owner, X, conditions), _condition_means(owner, Y, conditions)
    C = Xc.shape[0]
    if C < 4:
        raise ShapeError(f"{owner} needs at least 4 conditions (6 pairs) to correlate two RDMs. Got {C}.")
    Dx, Dy = _rdm(owner, Xc, dissimilarity, mode), _rdm(owner, Yc, dissimilarity, mode)
    if Dx.ndim == 2:
        Dx, Dy = Dx[None], Dy[None]
    iu = np.triu_indices(C, 1)
    ux, uy = Dx[:, iu[0], iu[1]], Dy[:, iu[0], iu[1]]
    ok = np.isfinite(ux).all(1) & np.isfinite(uy).all(1) & (np.ptp(ux, 1) > 1e-12 * np.abs(ux).max(1).clip(1e-300)) \
        & (np.ptp(uy, 1) > 1e-12 * np.abs(uy).max(1).clip(1e-300))
    if not ok.any():
        raise ConfigError(f"{owner}: the RDMs are constant (every pair of conditions equally dissimilar) in X or Y, "
                          "so their rank correlation is undefined.")
    Dx, Dy = Dx[ok], Dy[ok]
    per_bin = np.array([spearmanr(Dx[t][iu], Dy[t][iu]).statistic for t in range(len(Dx))])
    value = float(per_bin.mean())
    # the null: Spearman = Pearson of ranks; permuting conditions permutes Y's rank matrix
    Rx, Ry = _upper_ranks(Dx), _upper_ranks(Dy)
    rx = Rx[:, iu[0], iu[1]]
    rx = rx - rx.mean(1, keepdims=True)
    rx /= np.linalg.norm(rx, axis=1, keepdims=True)
    null = np.empty(n_perm)
    for i in range(n_perm):
        p = rng.permutation(C)
        ry = Ry[:, p][:, :, p][:, iu[0], iu[1]]
        ry = ry - ry.mean(1, keepdims=True)
        ry /= np.linalg.norm(ry, axis=1, keepdims=True)
        null[i] = float((rx * ry).sum(1).mean())
    details = {"dissimilarity": dissimilarity, "mode": mode, "conditions": C}
    if mode == "time" and X.ndim == 3:
        details["time_bins_used"] = int(ok.sum())
        details["time_bins_skipped"] = int((~ok).sum())
    return SimilarityResult("rsa", value, null, _p_value(value, null, True), True, "conditions", details)


# ---------------------------------------------------------------------------------------- ceiling
def noise_ceiling(
    X: Any,
    conditions: Any,
    *,
    metric: str = "cca",
    n_splits: int = 20,
    seed: int = 0,
    **metric_kwargs: Any,
) -> NoiseCeiling:
    """Split-half noise ceiling: the metric between two halves of the repeats of each condition.

    For each split the trials of every condition are shuffled and divided in two halves; each half
    is averaged per condition, giving two (conditions, time, units) sets on the same conditions, and
    the metric is computed between them (without a permutation baseline).

    Args:
        X: single-trial activity (trials, time, units).
        conditions: per-trial labels (trials,) or (trials, k); every condition needs >= 2 trials.
        metric: ``"cca"``, ``"procrustes"`` or ``"rsa"``.
        n_splits: number of random splits.
        seed: seed of the splits.
        **metric_kwargs: passed to the metric (e.g. ``k``, ``dissimilarity``).
    """
    owner = "noise_ceiling"
    A = _activity(owner, "X", X)
    check_choice(owner, "metric", metric, METRICS)
    n_splits = check_int(owner, "n_splits", n_splits, low=1)
    rng = np.random.default_rng(check_seed(owner, "seed", seed))
    groups = _condition_groups(owner, A, conditions)
    counts = np.bincount(groups)
    if counts.min() < 2:
        raise ShapeError(f"{owner} needs at least 2 trials of every condition to split them. "
                         f"The rarest condition has {counts.min()}.")
    fn = _METRIC_FUNCTIONS[metric]
    scores = []
    for _ in range(n_splits):
        halves = ([], [])
        for g in range(len(counts)):
            idx = rng.permutation(np.flatnonzero(groups == g))
            h = len(idx) // 2
            halves[0].append(A[idx[:h]].mean(0))
            halves[1].append(A[idx[h:2 * h]].mean(0))
        r = fn(np.stack(halves[0]), np.stack(halves[1]), n_permutations=0, **metric_kwargs)
        scores.append(r.score)
    return NoiseCeiling(metric, np.asarray(scores))


# ---------------------------------------------------------------------------------------- DSA
def delay_embedding(X: np.ndarray, n_delays: int, delay_interval: int = 1) -> np.ndarray:
    """The Hankel (delay) embedding: row t holds ``x(t + (n_delays - 1) d), ..., x(t + d), x(t)``.

    Shape: (trials, time, units) -> (trials, time - (n_delays - 1) d, units * n_delays); a 2-D
    (time, units) series is one trial.
    """
    A = X[None] if X.ndim == 2 else X
    span = (n_delays - 1) * delay_interval
    T = A.shape[1] - span
    if T < 2:
        raise ShapeError(f"delay_embedding needs more time bins than (n_delays - 1) * delay_interval + 1 = {span + 2}. "
                         f"Got {A.shape[1]}.")
    parts = [A[:, span - d * delay_interval: span - d * delay_interval + T] for d in range(n_delays)]
    out = np.concatenate(parts, axis=-1)
    return out[0] if X.ndim == 2 else out


def havok_dmd(X: np.ndarray, *, n_delays: int, rank: int, delay_interval: int = 1, ridge: float = 0.0) -> np.ndarray:
    """The linear operator of HAVOK DMD (Brunton et al. 2017), as used by DSA: the delay embedding's
    top ``rank`` right singular vectors (its eigen-time-delay coordinates) ``v(t)``, and the least-squares
    ``A`` with ``v(t + 1) = A v(t)`` within each trial. Shape: X (trials, time, units) -> (rank, rank)."""
    H = delay_embedding(X if X.ndim == 3 else X[None], n_delays, delay_interval)
    K, T, D = H.shape
    _, _, vt = np.linalg.svd(H.reshape(K * T, D).T, full_matrices=False)
    if rank > vt.shape[0]:
        raise ShapeError(f"havok_dmd: the delay embedding has rank at most {vt.shape[0]}; got rank={rank}.")
    V = vt.T[:, :rank].reshape(K, T, rank)
    before, after = V[:, :-1].reshape(-1, rank), V[:, 1:].reshape(-1, rank)
    G = before.T @ before + ridge * np.eye(rank)
    return np.linalg.solve(G, before.T @ after).T


def _orthogonal_angle(A: np.ndarray, B: np.ndarray, restarts: int, iters: int, seed: int) -> tuple[float, np.ndarray]:
    """``min over orthogonal C of arccos(<A, C B C^T> / |A| |B|)`` and the best C.

    Riemannian gradient ascent of ``f(C) = <A, C B C^T>`` on the orthogonal group: the Euclidean
    gradient ``G = A C B^T + A^T C B`` gives the skew direction ``W = G C^T - C G^T``, and the Cayley
    transform ``C <- (I - h W / 2)^-1 (I + h W / 2) C`` keeps C orthogonal; the step h doubles after
    a gain and halves after a loss. Started from the best sign flips of the coordinates (both
    components of O(n)) and from random orthogonal matrices; the best end point is kept."""
    n = A.shape[0]
    a, b = A / np.linalg.norm(A), B / np.linalg.norm(B)
    rng = np.random.default_rng(seed)
    eye = np.eye(n)

    def f(C: np.ndarray) -> float:
        return float((a * (C @ b @ C.T)).sum())

    # the sign flips of the coordinates (singular vectors come with arbitrary signs, so the same
    # dynamics gives operators that differ by one of them): the best few, then random rotations
    signs = [np.diag(d) for d in itertools.product((1.0, -1.0), repeat=min(n, 10))]
    signs = [np.diag(np.concatenate([np.diag(S), np.ones(n - S.shape[0])])) for S in signs]
    signs.sort(key=f, reverse=True)
    starts = signs[: max(1, restarts // 2)]
    starts += [np.linalg.qr(rng.normal(size=(n, n)))[0] for _ in range(restarts - len(starts))]

    best, best_C = -math.inf, eye
    for C in starts:
        value, h = f(C), 1.0
        for _ in range(iters):
            G = a @ C @ b.T + a.T @ C @ b
            W = G @ C.T - C @ G.T
            if np.abs(W).max() < 1e-12:
                break
            C_try = np.linalg.solve(eye - 0.5 * h * W, (eye + 0.5 * h * W) @ C)
            v_try = f(C_try)
            if v_try > value:
                C, value, h = C_try, v_try, 2.0 * h
            else:
                h *= 0.5
                if h < 1e-12:
                    break
        if value > best:
            best, best_C = value, C
    return float(np.arccos(np.clip(best, -1.0, 1.0))), best_C


def dsa_distance(
    X: Any,
    Y: Any,
    *,
    n_delays: int = 10,
    rank: int = 10,
    delay_interval: int = 1,
    ridge: float = 0.0,
    restarts: int = 8,
    iters: int = 500,
    seed: int = 0,
) -> SimilarityResult:
    """Dynamical similarity analysis (Ostrow et al. 2023): the angular Procrustes distance between the
    HAVOK DMD operators of X and Y (see the module docstring).

    The score is the paper's angular one, in radians in [0, pi]; 0 when one operator is an orthogonal
    change of basis of the other. (The ``dsa-metric`` package's v2 default, ``score_method=
    "wasserstein"``, compares eigenvalue spectra instead.) No permutation baseline: the operator does
    not depend on how trials are paired (``null`` is empty, p-value NaN).

    Args:
        X, Y: activity (trials, time, units) or one (time, units) series each; the trials and the
            time bins need not match between X and Y.
        n_delays, delay_interval: the delay embedding.
        rank: the number of eigen-time-delay coordinates fitted (the size of the operators).
        ridge: ridge regularisation of the least-squares fit.
        restarts, iters, seed: the search over orthogonal matrices.

    Returns:
        A :class:`SimilarityResult` (a distance: lower is more similar); ``details`` holds the two
        operators' eigenvalues.
    """
    owner = "dsa_distance"
    X, Y = _activity(owner, "X", X), _activity(owner, "Y", Y)
    n_delays = check_int(owner, "n_delays", n_delays, low=1)
    rank = check_int(owner, "rank", rank, low=1)
    delay_interval = check_int(owner, "delay_interval", delay_interval, low=1)
    ridge = check_float(owner, "ridge", ridge, low=0)
    restarts = check_int(owner, "restarts", restarts, low=1)
    iters = check_int(owner, "iters", iters, low=1)
    seed = check_int(owner, "seed", seed, low=0)
    A = havok_dmd(X, n_delays=n_delays, rank=rank, delay_interval=delay_interval, ridge=ridge)
    B = havok_dmd(Y, n_delays=n_delays, rank=rank, delay_interval=delay_interval, ridge=ridge)
    angle, _ = _orthogonal_angle(A, B, restarts, iters, seed)
    details = {"n_delays": n_delays, "rank": rank, "delay_interval": delay_interval, "units": "radians",
               "eigenvalues_X": [complex(v) for v in np.linalg.eigvals(A)],
               "eigenvalues_Y": [complex(v) for v in np.linalg.eigvals(B)]}
    details["eigenvalues_X"] = [[v.real, v.imag] for v in details["eigenvalues_X"]]
    details["eigenvalues_Y"] = [[v.real, v.imag] for v in details["eigenvalues_Y"]]
    return SimilarityResult("dsa", angle, np.zeros(0), math.nan, False, "none", details)


def _dsa_metric(X: Any, Y: Any, *, n_permutations: int = 0, seed: int = 0, **kwargs: Any) -> SimilarityResult:
    return dsa_distance(X, Y, seed=seed, **kwargs)


_METRIC_FUNCTIONS = {"cca": cca_similarity, "procrustes": procrustes_distance, "rsa": rsa_similarity,
                     "dsa": _dsa_metric}


def compare_activity(
    X: Any,
    Y: Any,
    *,
    metrics: Sequence[str] = METRICS,
    n_permutations: int = 200,
    seed: int = 0,
    conditions: Any = None,
    k: int | None = None,
) -> dict[str, SimilarityResult]:
    """Every metric in ``metrics`` between X and Y, each with its permutation baseline.

    ``conditions`` (per-trial labels) is used by RSA to average trials of a condition; ``k`` is the
    number of components of CCA.
    """
    owner = "compare_activity"
    if isinstance(metrics, str) or not metrics:
        raise ConfigError(f"The 'metrics' parameter of {owner} must be a non-empty list of metric names among "
                          f"{', '.join(METRICS)}. Got {metrics!r} instead.")
    for m in metrics:
        check_choice(owner, "metrics", m, METRICS)
    out: dict[str, SimilarityResult] = {}
    for m in metrics:
        if m == "cca":
            out[m] = cca_similarity(X, Y, k=k, n_permutations=n_permutations, seed=seed)
        elif m == "procrustes":
            out[m] = procrustes_distance(X, Y, n_permutations=n_permutations, seed=seed)
        elif m == "dsa":
            out[m] = dsa_distance(X, Y, seed=seed)
        else:
            out[m] = rsa_similarity(X, Y, conditions=conditions, n_permutations=n_permutations, seed=seed)
    return out
