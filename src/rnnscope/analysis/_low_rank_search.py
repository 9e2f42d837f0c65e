"""Parts of the fixed-point search (:mod:`rnnscope.analysis.fixed_points`): the seeds between
attractors, the exact search of a low-rank network in its K-dimensional latent space, and the
eigen-decomposition of its Jacobian from the K x K structure."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..models import AbstractRNN
from ..numerics import NonlinearSystem, half_squared_norm, newton_search, unique_points

__all__: list[str] = []


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
    q = half_squared_norm(model.at_input(u).residual(x))
    return x, q, q <= tol_q
