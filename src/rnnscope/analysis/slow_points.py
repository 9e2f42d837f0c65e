"""Slow points: where the flow is much slower than on the trials (Mante et al. 2013)."""

from __future__ import annotations

import torch

from .._validation import check_float, check_int
from ..dynamics import Trajectory
from ..errors import ConfigError
from ..models import AbstractRNN
from ._fixed_points_result import FixedPoints
from .fixed_points import candidates_from_trajectories, find_fixed_points

__all__ = ["find_slow_points"]


def find_slow_points(
    model: AbstractRNN,
    inputs: torch.Tensor | None,
    states: torch.Tensor | Trajectory,
    *,
    speed_fraction: float = 0.1,
    n_candidates: int = 1024,
    tol_unique: float = 1e-2,
    seed: int = 0,
    progress: bool | None = None,
) -> FixedPoints:
    """Slow points: where the flow is much slower than on the trials (Mante et al. 2013).

    An approximate line attractor is a line of *slow* points, not of exact fixed points: the
    search for roots of F converges to the few isolated points at its ends or on it. Here the
    q-minimisation of :func:`find_fixed_points` starts from ``n_candidates`` of the given visited
    states and stops each candidate as soon as its speed ``|F(x)|`` falls below ``speed_fraction``
    times the median speed on those states (no Newton polishing, no midpoint seeding), so the
    candidates come to rest wherever the flow is slow -- spread along the line. Every returned
    point has ``q <= (speed_fraction * median speed)^2 / 2``.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        inputs: the constant input (input_size,); None for zero input.
        states: visited states (batch, time, hidden_size) or (samples, hidden_size) or a
            :class:`~rnnscope.dynamics.Trajectory`, e.g. the states of one context's stimulus
            periods (``traj.states[trials][batch.period_mask("stimulus")[trials]]``).
        speed_fraction: the speed threshold relative to the median speed on ``states``, in (0, 1].
        n_candidates: number of starting states drawn from ``states``.
        tol_unique: de-duplication radius relative to the RMS norm of the candidates (coarser than
            for fixed points: a line of slow points is a continuum).
        seed: seed of the candidate draw.
        progress: show a progress bar; default: only when stderr is a terminal.

    Returns:
        A :class:`FixedPoints` of the slow points, classified by the eigenvalues of the Jacobian
        there.
    """
    own = "find_slow_points"
    speed_fraction = check_float(own, "speed_fraction", speed_fraction, low=0, high=1, low_inclusive=False)
    n_candidates = check_int(own, "n_candidates", n_candidates, low=1)
    cand = candidates_from_trajectories(states, n_candidates, seed=seed)
    with torch.no_grad():
        u = None if inputs is None else torch.as_tensor(inputs, dtype=cand.dtype).expand(len(cand), -1)
        speed = model.vector_field(cand, u)
        if model.time == "discrete":
            speed = speed - cand
        median = float(speed.norm(dim=-1).median())
    if not median > 0:
        raise ConfigError(f"The 'states' parameter of {own} must include states where the flow moves "
                          f"(the median speed is {median}); give states visited on trials.")
    tol_q = (speed_fraction * median) ** 2 / 2
    fps = find_fixed_points(model, inputs, cand, tol_q=tol_q, polish_steps=0, seed_midpoints=False,
                            tol_unique=tol_unique, seed=seed, progress=progress)
    return fps.fixed()
