"""One batched trust-region Newton solver for square nonlinear systems ``F(x) = 0``.

Fixed points of networks (:func:`rnnscope.analysis.find_fixed_points`), the fixed points of low-rank
mean-field theory and the reductions of the reproductions all find their roots with
:func:`newton_search`: Powell's dogleg trust region, batched over starting points, with chord steps
that reuse LU factors, waves of starts filtered by the roots already found, and Newton polishing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._linalg import lu_factor

__all__ = ["NonlinearSystem", "newton_search", "unique_points", "half_squared_norm"]


@dataclass(frozen=True)
class NonlinearSystem:
    """A square nonlinear system: ``F(x)`` (m, D) -> (m, D) and its Jacobian (m, D) -> (m, D, D)."""

    F: Callable[[torch.Tensor], torch.Tensor]
    jacobian: Callable[[torch.Tensor], torch.Tensor]


def half_squared_norm(F: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F * F).sum(-1)


def _first_close(points: torch.Tensor, q: torch.Tensor, radius: float) -> torch.Tensor:
    """Boolean mask of points to keep: a point is dropped when a point of lower q (ties: lower
    index) lies within ``radius``. One vectorised pass (chains may merge points a few radii apart;
    used only while iterating, where that is harmless)."""
    m = points.shape[0]
    if m < 2:
        return torch.ones(m, dtype=torch.bool, device=points.device)
    close = torch.cdist(points, points) <= radius
    if int(close.sum()) == m:  # only the diagonal: nothing to merge
        return torch.ones(m, dtype=torch.bool, device=points.device)
    order = torch.argsort(q, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(m, device=points.device)
    better = rank[None, :] < rank[:, None]  # [i, j]: j comes before i
    return ~(close & better).any(dim=1)


def unique_points(points: torch.Tensor, q: torch.Tensor, radius: float) -> torch.Tensor:
    """Indices of representatives: greedily take the lowest-q point, drop all within ``radius``."""
    m = points.shape[0]
    if m == 0:
        return torch.zeros(0, dtype=torch.long, device=points.device)
    close = (torch.cdist(points, points) <= radius).cpu()
    taken = torch.zeros(m, dtype=torch.bool)
    keep = []
    for i in torch.argsort(q.cpu(), stable=True).tolist():
        if not taken[i]:
            keep.append(i)
            taken |= close[i]
    return torch.tensor(keep, dtype=torch.long, device=points.device)


def _chunk_size(D: int) -> int:
    """Points per block of (m, D, D) work: about 8 MB of float64 per Jacobian block (16 points at
    256 units). Blocks above 32 MB page-fault on every allocation (glibc maps them afresh); blocks
    of 2 MB (4 points at 256 units) spent 10% more time on the per-block calls of the step."""
    return max(1, (1 << 20) // (D * D))


#: with ``mixed_precision``, Jacobians larger than this are factorised in float32
_SINGLE_MIN = 128


class _Factors:
    """LU factors of a batch of Jacobians and solves with them.

    With ``single`` the factorisation is done in float32 (at 256 units half the time of float64, and
    the triangular solves read half the memory) and every solve is refined once in float64 against
    the Jacobian: ``x += LU^{-1} (b - J x)``. The refined solution has a relative error of about
    ``(cond(J) eps_32)^2`` instead of ``cond(J) eps_32``: for a Newton step, as good as float64 while
    cond(J) is below ~1e5; beyond, Newton's quadratic convergence degrades to a linear one (each
    step still evaluates F in float64, so the accuracy of the roots is that of float64).

    Shape: J (m, D, D); solve: (m, D) -> (m, D)
    """

    def __init__(self, J: torch.Tensor, single: bool) -> None:
        self.J, self.single = J, single
        self.LU, self.pivots, info = lu_factor(J.float() if single else J)
        self.ok = info == 0

    def subset(self, index: torch.Tensor) -> _Factors:
        """The factors of some of the matrices, without their Jacobians (no refined solves)."""
        out = _Factors.__new__(_Factors)
        out.J, out.single = None, self.single
        out.LU, out.pivots, out.ok = self.LU[index], self.pivots[index], self.ok[index]
        return out

    def solve(self, b: torch.Tensor, refine: bool = True) -> torch.Tensor:
        """``J^{-1} b``, refined once in float64 when factorised in float32 and ``refine``."""
        x = torch.linalg.lu_solve(self.LU, self.pivots, b.to(self.LU.dtype)[..., None])[..., 0].to(b.dtype)
        if self.single and refine and self.J is not None:
            r = b - (self.J @ x[..., None])[..., 0]
            x = x + torch.linalg.lu_solve(self.LU, self.pivots, r.to(self.LU.dtype)[..., None])[..., 0].to(b.dtype)
        return x


def _step(system: NonlinearSystem, x: torch.Tensor, F: torch.Tensor, q: torch.Tensor, delta: torch.Tensor,
          tol_q: float, chord_steps: int, single: bool):
    """One trust-region (dogleg) Newton step for every point, then cheap chord steps.

    Powell's dogleg: the Newton step ``-J^{-1} F`` when it fits in the trust region of radius
    ``delta``, else the point at distance ``delta`` along the path from the Cauchy (steepest descent
    on q) point to the Newton point. The step is accepted when q falls by a fair share of what the
    linear model predicts; the radius grows or shrinks with that ratio. Where the full Newton step
    was taken and accepted, chord steps ``-J(x_0)^{-1} F(x)`` reuse the LU factors of the same
    Jacobian (each costs one evaluation of F and two triangular solves instead of a new Jacobian and
    factorisation) while each of them at least quarters q. ``single``: factorise in float32 and
    refine the solves (:class:`_Factors`).

    Returns the new x, F, q, trust radii, which points accepted a step, and |J^T F| before the step.
    """
    out = []
    n = _chunk_size(x.shape[1])
    for xs, Fs, qs, rs in zip(x.split(n), F.split(n), q.split(n), delta.split(n)):
        J = system.jacobian(xs)
        factors = _Factors(J, single)
        ok = factors.ok
        newton = -factors.solve(Fs)
        g = (Fs[..., None, :] @ J)[..., 0, :]  # J^T F, the gradient of q
        Jg = (J @ g[..., None])[..., 0]
        g2 = (g * g).sum(-1)
        gn = g2.sqrt()
        alpha = g2 / (Jg * Jg).sum(-1).clamp_min(1e-300)
        cauchy = -alpha[:, None] * g
        nc = alpha * gn
        ok &= torch.isfinite(newton).all(-1)
        newton = torch.where(ok[:, None], newton, cauchy)
        nn_ = newton.norm(dim=-1)
        # the point of the dogleg path at distance delta: cauchy + tau (newton - cauchy)
        d = newton - cauchy
        a = (d * d).sum(-1).clamp_min(1e-300)
        b = 2 * (cauchy * d).sum(-1)
        c = nc * nc - rs * rs
        tau = ((-b + (b * b - 4 * a * c).clamp_min(0).sqrt()) / (2 * a)).clamp(0, 1)
        full = nn_ <= rs
        short = nc >= rs
        clipped = -(rs / gn.clamp_min(1e-300))[:, None] * g
        step = torch.where(full[:, None], newton, torch.where(short[:, None], clipped, cauchy + tau[:, None] * d))
        # J step without another pass over J: J newton = -F, J cauchy = -alpha J g
        J_newton = torch.where(ok[:, None], -Fs, -alpha[:, None] * Jg)
        J_step = torch.where(
            full[:, None], J_newton,
            torch.where(short[:, None], -(rs / gn.clamp_min(1e-300))[:, None] * Jg,
                        (1 - tau[:, None]) * (-alpha[:, None] * Jg) + tau[:, None] * J_newton))
        predicted = qs - half_squared_norm(Fs + J_step)
        del J
        x_new = xs + step
        F_new = system.F(x_new)
        q_new = half_squared_norm(F_new)
        rho = (qs - q_new) / predicted.clamp_min(1e-300)
        accept = (rho > 1e-4) & torch.isfinite(q_new)
        length = step.norm(dim=-1)
        rs = torch.where(rho < 0.25, 0.25 * length, torch.where(rho > 0.75, torch.maximum(rs, 2 * length), rs))
        xs = torch.where(accept[:, None], x_new, xs)
        Fs = torch.where(accept[:, None], F_new, Fs)
        qs = torch.where(accept, q_new, qs)
        idx = torch.nonzero(accept & full & ok & (qs > tol_q)).flatten()
        if chord_steps > 0 and idx.numel() > 0:
            chord = factors.subset(idx)
            xc, Fc, qc = xs[idx], Fs[idx], qs[idx]
            for _ in range(chord_steps):
                # unrefined: the chord iteration already solves with a Jacobian of a nearby point
                x_try = xc - chord.solve(Fc, refine=False)
                F_try = system.F(x_try)
                q_try = half_squared_norm(F_try)
                good = q_try <= 0.25 * qc
                xc = torch.where(good[:, None], x_try, xc)
                Fc = torch.where(good[:, None], F_try, Fc)
                qc = torch.where(good, q_try, qc)
                go = good & (qc > tol_q)
                if not go.any():
                    break
                if int(go.sum()) < 0.75 * go.numel():  # shrink the working set
                    xs[idx], Fs[idx], qs[idx] = xc, Fc, qc
                    idx, chord, xc, Fc, qc = idx[go], chord.subset(go), xc[go], Fc[go], qc[go]
            xs[idx], Fs[idx], qs[idx] = xc, Fc, qc
        out.append((xs, Fs, qs, rs, accept, gn))
    return tuple(torch.cat(parts) for parts in zip(*out))


class _Roots:
    """The roots found so far, and the chord test that says which states they explain.

    A state x is *explained* by its nearest root p when ``steps`` chord iterations
    ``x <- x - J(p)^{-1} F(x)`` take it within ``radius`` of p: x lies where the linearisation at p
    already describes the vector field, and a search from it would find p again. States near a root
    not found yet (where the Jacobian differs: an unstable direction) do not converge that fast and
    are not explained. (With 3 steps every saddle of the flip-flop benchmark networks is still found;
    with 8, a few edge saddles of a 256-unit network were lost.) The LU factors of a root's Jacobian
    are computed when a state first needs them and kept (float32 with ``single``: the chord
    iteration needs only an approximate Jacobian), up to ``_ROOT_FACTORS_MAX`` bytes; beyond, no
    state is explained.
    """

    def __init__(self, system: NonlinearSystem, points: torch.Tensor, radius: float, single: bool) -> None:
        self.system, self.radius, self.single = system, radius, single
        D = points.shape[1]
        self.points = points
        self.LU = points.new_zeros(0, D, D, dtype=torch.float32 if single else points.dtype)
        self.pivots = torch.zeros(0, D, dtype=torch.int32, device=points.device)
        self.ok = torch.zeros(0, dtype=torch.bool, device=points.device)
        self.slot = torch.full((points.shape[0],), -1, dtype=torch.long, device=points.device)

    def add(self, points: torch.Tensor, factors: tuple | None = None) -> None:
        """New roots, with the factors (LU, pivots, success) of their Jacobians when known."""
        first = self.points.shape[0]
        self.points = torch.cat([self.points, points])
        self.slot = torch.cat([self.slot, self.slot.new_full((points.shape[0],), -1)])
        if factors is not None:
            self._store(torch.arange(first, self.points.shape[0], device=points.device), *factors)

    def _fits(self, extra: int) -> bool:
        D = self.points.shape[1]
        return (self.LU.shape[0] + extra) * D * D * self.LU.element_size() <= _ROOT_FACTORS_MAX

    def _store(self, index: torch.Tensor, LU: torch.Tensor, pivots: torch.Tensor, ok: torch.Tensor) -> bool:
        """Keep the factors of the roots ``index``; False when they would exceed the memory limit."""
        if not self._fits(index.numel()):
            return False
        self.slot[index] = self.LU.shape[0] + torch.arange(index.numel(), device=index.device)
        self.LU = torch.cat([self.LU, LU.to(self.LU.dtype)])
        self.pivots = torch.cat([self.pivots, pivots.to(self.pivots.dtype)])
        self.ok = torch.cat([self.ok, ok])
        return True

    def _factor(self, index: torch.Tensor) -> bool:
        """Factorise the Jacobians of the roots ``index`` not factorised yet; False when the store
        would exceed its memory limit."""
        new = index[self.slot[index] < 0]
        if new.numel() == 0:
            return True
        if not self._fits(new.numel()):
            return False
        LU, pivots, info = lu_factor(self.system.jacobian(self.points[new]).to(self.LU.dtype))
        return self._store(new, LU, pivots, info == 0)

    def explained(self, x: torch.Tensor, steps: int = 3) -> torch.Tensor:
        """Boolean mask of the states ``x`` (m, D) explained by the roots (see the class)."""
        m = x.shape[0]
        none = torch.zeros(m, dtype=torch.bool, device=x.device)
        if m == 0 or self.points.shape[0] == 0 or self.radius <= 0:
            return none
        nearest = torch.cdist(x, self.points).argmin(dim=1)
        used = torch.unique(nearest)
        if not self._factor(used):
            return none
        order = torch.argsort(nearest)
        y = x[order]
        groups = nearest[order]
        counts = torch.unique_consecutive(groups, return_counts=True)[1]  # groups in the order of used
        bounds = [0, *torch.cumsum(counts, 0).tolist()]
        slots = self.slot[used].tolist()
        usable = [(k, a, b) for k, a, b in zip(slots, bounds[:-1], bounds[1:]) if bool(self.ok[k])]
        dtype = self.LU.dtype
        for _ in range(steps):
            F = self.system.F(y)
            for k, a, b in usable:
                y[a:b] -= torch.linalg.lu_solve(self.LU[k], self.pivots[k], F[a:b].T.to(dtype)).T.to(y.dtype)
        close = (y - self.points[groups]).norm(dim=-1) <= self.radius  # NaN (diverged) compares False
        out = torch.empty_like(close)
        out[order] = close
        return out


#: memory for the LU factors of the roots found (:class:`_Roots`)
_ROOT_FACTORS_MAX = 64 * 2**20


def newton_search(
    system: NonlinearSystem,
    starts: torch.Tensor,
    *,
    tol_q: float,
    radius: float,
    trust_radius: float,
    known: torch.Tensor,
    max_iterations: int,
    polish_steps: int,
    progress: bool,
    chord_steps: int = 8,
    wave: int = 64,
    mixed_precision: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched dogleg trust-region Newton on ``system`` from ``starts``, then Newton polishing.

    Points that come within ``radius`` of each other or of a ``known`` point are merged on the way,
    and points that the roots found explain (the chord test of :class:`_Roots`, run on the points
    still moving after every step) are dropped: they would converge to a root already found. Many
    starts (more than ``4 * wave``) are searched in waves of ``wave`` strided starts; after each wave
    the starts left that the roots found explain are dropped. ``mixed_precision``: factorise
    Jacobians of more than 128 unknowns in float32 and refine every solve once in float64 (the
    polish stays in float64). Returns the final points, their q and whether each converged
    (q <= tol_q).
    """
    single = mixed_precision and starts.shape[1] > _SINGLE_MIN and starts.dtype == torch.float64
    roots = _Roots(system, known, radius, single)
    kw = dict(tol_q=tol_q, radius=radius, trust_radius=trust_radius, max_iterations=max_iterations,
              polish_steps=polish_steps, progress=progress, chord_steps=chord_steps, single=single)
    m = starts.shape[0]
    if not (wave > 0 and m > 4 * wave):
        return _search(system, starts, roots, **kw)[:3]
    rest, parts, stragglers = starts, [], []
    while rest.shape[0] > 0:
        now = torch.zeros(rest.shape[0], dtype=torch.bool, device=starts.device)
        if rest.shape[0] > 2 * wave:
            now[torch.linspace(0, rest.shape[0] - 1, wave, device=starts.device).round().long()] = True
        else:
            now[:] = True
        *part, left = _search(system, rest[now], roots, patience=_WAVE_PATIENCE, **kw)
        parts.append(tuple(part))
        stragglers.append(left)
        rest = rest[~now]
        rest = rest[~roots.explained(rest)]
    # the points of every wave that stopped making progress, searched together with the full budget
    left = torch.cat(stragglers)
    left = left[~roots.explained(left)]
    if left.shape[0] > 0:
        parts.append(_search(system, left, roots, **kw)[:3])
    return tuple(torch.cat(t) for t in zip(*parts))


#: steps a wave of :func:`newton_search` goes on without any point leaving it (converged, merged,
#: explained or stuck) before its remaining points are set aside for one joint search at the end:
#: a few slow starts per wave (near slow points) would otherwise run every wave to the full budget
_WAVE_PATIENCE = 40


def _search(system: NonlinearSystem, starts: torch.Tensor, roots: _Roots, *, tol_q: float, radius: float,
            trust_radius: float, max_iterations: int, polish_steps: int, progress: bool, chord_steps: int,
            single: bool, patience: int | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of :func:`newton_search` (no waves); the roots it finds are added to ``roots``.

    Returns the points, their q and whether each converged, and the points set aside: with
    ``patience``, the search stops when no point has left it for that many steps and returns the
    points still moving as the fourth tensor (else that tensor is empty)."""
    D = starts.shape[1]
    F = system.F(starts)
    q = half_squared_norm(F)
    finite = torch.isfinite(q)
    x, F, q = starts[finite], F[finite], q[finite]
    delta = torch.full_like(q, trust_radius)
    done_x, done_q, done_conv = [], [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_iterations, desc="fixed points", leave=False, file=sys.stderr)
    left = starts.new_zeros(0, D)
    active, quiet = x.shape[0], 0
    for _ in range(max_iterations):
        if patience is not None:
            quiet = quiet + 1 if x.shape[0] == active else 0
            active = x.shape[0]
            if quiet >= patience:
                left, x = x, x[:0]
                break
        # 1) retire converged points (merged with each other and with what was found); drop the
        #    others that came within the radius of a root found, or that a root found explains
        conv = q <= tol_q
        if conv.any():
            cx, cq = x[conv], q[conv]
            keep = _first_close(cx, cq, radius)
            if roots.points.shape[0] > 0:
                keep &= ~(torch.cdist(cx, roots.points) <= radius).any(dim=1)
            if keep.any():
                px, pq = _retire(system, roots, cx[keep], cq[keep], polish_steps, single)
                done_x.append(px)
                done_q.append(pq)
                done_conv.append(torch.ones(int(keep.sum()), dtype=torch.bool, device=x.device))
        stay = ~conv
        if roots.points.shape[0] > 0:
            stay &= ~(torch.cdist(x, roots.points) <= radius).any(dim=1)
            stay[stay.clone()] = ~roots.explained(x[stay])
        x, F, q, delta = x[stay], F[stay], q[stay], delta[stay]
        if x.shape[0] == 0:
            break
        # 2) one dogleg step (and chord steps) for every remaining point
        x, F, q, delta, accept, gnorm = _step(system, x, F, q, delta, tol_q, chord_steps, single)
        # 3) stagnation: the trust region collapsed or the gradient of q vanished (a slow point)
        scale = x.norm(dim=-1) + trust_radius
        stuck = ~accept & ((delta <= 1e-10 * scale) | (gnorm <= 1e-14 * F.norm(dim=-1) * scale))
        if stuck.any():
            done_x.append(x[stuck])
            done_q.append(q[stuck])
            done_conv.append(torch.zeros(int(stuck.sum()), dtype=torch.bool, device=x.device))
            x, F, q, delta = x[~stuck], F[~stuck], q[~stuck], delta[~stuck]
        if bar is not None:
            bar.update(1)
            bar.set_postfix(active=int(x.shape[0]))
    if bar is not None:
        bar.close()
    if x.shape[0] > 0:  # what is left when the budget ran out
        conv = q <= tol_q
        if conv.any():
            px, pq = _retire(system, roots, x[conv], q[conv], polish_steps, single)
            done_x.append(px)
            done_q.append(pq)
            done_conv.append(torch.ones(int(conv.sum()), dtype=torch.bool, device=x.device))
        done_x.append(x[~conv])
        done_q.append(q[~conv])
        done_conv.append(torch.zeros(int((~conv).sum()), dtype=torch.bool, device=x.device))
    if not done_x:
        return (starts.new_zeros(0, D), starts.new_zeros(0), torch.zeros(0, dtype=torch.bool, device=starts.device),
                left)
    return torch.cat(done_x), torch.cat(done_q), torch.cat(done_conv), left


def _retire(system: NonlinearSystem, roots: _Roots, x: torch.Tensor, q: torch.Tensor, polish_steps: int,
            single: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Polish converged points and add them to the roots, with the factors of their Jacobians that
    the polish computed. Returns the polished points and their q."""
    factors = None
    if polish_steps > 0:
        x, q, factors = _polish(system, x, q, polish_steps, single)
    roots.add(x, factors)
    return x, q


def _polish(system: NonlinearSystem, x: torch.Tensor, q: torch.Tensor, steps: int,
            single: bool) -> tuple[torch.Tensor, torch.Tensor, tuple | None]:
    """Newton polishing with the Jacobian frozen at the converged points: J(x_0) factorised once,
    then up to ``steps`` undamped steps ``dx = -J(x_0)^{-1} F(x)`` (solves refined in float64 with
    ``single``), each kept only where it lowers q.

    From a point within the tolerance of a root (``|x_0 - x*| = e``) the error falls as ``C e e_k``
    per step: as fast as Newton's method for the few steps from ``tol_q`` to round-off, for one
    factorisation instead of one per step. Returns the points, their q and the factors (LU, pivots,
    success) for the roots' chord tests to reuse, or None when they would take more than
    ``_ROOT_FACTORS_MAX`` bytes.
    """
    D = x.shape[1]
    keep = x.shape[0] * D * D * (4 if single else x.element_size()) <= _ROOT_FACTORS_MAX
    out = []
    for xs, qs in zip(x.split(_chunk_size(D)), q.split(_chunk_size(D))):
        factors = _Factors(system.jacobian(xs), single)
        F = system.F(xs)
        for _ in range(steps):
            step = -factors.solve(F)
            ok = factors.ok & torch.isfinite(step).all(-1)
            x_try = xs + torch.where(ok[:, None], step, torch.zeros_like(step))
            F_try = system.F(x_try)
            q_try = half_squared_norm(F_try)
            better = ok & (q_try < qs)
            if not better.any():
                break
            xs = torch.where(better[:, None], x_try, xs)
            F = torch.where(better[:, None], F_try, F)
            qs = torch.where(better, q_try, qs)
        out.append((xs, qs, *((factors.LU, factors.pivots, factors.ok) if keep else ())))
    x, q, *factors = (torch.cat(t) for t in zip(*out))
    return x, q, tuple(factors) if keep else None
