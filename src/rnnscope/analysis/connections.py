"""Where the saddles lead: the graph of fixed points joined by unstable manifolds.

A saddle with one unstable direction has a one-dimensional unstable manifold: two trajectories,
one leaving along each side of the unstable eigenvector. Followed to their ends they join the saddle
to two attractors, and the saddles together draw a graph on the stable points -- the *topology* of
the fixed-point structure that Maheswaranathan et al. (2019) found shared by networks of different
architectures trained on the same task (for the 3-bit flip-flop: the 8 corners of a cube joined by
its 12 edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_float, check_int
from ..dynamics import simulate
from ..errors import ConfigError, ShapeError
from ..models import AbstractRNN
from ._fixed_points_result import FixedPoints

__all__ = ["SaddleConnections", "saddle_connections"]


@dataclass(frozen=True, eq=False)
class SaddleConnections:
    """The attractors each saddle's unstable manifold reaches.

    Attributes:
        saddles: the index in the fixed points of each saddle with one unstable direction.
        ends: for each of them, the index in the fixed points of the stable point reached from either
            side of its unstable direction, or -1 where the trajectory ended near no stable point.
        distances: how far each trajectory ended from that stable point (in state units).

    Shape:
        - saddles: (n,); ends, distances: (n, 2)
    """

    saddles: torch.Tensor
    ends: torch.Tensor
    distances: torch.Tensor

    def __len__(self) -> int:
        return int(self.saddles.shape[0])

    def edges(self) -> list[tuple[int, int]]:
        """The pairs of stable points (indices, smaller first) joined through a saddle, each once,
        sorted; a side that reached no stable point joins nothing."""
        pairs = {tuple(sorted(map(int, e))) for e in self.ends.tolist() if min(e) >= 0 and e[0] != e[1]}
        return sorted(pairs)


def saddle_connections(model: AbstractRNN, points: FixedPoints, *, inputs: torch.Tensor | None = None,
                       epsilon: float = 1e-3, steps: int = 1000, tol: float = 1e-2) -> SaddleConnections:
    """Follow the unstable manifold of every saddle with one unstable direction to its ends.

    From each such saddle ``x*`` with unstable eigenvector ``v``, the network is simulated without
    noise at the constant input of the fixed points from ``x* + epsilon v`` and ``x* - epsilon v``
    (``v`` of unit length) for ``steps`` steps, all starts in one batch; each end state is matched to
    the nearest stable point, which counts when it lies within ``tol`` times the root-mean-square
    norm of the stable points (at least ``tol``).

    Args:
        model: the network whose fixed points ``points`` are (:func:`~rnnscope.analysis.find_fixed_points`).
        points: its fixed points; the stable ones are the possible ends.
        inputs: the constant input of the fixed points, (input_size,); None for zero input.
        epsilon: the first step away from the saddle along its unstable direction.
        steps: simulation steps (of ``model.dt``) each trajectory is followed for.
        tol: how close to a stable point an end must be, relative to the size of the stable points.

    Returns:
        A :class:`SaddleConnections`.
    """
    owner = "saddle_connections"
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {owner} must be an AbstractRNN. Got {type(model).__name__} instead.")
    if not isinstance(points, FixedPoints):
        raise ConfigError(f"The 'points' parameter of {owner} must be FixedPoints. Got {type(points).__name__} instead.")
    if points.hidden_size != model.hidden_size:
        raise ShapeError(f"The 'points' parameter of {owner} must have the model's hidden_size ({model.hidden_size}). "
                         f"Got {points.hidden_size} instead.")
    epsilon = check_float(owner, "epsilon", epsilon, low=0, low_inclusive=False)
    steps = check_int(owner, "steps", steps, low=1)
    tol = check_float(owner, "tol", tol, low=0, low_inclusive=False)
    work = model.for_analysis()
    device = work.initial_state(1).device
    saddles = torch.nonzero(~points.is_slow & (points.n_unstable == 1)).flatten()
    stable = torch.nonzero(~points.is_slow & (points.n_unstable == 0)).flatten()
    n = saddles.numel()
    ends = torch.full((n, 2), -1, dtype=torch.long)
    distances = torch.full((n, 2), float("nan"), dtype=torch.float64)
    if n == 0 or stable.numel() == 0:
        return SaddleConnections(saddles, ends, distances)
    u = torch.zeros(work.input_size, dtype=torch.float64) if inputs is None else torch.as_tensor(inputs, dtype=torch.float64)
    if u.shape != (work.input_size,):
        raise ShapeError(f"The 'inputs' parameter of {owner} must have shape ({work.input_size},). Got {tuple(u.shape)} instead.")
    x = points.states[saddles].to(device, torch.float64)
    v = points.eigenvectors[saddles][:, :, 0].real.to(device, torch.float64)  # the unstable direction comes first
    v = v / v.norm(dim=-1, keepdim=True)
    starts = torch.cat([x + epsilon * v, x - epsilon * v])
    with torch.no_grad():
        traj = simulate(work, u.to(device).expand(2 * n, steps, -1), initial_state=starts, noise=False)
    targets = points.states[stable].to(device, torch.float64)
    gap = torch.cdist(traj.states[:, -1], targets)  # (2 n, n_stable)
    nearest, which = gap.min(dim=1)
    scale = max(float(targets.pow(2).sum(-1).mean().sqrt()), 1.0)
    found = nearest <= tol * scale
    index = torch.where(found, stable.to(device)[which], torch.full_like(which, -1)).cpu()
    ends = torch.stack([index[:n], index[n:]], dim=1)
    distances = torch.stack([nearest[:n], nearest[n:]], dim=1).cpu()
    return SaddleConnections(saddles, ends, distances)
