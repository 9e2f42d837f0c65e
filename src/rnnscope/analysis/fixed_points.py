"""Fixed points and slow points of any model (Sussillo & Barak 2013; Golub & Sussillo 2018).

A fixed point is a root of ``F(x) = f(x, u)`` (continuous time, ``f`` the flow) or
``F(x) = f(x, u) - x`` (discrete time, ``f`` the map) at a constant input ``u``. The search, in
float64 with the model's analytic Jacobian ``J``:

1. **Candidates**: states visited on trials, optionally with Gaussian noise
   (:func:`candidates_from_trajectories`), or states given by the user.
2. **Trust-region Newton on F** (Powell's dogleg), batched over candidates: each step solves
   ``J dx = -F`` for all candidates at once (batched LU) and takes that Newton step when it fits in the
   point's trust region, else a step along the dogleg path towards steepest descent on
   ``q(x) = |F(x)|^2 / 2``. Far from a root this is a damped descent on q; near a root -- stable *or*
   saddle -- it is Newton's method and converges quadratically. (Plain gradient descent on q, the
   classic recipe, slows down near the degenerate minima of q and needs hundreds to thousands of
   steps.) After an accepted Newton step, *chord steps* ``dx = -J(x_0)^{-1} F(x)`` reuse the same LU
   factors while each at least quarters q: one evaluation of F and two triangular solves instead of a
   new Jacobian and factorisation. Points that converge are retired; points that come within the
   de-duplication radius of a retired one are dropped.
3. **Waves**: with many candidates (more than 256), a strided subset of 64 is searched first. Each
   remaining candidate then runs three chord steps with the Jacobian of its nearest point found (one
   LU per found point, shared); a candidate that lands on that point so fast lies where the
   linearisation at that point already describes the vector field, and is skipped. The next 64 of
   the unexplained candidates are searched, the rest filtered again, and so on. What is left to
   search is mostly states between attractors -- where the saddles are.
4. **Newton polishing**: undamped Newton steps on converged points, kept while q falls, so q ends
   far below ``tol_q`` (typically at float64 round-off).
5. **Midpoint seeding**: saddles between attractors are seldom visited on trials. A second round starts
   on the segment between each pair of stable points found in the first round -- at its midpoint and
   at every dip of q along it (a saddle need not sit halfway) -- and at the centroid of the stable
   points. For an n-bit flip-flop these land near the edge, face and centre saddles of the cube; the
   centre (all directions along the bits unstable) is the point plain gradient descent misses most.
6. **De-duplication, outliers, classification**: points closer than ``tol_unique * s`` are the same
   point (``s`` the root-mean-square norm of the candidate states, 1 if that is zero; the point of
   lowest q is kept); points farther from the centroid of the candidates than ``outlier_scale`` times
   the median distance of the candidates from it are dropped; each point is classified from the
   eigenvalues of the Jacobian of the vector field (real parts above zero are unstable in continuous
   time, moduli above one in discrete time).

Points where the search stops with ``q > tol_q`` (local minima of q -- slow points -- or the iteration
budget ran out) are kept, flagged ``is_slow``, and never mixed with the fixed points
(:meth:`FixedPoints.fixed`, :meth:`FixedPoints.slow`).

For a low-rank network without a random bulk (a model whose
:meth:`~rnnscope.models.AbstractRNN.low_rank_factors` are given, such as a low-rank
:class:`~rnnscope.models.RateRNN`), every fixed point satisfies
``x = J phi(x) + I u + b`` with ``J = M N^T / N_units``, so ``x = M kappa + I u + b`` with
``kappa = N^T phi(x) / N_units``: the same search runs exactly in the K-dimensional latent space, on
``G(kappa) = kappa - N^T phi(M kappa + I u + b) / N_units``, from the candidates' latent coordinates
and from random latent states covering the box where all fixed points lie (for bounded phi), and the
roots are mapped back to states. (Slow points found this way are local minima of ``|G|``.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .._validation import check_bool, check_float, check_int
from ..dynamics import Trajectory, simulate
from ..errors import ConfigError, ShapeError
from ..models._base import AbstractRNN
from ..tasks._base import TrialBatch
from ..numerics import NonlinearSystem, half_squared_norm, newton_search, sort_and_normalise, sorted_eig, unique_points
from ._results_io import load_result, save_result

__all__ = ["FixedPoints", "find_fixed_points", "find_slow_points", "candidates_from_trajectories"]

_OWNER = "find_fixed_points"
_ARRAYS = ("states", "q", "inputs", "eigenvalues", "eigenvectors", "n_unstable", "is_slow")


# ---------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class FixedPoints:
    """A batch of fixed (and slow) points with their linearisation.

    Attributes:
        states: the points, float64.
        q: ``|F(x)|^2 / 2`` at each point (F the flow, or map minus identity).
        inputs: the constant input of each point.
        eigenvalues: eigenvalues of the Jacobian of the vector field (the flow in continuous time,
            the map in discrete time), complex, sorted by decreasing real part (continuous) or modulus
            (discrete).
        eigenvectors: the matching right eigenvectors, as columns (unit norm, largest entry real
            and positive).
        n_unstable: number of unstable directions (real part > 0, resp. modulus > 1).
        is_slow: True for slow points (the search stopped with ``q`` above its tolerance).
        time: ``"continuous"`` or ``"discrete"``.
        dt: the model's time step in ms (time constants of discrete-time modes need it).

    Shape:
        - states: (n, hidden_size); q: (n,); inputs: (n, input_size)
        - eigenvalues: (n, hidden_size); eigenvectors: (n, hidden_size, hidden_size)
        - n_unstable, is_slow: (n,)
    """

    states: torch.Tensor
    q: torch.Tensor
    inputs: torch.Tensor
    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    n_unstable: torch.Tensor
    is_slow: torch.Tensor
    time: str = "continuous"
    dt: float = 1.0

    def __post_init__(self) -> None:
        if self.time not in ("continuous", "discrete"):
            raise ConfigError(f"The 'time' parameter of FixedPoints must be one of 'continuous', 'discrete'. "
                              f"Got {self.time!r} instead.")
        if self.states.ndim != 2:
            raise ShapeError(f"The 'states' parameter of FixedPoints must have shape (n, hidden_size). "
                             f"Got {tuple(self.states.shape)} instead.")
        n, N = self.states.shape
        expected = {"q": "(n,)", "inputs": "(n, input_size)", "eigenvalues": "(n, hidden_size)",
                    "eigenvectors": "(n, hidden_size, hidden_size)", "n_unstable": "(n,)", "is_slow": "(n,)"}
        shapes = {"q": (n,), "eigenvalues": (n, N), "eigenvectors": (n, N, N), "n_unstable": (n,), "is_slow": (n,)}
        for name, shown in expected.items():
            shape = tuple(getattr(self, name).shape)
            bad = (len(shape) != 2 or shape[0] != n) if name == "inputs" else shape != shapes[name]
            if bad:
                raise ShapeError(f"The {name!r} parameter of FixedPoints must have shape {shown} with "
                                 f"n = {n}, hidden_size = {N}. Got {shape} instead.")

    # ------------------------------------------------------------------ sizes and subsets
    def __len__(self) -> int:
        return int(self.states.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.states.shape[1])

    @property
    def input_size(self) -> int:
        return int(self.inputs.shape[1])

    def __getitem__(self, index: int | slice | torch.Tensor) -> FixedPoints:
        """The subset selected by an index, a slice, a boolean mask or an index tensor."""
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        kw = {name: getattr(self, name)[index] for name in _ARRAYS}
        return FixedPoints(**kw, time=self.time, dt=self.dt)

    def fixed(self) -> FixedPoints:
        """The true fixed points (``q`` at or below the search tolerance)."""
        return self[~self.is_slow]

    def slow(self) -> FixedPoints:
        """The slow points (local minima of ``q`` above the tolerance)."""
        return self[self.is_slow]

    def stable(self) -> FixedPoints:
        """Fixed points without unstable directions."""
        return self[~self.is_slow & (self.n_unstable == 0)]

    def saddles(self) -> FixedPoints:
        """Fixed points with some, but not all, directions unstable."""
        return self[~self.is_slow & (self.n_unstable > 0) & (self.n_unstable < self.hidden_size)]

    def unstable(self) -> FixedPoints:
        """Fixed points whose every direction is unstable (repellers)."""
        return self[~self.is_slow & (self.n_unstable == self.hidden_size)]

    def by_n_unstable(self) -> dict[int, int]:
        """Number of true fixed points with k unstable directions, ``{k: count}``, k ascending."""
        values, counts = torch.unique(self.n_unstable[~self.is_slow], return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts)}

    @property
    def stability(self) -> list[str]:
        """A label per point: ``"stable"``, ``"saddle-k"`` (k unstable directions), ``"unstable"``, or
        ``"slow"``."""
        out = []
        for slow, k in zip(self.is_slow.tolist(), self.n_unstable.tolist()):
            if slow:
                out.append("slow")
            elif k == 0:
                out.append("stable")
            elif k == self.hidden_size:
                out.append("unstable")
            else:
                out.append(f"saddle-{k}")
        return out

    def __repr__(self) -> str:
        return (f"FixedPoints(n={len(self)}, hidden_size={self.hidden_size}, time={self.time!r}, "
                f"fixed={int((~self.is_slow).sum())}, slow={int(self.is_slow.sum())}, "
                f"by_n_unstable={self.by_n_unstable()})")

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (numpy arrays named like the attributes, plus ``meta``, a JSON
        string with ``time`` and ``dt``). Returns the path written."""
        return save_result(path, "FixedPoints", {name: getattr(self, name) for name in _ARRAYS},
                           {"time": self.time, "dt": self.dt})

    @classmethod
    def load(cls, path: str | Path) -> FixedPoints:
        """Read a file written by :meth:`save`."""
        kw, meta = load_result(path, "FixedPoints", _ARRAYS)
        return cls(**kw, time=meta["time"], dt=float(meta["dt"]))


# ---------------------------------------------------------------------------------------------- candidates
def candidates_from_trajectories(
    states: torch.Tensor | Trajectory,
    n: int,
    noise_std: float = 0.0,
    seed: int = 0,
) -> torch.Tensor:
    """``n`` states drawn at random from trajectories, plus Gaussian noise.

    States are drawn without replacement when there are at least ``n`` of them.

    Args:
        states: visited states, (batch, time, hidden_size) or (samples, hidden_size), or a
            :class:`~rnnscope.dynamics.Trajectory`.
        n: number of candidates.
        noise_std: standard deviation of the noise added to each coordinate.
        seed: seed of the draw and of the noise.

    Shape:
        - returns: (n, hidden_size), in the dtype of ``states``
    """
    own = "candidates_from_trajectories"
    if isinstance(states, Trajectory):
        states = states.states
    if not isinstance(states, torch.Tensor) or states.ndim not in (2, 3) or states.numel() == 0:
        shape = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__
        raise ShapeError(f"The 'states' parameter of {own} must have shape (batch, time, hidden_size) or "
                         f"(samples, hidden_size) and not be empty. Got {shape} instead.")
    n = check_int(own, "n", n, low=1)
    noise_std = check_float(own, "noise_std", noise_std, low=0)
    seed = check_int(own, "seed", seed, low=0)
    flat = states.detach().reshape(-1, states.shape[-1])
    gen = torch.Generator().manual_seed(seed)
    total = flat.shape[0]
    if total >= n:
        index = torch.randperm(total, generator=gen)[:n]
    else:
        index = torch.randint(total, (n,), generator=gen)
    out = flat[index.to(flat.device)].clone()
    if noise_std > 0:
        noise = torch.randn(out.shape, generator=gen, dtype=torch.float64)
        out = out + noise_std * noise.to(out.device, out.dtype)
    return out


# ---------------------------------------------------------------------------------------------- finder
def find_fixed_points(
    model: AbstractRNN,
    inputs: torch.Tensor | None = None,
    initial_states: torch.Tensor | TrialBatch | Trajectory | None = None,
    *,
    n_candidates: int = 1024,
    noise_std: float = 0.0,
    tol_q: float = 1e-12,
    tol_unique: float = 1e-3,
    outlier_scale: float | None = 10.0,
    max_iterations: int = 500,
    polish_steps: int = 3,
    seed_midpoints: bool = True,
    eigenvalue_tol: float = 1e-8,
    low_rank: bool | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> FixedPoints:
    """Find the fixed points (and slow points) of ``model`` at a constant input.

    See the module docstring for the algorithm.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        inputs: the constant input, (input_size,); None for zero input.
        initial_states: where the search starts: a tensor of candidate states (n, hidden_size), used
            as given; visited states (batch, time, hidden_size) or a
            :class:`~rnnscope.dynamics.Trajectory`, from which ``n_candidates`` states are drawn; or a
            :class:`~rnnscope.tasks.TrialBatch`, whose inputs are simulated without noise first. None
            is allowed only for the low-rank search, which then starts from random latent states.
        n_candidates: number of candidates drawn from trajectories (or random latent starts).
        noise_std: Gaussian noise added to candidates drawn from trajectories.
        tol_q: a point is fixed when ``q = |F|^2 / 2 <= tol_q`` (F in the units of the vector field:
            per ms in continuous time).
        tol_unique: points closer than ``tol_unique * s`` are the same point, ``s`` the
            root-mean-square norm of the candidate states (1 if that is zero).
        outlier_scale: drop points farther from the centroid of the candidates than this times the
            median distance of the candidates from it; None keeps every point.
        max_iterations: budget of trust-region Newton steps per wave of candidates.
        polish_steps: undamped Newton steps on converged points.
        seed_midpoints: run a second round from the segments between pairs of stable points found in
            the first round (their midpoints and the minima of q along them) and from the centroid of
            the stable points: where the saddles between attractors lie.
        eigenvalue_tol: a direction is unstable when its eigenvalue has real part
            ``> eigenvalue_tol * max|lambda|`` (continuous) or modulus ``> 1 + eigenvalue_tol``
            (discrete).
        low_rank: use the exact K-dimensional search of a low-rank network (None: whenever the model
            is one, without random bulk; True: require it; False: always search the full state space).
        seed: seed of the candidate draw and of its noise.
        progress: show a progress bar; default: only when stderr is a terminal.

    Returns:
        A :class:`FixedPoints`, ordered by ``is_slow``, then number of unstable directions, then q.

    Shape:
        - inputs: (input_size,)
        - initial_states: (n, hidden_size), (batch, time, hidden_size), or a TrialBatch/Trajectory
    """
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {_OWNER} must be an AbstractRNN. "
                          f"Got {type(model).__name__} instead.")
    n_candidates = check_int(_OWNER, "n_candidates", n_candidates, low=1)
    noise_std = check_float(_OWNER, "noise_std", noise_std, low=0)
    tol_q = check_float(_OWNER, "tol_q", tol_q, low=0, low_inclusive=False)
    tol_unique = check_float(_OWNER, "tol_unique", tol_unique, low=0, low_inclusive=False)
    if outlier_scale is not None:
        outlier_scale = check_float(_OWNER, "outlier_scale", outlier_scale, low=0, low_inclusive=False)
    max_iterations = check_int(_OWNER, "max_iterations", max_iterations, low=1)
    polish_steps = check_int(_OWNER, "polish_steps", polish_steps, low=0)
    check_bool(_OWNER, "seed_midpoints", seed_midpoints)
    eigenvalue_tol = check_float(_OWNER, "eigenvalue_tol", eigenvalue_tol, low=0)
    if low_rank is not None:
        check_bool(_OWNER, "low_rank", low_rank)
    seed = check_int(_OWNER, "seed", seed, low=0)
    if progress is not None:
        check_bool(_OWNER, "progress", progress)
    show = sys.stderr.isatty() if progress is None else progress

    factors = model.low_rank_factors()
    can_low_rank = factors is not None and factors.bulk is None
    if low_rank is True and not can_low_rank:
        raise ConfigError(f"The 'low_rank' parameter of {_OWNER} needs a low-rank network without random "
                          f"bulk (low_rank_factors() given, bulk_g = 0). Got low_rank=True for {model!r} instead.")
    use_low_rank = can_low_rank if low_rank is None else low_rank

    # float64 copy of the model: the search and the eigendecomposition run in double precision
    m64 = model.for_analysis()
    device = m64.initial_state(1).device
    u = _check_inputs(model, inputs, device)

    with torch.no_grad():
        candidates = _candidates(m64, initial_states, n_candidates, noise_std, seed, use_low_rank, device)
        if candidates is None:  # low rank without candidates: no state cloud to compare against
            scale, centre, limit = 1.0, None, None
        else:
            rms = float(candidates.pow(2).sum(-1).mean().sqrt())
            scale = rms if rms > 0 else 1.0
            centre = candidates.mean(0)
            med = float((candidates - centre).norm(dim=-1).median())
            limit = outlier_scale * med if outlier_scale is not None and med > 0 else None
        radius = tol_unique * scale
        cache = _SpectrumCache(m64, u, eigenvalue_tol)
        kw = dict(tol_q=tol_q, max_iterations=max_iterations, polish_steps=polish_steps, progress=show)
        if use_low_rank:
            points, q, conv = _low_rank_search(m64, u, candidates, n_candidates, radius, seed,
                                               seed_midpoints, cache, **kw)
        else:
            points, q, conv = _full_search(m64, u, candidates, radius, scale, seed_midpoints, cache, **kw)
        # de-duplicate (fixed points first, then slow points away from every fixed point)
        fixed = torch.nonzero(conv).flatten()
        fixed = fixed[unique_points(points[fixed], q[fixed], radius)]
        slow = torch.nonzero(~conv).flatten()
        if slow.numel() > 0 and fixed.numel() > 0:
            slow = slow[~(torch.cdist(points[slow], points[fixed]) <= radius).any(dim=1)]
        slow = slow[unique_points(points[slow], q[slow], radius)]
        index = torch.cat([fixed, slow])
        points, q, conv = points[index], q[index], conv[index]
        if limit is not None and points.shape[0] > 0:
            inside = (points - centre).norm(dim=-1) <= limit
            points, q, conv = points[inside], q[inside], conv[inside]
        return _assemble(m64, u, points, q, ~conv, cache)


def _check_inputs(model: AbstractRNN, inputs, device) -> torch.Tensor:
    if inputs is None:
        return torch.zeros(model.input_size, dtype=torch.float64, device=device)
    if not isinstance(inputs, torch.Tensor):
        inputs = torch.as_tensor(inputs)
    if tuple(inputs.shape) != (model.input_size,):
        raise ShapeError(f"The 'inputs' parameter of {_OWNER} must have shape ({model.input_size},). "
                         f"Got {tuple(inputs.shape)} instead.")
    return inputs.to(device=device, dtype=torch.float64)


def _candidates(model, initial_states, n, noise_std, seed, low_rank, device) -> torch.Tensor | None:
    N = model.hidden_size
    if initial_states is None:
        if low_rank:
            return None
        raise ConfigError(f"The 'initial_states' parameter of {_OWNER} must be a tensor of candidate states, "
                          f"a TrialBatch or a Trajectory (only the low-rank search can start without "
                          f"candidates). Got None instead.")
    if isinstance(initial_states, TrialBatch):
        inputs = initial_states.inputs.to(device=device, dtype=torch.float64)
        if inputs.shape[-1] != model.input_size:
            raise ShapeError(f"The 'initial_states' TrialBatch of {_OWNER} must have inputs of shape "
                             f"(batch, time, {model.input_size}). Got {tuple(inputs.shape)} instead.")
        initial_states = simulate(model, inputs, noise=False).states
    if isinstance(initial_states, Trajectory):
        initial_states = initial_states.states
    if not isinstance(initial_states, torch.Tensor):
        raise ConfigError(f"The 'initial_states' parameter of {_OWNER} must be a tensor, a TrialBatch or a "
                          f"Trajectory. Got {type(initial_states).__name__} instead.")
    shape = tuple(initial_states.shape)
    if initial_states.ndim == 3 and shape[-1] == N and initial_states.numel() > 0:
        out = candidates_from_trajectories(initial_states, n, noise_std, seed)
    elif initial_states.ndim == 2 and shape[-1] == N and shape[0] > 0:
        out = initial_states
    else:
        raise ShapeError(f"The 'initial_states' parameter of {_OWNER} must have shape (n, {N}) or "
                         f"(batch, time, {N}). Got {shape} instead.")
    out = out.detach().to(device=device, dtype=torch.float64)
    if not torch.isfinite(out).all():
        raise ConfigError(f"The 'initial_states' parameter of {_OWNER} must be finite. Got NaN or inf values.")
    return out


def _system(model: AbstractRNN, u: torch.Tensor) -> NonlinearSystem:
    """F(x) and its Jacobian: the flow (continuous) or the map minus identity (discrete)."""
    field = model.at_input(u)
    return NonlinearSystem(field.residual, field.residual_jacobian)


class _SpectrumCache:
    """Eigendecompositions of the model's Jacobian at points, computed once per point."""

    def __init__(self, model: AbstractRNN, u: torch.Tensor, tol: float) -> None:
        self.model, self.u, self.tol = model, u, tol
        N = model.hidden_size
        self.points = u.new_zeros(0, N)
        self.vals = torch.zeros(0, N, dtype=torch.complex128, device=u.device)
        self.vecs = torch.zeros(0, N, N, dtype=torch.complex128, device=u.device)
        self.n_unstable = torch.zeros(0, dtype=torch.long, device=u.device)

    def __call__(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Eigenvalues (sorted), right eigenvectors and number of unstable directions."""
        index = torch.full((points.shape[0],), -1, dtype=torch.long, device=points.device)
        if self.points.shape[0] > 0 and points.shape[0] > 0:
            d, j = torch.cdist(points, self.points).min(dim=1)
            index = torch.where(d == 0, j, index)
        new = index < 0
        if new.any():
            vals, vecs, nu = _spectrum(self.model, self.u, points[new], self.tol)
            index[new] = self.points.shape[0] + torch.arange(int(new.sum()), device=points.device)
            self.points = torch.cat([self.points, points[new]])
            self.vals = torch.cat([self.vals, vals])
            self.vecs = torch.cat([self.vecs, vecs])
            self.n_unstable = torch.cat([self.n_unstable, nu])
        return self.vals[index], self.vecs[index], self.n_unstable[index]


def _spectrum(model: AbstractRNN, u: torch.Tensor, points: torch.Tensor, tol: float):
    """Eigenvalues (sorted), right eigenvectors and number of unstable directions at ``points``."""
    N = model.hidden_size
    if points.shape[0] == 0:
        z = torch.zeros(0, N, dtype=torch.complex128, device=points.device)
        return z, z.new_zeros(0, N, N), torch.zeros(0, dtype=torch.long, device=points.device)
    low = _low_rank_eig(model, points)
    if low is not None:
        vals, vecs = sort_and_normalise(*low, model.time)
    else:
        vals, vecs = sorted_eig(model.at_input(u).jacobian(points), model.time)
    if model.time == "discrete":
        n_unstable = (vals.abs() > 1.0 + tol).sum(-1)
    else:
        n_unstable = (vals.real > tol * vals.abs().amax(-1, keepdim=True)).sum(-1)
    return vals, vecs, n_unstable


def _low_rank_eig(model: AbstractRNN, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Eigenvalues and right eigenvectors of the Jacobian of a low-rank network (no random bulk)
    from its structure, in O(N^2 K) per point instead of the O(N^3) of a general eigen-solver.

    ``J D = m (D n)^T / N`` with ``D = diag(phi'(x))`` has rank K: its nonzero eigenvalues are those
    of the K x K matrix ``S = n^T D m / N``, with eigenvectors ``m a`` for S's eigenvectors a, and 0
    on the (N - K)-dimensional complement of ``D n``, spanned by the last N - K columns of a complete
    QR of ``D n``. The Jacobian is ``(J D - I) / tau`` (continuous) or ``J D`` (discrete). Returns
    None (the general solver is used) for other models, or where m has dependent columns.
    """
    factors = model.low_rank_factors()
    if factors is None or factors.bulk is not None:
        return None
    N, K = factors.hidden_size, factors.rank
    f64 = torch.float64
    m, n = factors.m.detach().to(f64), factors.n.detach().to(f64)
    if K >= N or torch.linalg.matrix_rank(m) < K:
        return None
    d = factors.phi.derivative(points.to(f64))  # (P, N)
    Dn = d[..., :, None] * n  # (P, N, K)
    S = Dn.transpose(-1, -2) @ m / N  # (P, K, K)
    mu, a = torch.linalg.eig(S)  # (P, K), (P, K, K)
    right = m.to(torch.complex128) @ a  # (P, N, K): J D (m a) = m S a = mu (m a)
    Q = torch.linalg.qr(Dn, mode="complete").Q[..., :, K:]  # (P, N, N - K): (D n)^T v = 0
    vals = torch.cat([mu, mu.new_zeros(points.shape[0], N - K)], dim=-1)
    vecs = torch.cat([right, Q.to(torch.complex128)], dim=-1)
    if model.time == "continuous":
        vals = (vals - 1.0) / model.time_constant
    return vals, vecs


def _segment_seeds(F: Callable[[torch.Tensor], torch.Tensor], stable: torch.Tensor, limit: int,
                   samples: int = 9) -> torch.Tensor:
    """Seeds for the saddles between attractors: on the segment between each pair of ``stable``
    points (at most ``limit`` pairs, drawn at random), the midpoint and every interior local minimum
    of q among ``samples`` evenly spaced points; plus the centroid of all stable points.

    A saddle between two attractors sits on the boundary of their basins, near the segment that joins
    them but not always at its middle; q along the segment dips where the segment passes it.
    """
    s = stable.shape[0]
    if s < 2:
        return stable.new_zeros(0, stable.shape[1])
    i, j = torch.triu_indices(s, s, offset=1, device=stable.device)
    if i.numel() > limit:
        gen = torch.Generator().manual_seed(1)
        pick = torch.randperm(i.numel(), generator=gen)[:limit].to(i.device)
        i, j = i[pick], j[pick]
    t = torch.linspace(0, 1, samples + 2, dtype=stable.dtype, device=stable.device)  # with the ends
    line = stable[i, None, :] + t[None, :, None] * (stable[j] - stable[i])[:, None, :]  # (pairs, T, N)
    q = half_squared_norm(F(line.reshape(-1, stable.shape[1]))).reshape(line.shape[:2])
    inner = (q[:, 1:-1] <= q[:, :-2]) & (q[:, 1:-1] <= q[:, 2:])
    inner[:, samples // 2] = True  # the midpoint
    seeds = line[:, 1:-1][inner]
    return torch.cat([seeds, stable.mean(0, keepdim=True)])


def _full_search(model, u, candidates, radius, scale, seed_midpoints, cache, **kw):
    system = _system(model, u)
    known = candidates.new_zeros(0, candidates.shape[1])
    x, q, conv = newton_search(system, candidates, radius=radius, trust_radius=scale, known=known, **kw)
    if seed_midpoints and conv.any():
        fixed = x[conv][unique_points(x[conv], q[conv], radius)]
        _, _, n_unstable = cache(fixed)
        seeds = _segment_seeds(system.F, fixed[n_unstable == 0], max(candidates.shape[0], 64))
        if seeds.shape[0] > 0:
            x2, q2, conv2 = newton_search(system, seeds, radius=radius, trust_radius=scale, known=x[conv], **kw)
            x, q, conv = torch.cat([x, x2]), torch.cat([q, q2]), torch.cat([conv, conv2])
    return x, q, conv


def _low_rank_search(model: AbstractRNN, u, candidates, n_candidates, radius, seed, seed_midpoints, cache,
                     *, tol_q, **kw):
    """Exact search in the K-dimensional latent space of a low-rank network (no bulk)."""
    factors = model.low_rank_factors()
    M, Nl = factors.m, factors.n  # (N, K)
    N, K = M.shape
    c = model.at_input(u).drive  # I u + b
    phi = factors.phi
    eye = torch.eye(K, dtype=M.dtype, device=M.device)

    def G(kappa: torch.Tensor) -> torch.Tensor:
        return kappa - phi(kappa @ M.T + c) @ Nl / N

    def JG(kappa: torch.Tensor) -> torch.Tensor:
        d = phi.derivative(kappa @ M.T + c)
        return eye - (Nl.T * d[:, None, :]) @ M / N

    latent = NonlinearSystem(G, JG)

    def to_states(kappa: torch.Tensor) -> torch.Tensor:
        return kappa @ M.T + c

    # starts: the latent coordinates of the candidates, plus random latent states in a box that
    # holds every fixed point when phi is bounded (|kappa_k| <= mean_i |n_ik| sup|phi|) and the
    # candidates' latent coordinates (else a guess of 5 for sup|phi|)
    probe = phi(torch.linspace(-50, 50, 101, dtype=M.dtype, device=M.device)).abs().amax()
    bound = float(probe) if float(probe) <= 1.0 + 1e-12 else 5.0
    box = Nl.abs().mean(0) * bound * 1.1 + 1e-3
    starts = []
    if candidates is not None:
        starts.append(phi(candidates) @ Nl / N)
        box = torch.maximum(box, starts[0].abs().amax(0) * 1.5)
    gen = torch.Generator().manual_seed(seed)
    r0 = torch.rand(n_candidates, K, generator=gen, dtype=torch.float64).to(M.device)
    starts.append((2 * r0 - 1) * box)
    starts = torch.cat(starts)
    s = max(float(starts.pow(2).sum(-1).mean().sqrt()), 1e-3)
    # the latent radius maps tol_unique * scale through |M kappa| <= |M|_2 |kappa|
    lat_radius = radius / max(float(torch.linalg.matrix_norm(M, ord=2)), 1e-12)
    lat_tol = min(tol_q, 1e-20) * max(1.0, s * s)
    opts = dict(tol_q=lat_tol, radius=lat_radius, trust_radius=s, **kw)
    kappa, qk, conv = newton_search(latent, starts, known=starts.new_zeros(0, K), **opts)
    if seed_midpoints and conv.any():
        fixed = kappa[conv][unique_points(kappa[conv], qk[conv], lat_radius)]
        _, _, n_unstable = cache(to_states(fixed))
        seeds = _segment_seeds(latent.F, fixed[n_unstable == 0], max(starts.shape[0], 64))
        if seeds.shape[0] > 0:
            k2, _, _ = newton_search(latent, seeds, known=kappa[conv], **opts)
            kappa = torch.cat([kappa, k2])
    x = to_states(kappa)
    q = half_squared_norm(_system(model, u).F(x))
    return x, q, q <= tol_q


def _assemble(model, u, points, q, is_slow, cache: _SpectrumCache) -> FixedPoints:
    vals, vecs, n_unstable = cache(points)
    # order: fixed before slow, then by number of unstable directions, then by q
    n = points.shape[0]
    key = torch.argsort(q, stable=True)
    key = key[torch.argsort(n_unstable[key], stable=True)]
    key = key[torch.argsort(is_slow[key].to(torch.long), stable=True)]
    cpu = lambda t: t[key].detach().cpu()  # noqa: E731
    return FixedPoints(
        states=cpu(points),
        q=cpu(q),
        inputs=u.detach().cpu().expand(n, -1).clone(),
        eigenvalues=cpu(vals),
        eigenvectors=cpu(vecs),
        n_unstable=cpu(n_unstable),
        is_slow=cpu(is_slow),
        time=model.time,
        dt=float(model.dt),
    )


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
