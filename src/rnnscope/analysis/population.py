"""Many networks at once: the matrix of similarities between every pair of activity sets.

Comparing a population of trained networks (Maheswaranathan et al. 2019) takes n (n - 1) / 2 pairs.
:func:`similarity_matrix` reduces each activity set once (its principal components, its whitened or
shape-space form) and then compares pairs with small products, so 30 networks cost 30 reductions
instead of 870; each entry equals the score of :func:`~rnnscope.analysis.cca_similarity` or
:func:`~rnnscope.analysis.shape_distance` on that pair.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int
from ..errors import ConfigError, ShapeError
from .similarity import _activity, _angle, _pad, _pca_reduce, _rows, _shape_embed, _whiten

__all__ = ["similarity_matrix"]


def similarity_matrix(activities: Sequence[Any], *, metric: str = "cca", k: int | None = None,
                      alpha: float = 1.0, n_components: int | None = None) -> np.ndarray:
    """The similarity (``"cca"``) or distance (``"shape"``) between every pair of activity sets.

    Args:
        activities: n activity sets on the same trials and time bins (tensors, arrays, Trajectories,
            NeuralData; see :mod:`rnnscope.analysis.similarity`), each its own number of units.
        metric: ``"cca"``: SVCCA, the mean canonical correlation of the top ``k`` principal components
            (1 on the diagonal); ``"shape"``: the shape metric of Williams et al. 2021 with ``alpha``
            (1: the angular Procrustes distance; 0 on the diagonal).
        k: components kept for ``"cca"``; default ``min(10, fewest units)``.
        alpha, n_components: of ``"shape"`` (see :func:`~rnnscope.analysis.shape_distance`).

    Returns:
        A symmetric (n, n) array.

    Shape:
        - activities[i]: (trials, time, units_i) or (samples, units_i), the same leading axes for all
    """
    owner = "similarity_matrix"
    check_choice(owner, "metric", metric, ("cca", "shape"))
    sets = [_rows(_activity(owner, f"activities[{i}]", a)) for i, a in enumerate(activities)]
    if len(sets) < 2:
        raise ShapeError(f"The 'activities' parameter of {owner} must hold at least 2 activity sets. Got {len(sets)}.")
    if len({s.shape[0] for s in sets}) != 1:
        raise ShapeError(f"The 'activities' parameter of {owner} must hold sets on the same samples. Got "
                         f"{sorted({s.shape[0] for s in sets})} samples.")
    n = len(sets)
    if metric == "cca":
        fewest = min(s.shape[1] for s in sets)
        k = min(10, fewest) if k is None else check_int(owner, "k", k, low=1, high=fewest)
        bases = [_whiten(_pca_reduce(s, k), 0.0, owner, f"activities[{i}]") for i, s in enumerate(sets)]
        out = np.eye(n)
        for i, j in itertools.combinations(range(n), 2):
            rho = np.clip(np.linalg.svd(bases[i].T @ bases[j], compute_uv=False), 0.0, 1.0)
            out[i, j] = out[j, i] = float(rho.mean())
        return out
    alpha = check_float(owner, "alpha", alpha, low=0, high=1)
    if n_components is not None:
        n_components = check_int(owner, "n_components", n_components, low=1, high=min(s.shape[1] for s in sets))
    for i, s in enumerate(sets):
        if np.allclose(s, s.mean(0)):
            raise ConfigError(f"activities[{i}] of {owner} is constant: a shape needs activity that varies.")
    points = [_shape_embed(s, alpha, n_components) for s in sets]
    width = max(p.shape[1] for p in points)
    points = [_pad(p, width) for p in points]
    out = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        out[i, j] = out[j, i] = _angle(points[i], points[j])
    return out
