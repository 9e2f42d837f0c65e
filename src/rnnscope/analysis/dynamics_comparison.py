"""Beyond the geometry of trajectories: the fixed-point structure of two networks side by side."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_int
from ..dynamics import simulate
from ..errors import ConfigError
from ..models import AbstractRNN
from .fixed_points import find_fixed_points
from .similarity import _jsonable, _procrustes_map, _rows, shape_distance

__all__ = ["DynamicsComparison", "compare_dynamics"]


@dataclass(frozen=True, eq=False)
class DynamicsComparison:
    """The fixed-point structure of two networks side by side.

    Attributes:
        counts_a, counts_b: per input condition, ``{n_unstable: count}`` of the fixed points found.
        same_counts: per condition, whether the two count tables agree.
        point_distance: per condition, the symmetric mean nearest-neighbour distance between the two
            fixed-point sets in the aligned space (PCA of each network's trajectories, A rotated onto
            B by Procrustes, both scaled by the RMS radius of B's trajectories); NaN if a set is empty.
        trajectory_distance: the angular Procrustes distance between the two trajectory sets.
        n_components: the dimension of the aligned space.
    """

    counts_a: dict[str, dict[int, int]]
    counts_b: dict[str, dict[int, int]]
    same_counts: dict[str, bool]
    point_distance: dict[str, float]
    trajectory_distance: float
    n_components: int

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def compare_dynamics(
    model_a: Any,
    model_b: Any,
    inputs: Mapping[str, torch.Tensor],
    trials: torch.Tensor,
    *,
    n_components: int = 3,
    n_candidates: int = 512,
    seed: int = 0,
) -> DynamicsComparison:
    """Compare the fixed-point structure of two networks that receive the same inputs.

    Both networks are simulated without noise on ``trials``; their visited states seed the
    fixed-point search (:func:`~rnnscope.analysis.find_fixed_points`) under each constant input of
    ``inputs``. The tables of fixed points by number of unstable directions are compared, and the
    fixed-point sets are placed in a common space: each network's top ``n_components`` principal
    components of its trajectories, network A rotated onto network B by the orthogonal Procrustes
    map fitted on the trajectories (time bin by time bin, trial by trial). The distance between the
    sets is the symmetric mean nearest-neighbour distance in units of B's trajectory RMS radius.

    Args:
        model_a, model_b: :class:`~rnnscope.models.AbstractRNN` with the same ``input_size``.
        inputs: name -> constant input (input_size,), e.g. ``task.analysis_inputs()``.
        trials: input sequences (batch, time, input_size) to simulate both networks on.
        n_components: dimension of the aligned space.
        n_candidates: candidate states per search.
        seed: seed of the candidate draw.

    Returns:
        A :class:`DynamicsComparison`.
    """
    owner = "compare_dynamics"
    for name, m in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(m, AbstractRNN):
            raise ConfigError(f"The {name!r} parameter of {owner} must be an AbstractRNN. "
                              f"Got {type(m).__name__} instead.")
    if model_a.input_size != model_b.input_size:
        raise ConfigError(f"{owner} needs two networks with the same input_size. Got {model_a.input_size} and "
                          f"{model_b.input_size}.")
    if not isinstance(inputs, Mapping) or not inputs:
        raise ConfigError(f"The 'inputs' parameter of {owner} must be a non-empty dict name -> (input_size,) tensor. "
                          f"Got {inputs!r} instead.")
    n_components = check_int(owner, "n_components", n_components, low=1,
                             high=min(model_a.hidden_size, model_b.hidden_size))
    with torch.no_grad():
        ta = simulate(model_a, trials.to(next(model_a.parameters()).dtype), noise=False)
        tb = simulate(model_b, trials.to(next(model_b.parameters()).dtype), noise=False)
    Sa = _rows(ta.states.to(torch.float64).numpy())
    Sb = _rows(tb.states.to(torch.float64).numpy())
    traj = shape_distance(Sa, Sb, n_permutations=0).score
    # common aligned space: PCs of each, A rotated onto B
    ma, mb = Sa.mean(0), Sb.mean(0)
    _, _, va = np.linalg.svd(Sa - ma, full_matrices=False)
    _, _, vb = np.linalg.svd(Sb - mb, full_matrices=False)
    Pa, Pb = va[:n_components].T, vb[:n_components].T
    Ya, Yb = (Sa - ma) @ Pa, (Sb - mb) @ Pb
    scale_a = math.sqrt((Ya**2).sum(1).mean()) or 1.0
    scale_b = math.sqrt((Yb**2).sum(1).mean()) or 1.0
    R = _procrustes_map(Ya / scale_a, Yb / scale_b)
    counts_a, counts_b, same, dist = {}, {}, {}, {}
    for name, u in inputs.items():
        fa = find_fixed_points(model_a, torch.as_tensor(u, dtype=torch.float64), ta, n_candidates=n_candidates,
                               seed=seed, progress=False).fixed()
        fb = find_fixed_points(model_b, torch.as_tensor(u, dtype=torch.float64), tb, n_candidates=n_candidates,
                               seed=seed, progress=False).fixed()
        counts_a[name], counts_b[name] = fa.by_n_unstable(), fb.by_n_unstable()
        same[name] = counts_a[name] == counts_b[name]
        if len(fa) == 0 or len(fb) == 0:
            dist[name] = float("nan")
            continue
        pa = ((fa.states.numpy() - ma) @ Pa / scale_a) @ R
        pb = (fb.states.numpy() - mb) @ Pb / scale_b
        d = np.linalg.norm(pa[:, None] - pb[None], axis=-1)
        dist[name] = float(0.5 * (d.min(1).mean() + d.min(0).mean()))
    return DynamicsComparison(counts_a, counts_b, same, dist, traj, n_components)
