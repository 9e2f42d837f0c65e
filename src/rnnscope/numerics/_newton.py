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

from ._linalg import lu_factor, solve

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
    """Points per block of (m, D, D) work: about 2 MB of float64 per Jacobian block. Small blocks
    stay in cache between building a Jacobian and factorising it; blocks above 32 MB page-fault on
    every allocation (glibc maps them afresh)."""
    return max(1, (1 << 18) // (D * D))


def _step(system: NonlinearSystem, x: torch.Tensor, F: torch.Tensor, q: torch.Tensor, delta: torch.Tensor,
          tol_q: float, chord_steps: int):
    """One trust-region (dogleg) Newton step for every point, then cheap chord steps.

    Powell's dogleg: the Newton step ``-J^{-1} F`` when it fits in the trust region of radius
    ``delta``, else the point at distance ``delta`` along the path from the Cauchy (steepest descent
    on q) point to the Newton point. The step is accepted when q falls by a fair share of what the
    linear model predicts; the radius grows or shrinks with that ratio. Where the full Newton step
    was taken and accepted, chord steps ``-J(x_0)^{-1} F(x)`` reuse the LU factors of the same
    Jacobian (each costs one evaluation of F and two triangular solves instead of a new Jacobian and
    factorisation) while each of them at least quarters q.

    Returns the new x, F, q, trust radii, which points accepted a step, and |J^T F| before the step.
    """
    out = []
    n = _chunk_size(x.shape[1])
    for xs, Fs, qs, rs in zip(x.split(n), F.split(n), q.split(n), delta.split(n)):
        J = system.jacobian(xs)
        LU, pivots, info = lu_factor(J)
        ok = info == 0
        newton = -torch.linalg.lu_solve(LU, pivots, Fs[..., None])[..., 0]
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
            LU, pivots = LU[idx], pivots[idx]
            xc, Fc, qc = xs[idx], Fs[idx], qs[idx]
            for _ in range(chord_steps):
                x_try = xc - torch.linalg.lu_solve(LU, pivots, Fc[..., None])[..., 0]
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
                    idx, LU, pivots, xc, Fc, qc = idx[go], LU[go], pivots[go], xc[go], Fc[go], qc[go]
            xs[idx], Fs[idx], qs[idx] = xc, Fc, qc
        out.append((xs, Fs, qs, rs, accept, gn))
    return tuple(torch.cat(parts) for parts in zip(*out))


def _chord_filter(system: NonlinearSystem, points: torch.Tensor, starts: torch.Tensor, radius: float,
                  steps: int = 3) -> torch.Tensor:
    """Which starts are *not* explained by the known ``points``.

    Each start runs ``steps`` chord iterations ``x <- x - J(p)^{-1} F(x)`` with the Jacobian of its
    nearest known point p (one LU factorisation per known point, shared by all starts near it). A
    start that lands within ``radius`` of p in so few steps lies where the linearisation at p already
    describes the vector field: the full search from it would find p again. Starts near a saddle not
    found yet (where the Jacobian differs: an unstable direction) do not converge that fast and are
    kept. (With 3 steps every saddle of the flip-flop benchmark networks is still found; with 8, a
    few edge saddles of a 256-unit network were lost.) Returns a boolean mask of the starts to keep.
    """
    D = points.shape[1]
    nearest = torch.cdist(starts, points).argmin(dim=1)
    used = torch.unique(nearest)
    if used.numel() * D * D * 8 > 64 * 2**20:  # too many factors to hold: keep every start
        return torch.ones(starts.shape[0], dtype=torch.bool, device=starts.device)
    LU, pivots, info = lu_factor(system.jacobian(points[used]))  # row k: point used[k]
    order = torch.argsort(nearest)
    x = starts[order]
    groups = nearest[order]
    counts = torch.unique_consecutive(groups, return_counts=True)[1]  # groups appear in the order of used
    bounds = [0, *torch.cumsum(counts, 0).tolist()]
    usable = [(k, a, b) for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])) if int(info[k]) == 0]
    with torch.no_grad():
        for _ in range(steps):
            F = system.F(x)
            for k, a, b in usable:
                x[a:b] -= torch.linalg.lu_solve(LU[k], pivots[k], F[a:b].T).T
    explained = (x - points[groups]).norm(dim=-1) <= radius  # NaN (diverged) compares False
    keep = torch.empty_like(explained)
    keep[order] = ~explained
    return keep


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
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched dogleg trust-region Newton on ``system`` from ``starts``, then Newton polishing.

    Points that come within ``radius`` of each other or of a ``known`` point are merged on the way.
    Many starts (more than ``4 * wave``) are searched in waves of ``wave`` strided starts; after
    each wave the starts left that :func:`_chord_filter` explains by the points found are dropped.
    Returns the final points, their q and whether each converged (q <= tol_q).
    """
    kw = dict(tol_q=tol_q, radius=radius, trust_radius=trust_radius, max_iterations=max_iterations,
              polish_steps=polish_steps, progress=progress, chord_steps=chord_steps, wave=wave)
    m = starts.shape[0]
    if wave > 0 and m > 4 * wave:
        rest, found, parts = starts, known, []
        while rest.shape[0] > 0:
            now = torch.zeros(rest.shape[0], dtype=torch.bool, device=starts.device)
            if rest.shape[0] > 2 * wave:
                now[torch.linspace(0, rest.shape[0] - 1, wave, device=starts.device).round().long()] = True
            else:
                now[:] = True
            x1, q1, c1 = newton_search(system, rest[now], known=found, **{**kw, "wave": 0})
            parts.append((x1, q1, c1))
            rest = rest[~now]
            found = torch.cat([found, x1[c1]])
            if found.shape[0] > 0 and rest.shape[0] > 0:
                rest = rest[_chord_filter(system, found, rest, radius)]
        return tuple(torch.cat(t) for t in zip(*parts))
    D = starts.shape[1]
    F = system.F(starts)
    q = half_squared_norm(F)
    finite = torch.isfinite(q)
    x, F, q = starts[finite], F[finite], q[finite]
    delta = torch.full_like(q, trust_radius)
    done_x, done_q, done_conv = [], [], []
    found = known
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_iterations, desc="fixed points", leave=False, file=sys.stderr)
    for _ in range(max_iterations):
        # 1) retire converged points (merged with each other and with what was found); drop the
        #    others that came within the radius of a point found
        conv = q <= tol_q
        if conv.any():
            cx, cq = x[conv], q[conv]
            keep = _first_close(cx, cq, radius)
            if found.shape[0] > 0:
                keep &= ~(torch.cdist(cx, found) <= radius).any(dim=1)
            if keep.any():
                done_x.append(cx[keep])
                done_q.append(cq[keep])
                done_conv.append(torch.ones(int(keep.sum()), dtype=torch.bool, device=x.device))
                found = torch.cat([found, cx[keep]])
        stay = ~conv
        if found.shape[0] > 0:
            stay &= ~(torch.cdist(x, found) <= radius).any(dim=1)
        x, F, q, delta = x[stay], F[stay], q[stay], delta[stay]
        if x.shape[0] == 0:
            break
        # 2) one dogleg step (and chord steps) for every remaining point
        x, F, q, delta, accept, gnorm = _step(system, x, F, q, delta, tol_q, chord_steps)
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
        done_x.append(x)
        done_q.append(q)
        done_conv.append(q <= tol_q)
    if not done_x:
        return starts.new_zeros(0, D), starts.new_zeros(0), torch.zeros(0, dtype=torch.bool, device=starts.device)
    x, q, conv = torch.cat(done_x), torch.cat(done_q), torch.cat(done_conv)
    if conv.any() and polish_steps > 0:
        x, q = x.clone(), q.clone()
        x[conv], q[conv] = _polish(system, x[conv], q[conv], polish_steps)
    return x, q, conv


def _polish(system: NonlinearSystem, x: torch.Tensor, q: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Undamped Newton steps ``dx = -J^{-1} F``, each kept only where it lowers q."""
    n = _chunk_size(x.shape[1])
    for _ in range(steps):
        F = system.F(x)
        step, info = (torch.cat(t) for t in zip(*(solve(system.jacobian(xs), -Fs)
                                                   for xs, Fs in zip(x.split(n), F.split(n)))))
        ok = (info == 0) & torch.isfinite(step).all(-1)
        x_try = x + torch.where(ok[:, None], step, torch.zeros_like(step))
        q_try = half_squared_norm(system.F(x_try))
        better = ok & (q_try < q)
        if not better.any():
            break
        x = torch.where(better[:, None], x_try, x)
        q = torch.where(better, q_try, q)
    return x, q
