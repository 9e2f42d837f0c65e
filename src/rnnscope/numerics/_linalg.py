"""Small dense linear algebra shared by every analysis: LU factorisations that survive a CPU race,
linear solves, and eigen-decompositions sorted from the slowest mode."""

from __future__ import annotations

import torch

__all__ = ["lu_factor", "solve", "eig", "sorted_eig", "sort_and_normalise", "left_eigenvectors", "sorted_eigvals",
           "matching_eigenvectors"]


# ---------------------------------------------------------------------------------------------- LU
# Above this size, batched LU factorisations on the CPU run with one intra-op thread: with several,
# torch calls LAPACK's getrf from several threads at once, and MKL's row swaps (DLASWP) then corrupt
# the pivots of matrices larger than ~150 -- wrong solutions, or "Pivots given to lu_solve must all
# be ..." errors (pytorch/pytorch#142815; fix proposed in pytorch/pytorch#181570). Seen with torch
# 2.13 and 2 threads: 16 batches of 16 random 256 x 256 matrices, every factorisation wrong with 2
# threads, none with 1. One batched call on one thread is also faster than one call per matrix
# (which an earlier version made): at 256 units 0.8 ms per matrix against 1.3-3 ms, and its factors
# keep LAPACK's column-major layout, so lu_solve does not copy them on every call.
_BATCHED_LU_MAX = 128


def lu_factor(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.linalg.lu_factor_ex`` that avoids the CPU batched-LU race on large matrices.

    Shape: (..., n, n) -> LU (..., n, n), pivots (..., n), info (...)
    """
    n = A.shape[-1]
    threads = torch.get_num_threads()
    if A.ndim == 2 or n <= _BATCHED_LU_MAX or A.device.type != "cpu" or threads == 1:
        return torch.linalg.lu_factor_ex(A)
    torch.set_num_threads(1)
    try:
        return torch.linalg.lu_factor_ex(A)
    finally:
        torch.set_num_threads(threads)


def solve(A: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.solve_ex(A, B)`` for a batch of vectors B (..., n), through :func:`lu_factor`.

    Returns the solutions (non-finite where A is singular) and LAPACK's info (0: success)."""
    LU, pivots, info = lu_factor(A)
    return torch.linalg.lu_solve(LU, pivots, B.unsqueeze(-1)).squeeze(-1), info


# ---------------------------------------------------------------------------------------------- eigen
def eig(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition that survives LAPACK's rare failures to converge.

    Exactly structured matrices (rank one with entries +-c, say) can make the QR algorithm fail;
    such a matrix is rotated by a fixed random orthogonal Q: ``Q^T A Q`` has the same eigenvalues,
    and eigenvectors ``Q^T V``.
    """
    try:
        return torch.linalg.eig(matrices)
    except torch.linalg.LinAlgError:
        pass
    flat = matrices.reshape(-1, *matrices.shape[-2:])
    N = flat.shape[-1]
    gen = torch.Generator().manual_seed(0)
    Q = torch.linalg.qr(torch.randn(N, N, generator=gen, dtype=torch.float64))[0].to(flat)
    vals, vecs = [], []
    for A in flat:
        try:
            w, v = torch.linalg.eig(A)
        except torch.linalg.LinAlgError:
            w, v = torch.linalg.eig(Q.T @ A @ Q)
            v = Q.to(v.dtype) @ v
        vals.append(w)
        vecs.append(v)
    return (torch.stack(vals).reshape(*matrices.shape[:-1]),
            torch.stack(vecs).reshape(*matrices.shape))


def _eigvals(matrices: torch.Tensor) -> torch.Tensor:
    """Eigenvalues, surviving LAPACK's rare failures to converge as :func:`eig` does."""
    try:
        return torch.linalg.eigvals(matrices)
    except torch.linalg.LinAlgError:
        return eig(matrices)[0]


def _order(vals: torch.Tensor, time: str) -> torch.Tensor:
    """The permutation that sorts eigenvalues from the slowest mode (see :func:`sorted_eig`)."""
    key = vals.abs() if time == "discrete" else vals.real
    order = torch.argsort(vals.imag, dim=-1, descending=True, stable=True)
    return order.gather(-1, torch.argsort(key.gather(-1, order), dim=-1, descending=True, stable=True))


def sorted_eigvals(jacobian: torch.Tensor, time: str) -> torch.Tensor:
    """The eigenvalues of :func:`sorted_eig`, in its order, without the eigenvectors (LAPACK's
    geev without vectors: about 2/3 of the time at 256 x 256).

    Shape: (..., N, N) -> (..., N)
    """
    vals = _eigvals(jacobian)
    return vals.gather(-1, _order(vals, time))


def matching_eigenvectors(jacobian: torch.Tensor, eigenvalues: torch.Tensor, time: str) -> torch.Tensor:
    """Unit right eigenvectors (columns, normalised as by :func:`sorted_eig`) of ``jacobian`` in the
    order of ``eigenvalues`` computed before by :func:`sorted_eigvals`.

    A second decomposition, with vectors, gives eigenvalues that agree with the first ones to
    round-off but may sort differently where two differ by less than that; where its sorted
    eigenvalues are not all within ``1e-8 max|lambda|`` of the given ones, each given eigenvalue
    takes the vector of the nearest eigenvalue not taken yet (within a cluster of equal eigenvalues,
    any of its vectors).

    Shape: (..., N, N), (..., N) -> (..., N, N)
    """
    vals, vecs = sorted_eig(jacobian, time)
    flat_given = eigenvalues.reshape(-1, eigenvalues.shape[-1])
    flat_vals, flat_vecs = vals.reshape(flat_given.shape), vecs.reshape(-1, *vecs.shape[-2:])
    scale = flat_given.abs().amax(-1).clamp_min(1e-300)
    off = ((flat_vals - flat_given).abs().amax(-1) > 1e-8 * scale).nonzero().flatten().tolist()
    for k in off:
        cost = (flat_given[k][:, None] - flat_vals[k][None, :]).abs()
        taken = torch.zeros(cost.shape[1], dtype=torch.bool, device=cost.device)
        pick = torch.empty(cost.shape[0], dtype=torch.long, device=cost.device)
        for i in torch.argsort(cost.amin(1)).tolist():  # the surest matches first
            j = int(cost[i].masked_fill(taken, float("inf")).argmin())
            pick[i] = j
            taken[j] = True
        flat_vecs[k] = flat_vecs[k][:, pick]
    return flat_vecs.reshape(vecs.shape)


def sorted_eig(jacobian: torch.Tensor, time: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues sorted from the slowest mode and unit right eigenvectors (columns).

    Slowest first: decreasing real part (continuous) or modulus (discrete); a conjugate pair puts the
    positive imaginary part first. Each eigenvector is scaled to unit norm and rotated so that its
    largest entry is real and positive (a deterministic phase).

    Shape: (..., N, N) -> (..., N), (..., N, N)
    """
    return sort_and_normalise(*eig(jacobian), time)


def sort_and_normalise(vals: torch.Tensor, vecs: torch.Tensor, time: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The ordering and normalisation of :func:`sorted_eig` applied to an eigen-decomposition."""
    order = _order(vals, time)
    vals = vals.gather(-1, order)
    vecs = vecs.gather(-1, order.unsqueeze(-2).expand_as(vecs))
    vecs = vecs / vecs.norm(dim=-2, keepdim=True).clamp_min(1e-300)
    big = vecs.abs().argmax(dim=-2, keepdim=True)
    top = vecs.gather(-2, big)
    vecs = vecs * (top.conj() / top.abs().clamp_min(1e-300))
    return vals, vecs


def left_eigenvectors(right: torch.Tensor) -> torch.Tensor:
    """Left eigenvectors as columns, ``L = (R^{-1})^H`` so that ``L^H R = I``.

    Where R is singular (a repeated eigenvalue whose computed eigenvectors are dependent) the
    pseudo-inverse stands in; biorthogonality then holds only on the span of R.
    """
    LU, pivots, info = lu_factor(right)
    eye = torch.eye(right.shape[-1], dtype=right.dtype, device=right.device)
    inverse = torch.linalg.lu_solve(LU, pivots, eye.expand_as(right))
    bad = (info != 0) | ~torch.isfinite(inverse).all(dim=(-2, -1))
    if bool(bad.any()):
        inverse = torch.where(bad[..., None, None], torch.linalg.pinv(right), inverse)
    return inverse.mH
