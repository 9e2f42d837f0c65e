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
   new Jacobian and factorisation. Above 128 units the Jacobians are factorised in float32 (half the
   time) and each Newton step's solve is refined once in float64; F is always evaluated in float64.
   Points that converge are retired; points that come within the de-duplication radius of a retired
   one are dropped, and so are points that a root found *explains*: three chord steps with the
   Jacobian of their nearest root take them onto it, so the search from them would find it again.
3. **Waves**: with many candidates (more than 256), a strided subset of 64 is searched first; the
   remaining candidates that the roots found explain are skipped (one LU per root, kept for every
   later test), the next 64 of the others are searched, and so on. What is left to search is mostly
   states between attractors -- where the saddles are.
4. **Newton polishing**: the Jacobian of each converged point factorised once (the factors the chord
   tests then reuse) and undamped steps with it, kept while q falls, so q ends far below ``tol_q``
   (typically at float64 round-off).
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
   time, moduli above one in discrete time). The eigenvectors are computed when
   :attr:`FixedPoints.eigenvectors` is first read (a decomposition without them takes about 2/3 of
   the time; a low-rank network's come with its eigenvalues).

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

import torch

from .._validation import check_bool, check_finite, check_float, check_int, check_seed
from ..dynamics import Trajectory, simulate
from ..errors import ConfigError, ShapeError
from ..models import AbstractRNN
from ..numerics import (
    NonlinearSystem,
    matching_eigenvectors,
    newton_search,
    sort_and_normalise,
    sorted_eigvals,
    unique_points,
)
from ..tasks import TrialBatch
from ._fixed_points_result import FixedPoints
from ._low_rank_search import _low_rank_eig, _low_rank_search, _segment_seeds

__all__ = ["find_fixed_points", "candidates_from_trajectories"]

_OWNER = "find_fixed_points"


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
    seed = check_seed(own, "seed", seed)
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
    check_finite(_OWNER, "model", model.state_dict(), "weights")  # else no point converges, silently
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
    seed = check_seed(_OWNER, "seed", seed)
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
    if inputs.is_complex() or not bool(torch.isfinite(inputs).all()):
        raise ConfigError(f"The 'inputs' parameter of {_OWNER} must be real and finite. Got {inputs.tolist()} instead.")
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
    """Eigenvalues of the model's Jacobian at points, computed once per point, and the number of
    unstable directions they give: all that classifying the points needs. (A low-rank network's
    eigenvectors come with its eigenvalues, from the K x K structure, and are kept too.)"""

    def __init__(self, model: AbstractRNN, u: torch.Tensor, tol: float) -> None:
        self.model, self.u, self.tol = model, u, tol
        N = model.hidden_size
        self.points = u.new_zeros(0, N)
        self.vals = torch.zeros(0, N, dtype=torch.complex128, device=u.device)
        self.vecs: torch.Tensor | None = None
        self.n_unstable = torch.zeros(0, dtype=torch.long, device=u.device)

    def __call__(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Eigenvalues (sorted), right eigenvectors (None unless the structure gave them) and the
        number of unstable directions."""
        index = torch.full((points.shape[0],), -1, dtype=torch.long, device=points.device)
        if self.points.shape[0] > 0 and points.shape[0] > 0:
            # exact distances: the matrix-product form cdist uses for many points is not 0 between
            # equal points, and every point would be decomposed again
            d, j = torch.cdist(points, self.points, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)
            index = torch.where(d == 0, j, index)
        new = index < 0
        if new.any():
            vals, vecs, nu = _spectrum(self.model, self.u, points[new], self.tol)
            index[new] = self.points.shape[0] + torch.arange(int(new.sum()), device=points.device)
            if vecs is not None:
                self.vecs = vecs if self.vecs is None else torch.cat([self.vecs, vecs])
            self.points = torch.cat([self.points, points[new]])
            self.vals = torch.cat([self.vals, vals])
            self.n_unstable = torch.cat([self.n_unstable, nu])
        vecs = self.vecs[index] if self.vecs is not None else None
        return self.vals[index], vecs, self.n_unstable[index]


def _spectrum(model: AbstractRNN, u: torch.Tensor, points: torch.Tensor, tol: float):
    """Eigenvalues (sorted), right eigenvectors where the low-rank structure gives them cheaply
    (else None), and the number of unstable directions at ``points``."""
    N = model.hidden_size
    vecs = None
    low = _low_rank_eig(model, points) if points.shape[0] > 0 else None
    if low is not None:
        vals, vecs = sort_and_normalise(*low, model.time)
    elif points.shape[0] > 0:
        vals = sorted_eigvals(model.at_input(u).jacobian(points), model.time)
    else:
        vals = torch.zeros(0, N, dtype=torch.complex128, device=points.device)
    if model.time == "discrete":
        n_unstable = (vals.abs() > 1.0 + tol).sum(-1)
    else:
        n_unstable = (vals.real > tol * vals.abs().amax(-1, keepdim=True)).sum(-1)
    return vals, vecs, n_unstable


def _full_search(model, u, candidates, radius, scale, seed_midpoints, cache, **kw):
    system = _system(model, u)
    known = candidates.new_zeros(0, candidates.shape[1])
    kw = dict(kw, mixed_precision=True)
    x, q, conv = newton_search(system, candidates, radius=radius, trust_radius=scale, known=known, **kw)
    if seed_midpoints and conv.any():
        fixed = x[conv][unique_points(x[conv], q[conv], radius)]
        _, _, n_unstable = cache(fixed)
        seeds = _segment_seeds(system.F, fixed[n_unstable == 0], max(candidates.shape[0], 64))
        if seeds.shape[0] > 0:
            x2, q2, conv2 = newton_search(system, seeds, radius=radius, trust_radius=scale, known=x[conv], **kw)
            x, q, conv = torch.cat([x, x2]), torch.cat([q, q2]), torch.cat([conv, conv2])
    return x, q, conv


def _assemble(model, u, points, q, is_slow, cache: _SpectrumCache) -> FixedPoints:
    vals, vecs, n_unstable = cache(points)
    # order: fixed before slow, then by number of unstable directions, then by q
    n = points.shape[0]
    key = torch.argsort(q, stable=True)
    key = key[torch.argsort(n_unstable[key], stable=True)]
    key = key[torch.argsort(is_slow[key].to(torch.long), stable=True)]
    cpu = lambda t: t[key].detach().cpu()  # noqa: E731
    kw = dict(states=cpu(points), q=cpu(q), inputs=u.detach().cpu().expand(n, -1).clone(), eigenvalues=cpu(vals),
              n_unstable=cpu(n_unstable), is_slow=cpu(is_slow), time=model.time, dt=float(model.dt))
    if vecs is not None or n == 0:
        empty = torch.zeros(0, model.hidden_size, model.hidden_size, dtype=torch.complex128)
        return FixedPoints(**kw, eigenvectors=cpu(vecs) if vecs is not None else empty)
    field, device, time = model.at_input(u), u.device, model.time

    def vectors_of(states: torch.Tensor, eigenvalues: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            jac = field.jacobian(states.to(device))
            return matching_eigenvectors(jac, eigenvalues.to(device), time).cpu()

    return FixedPoints._deferred(**kw, vectors_of=vectors_of)
