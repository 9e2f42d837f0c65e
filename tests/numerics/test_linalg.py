"""The small linear-algebra helpers of the numerical core."""

import torch

from rnnscope.numerics import eig, left_eigenvectors, lu_factor, solve, sorted_eig

f64 = torch.float64


def test_eigen_decomposition_survives_lapack_failures(monkeypatch):
    # LAPACK's QR algorithm can fail on exactly structured matrices; the matrix is then rotated
    lapack_eig = torch.linalg.eig
    A = torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(0), dtype=f64)

    def flaky(M):
        if M.ndim == 3 or torch.equal(M, A[1]):
            raise torch.linalg.LinAlgError("failed to converge")
        return lapack_eig(M)

    monkeypatch.setattr(torch.linalg, "eig", flaky)
    w, V = eig(A)
    monkeypatch.undo()
    assert torch.allclose(A.to(torch.complex128) @ V, V * w[:, None, :], atol=1e-10)
    assert torch.allclose(torch.sort(w[1].real).values, torch.sort(torch.linalg.eigvals(A[1]).real).values)


def test_lu_factor_of_large_batches_solves_exactly():
    # above the batched-LU size limit, matrices are factorised one at a time (pytorch#142815)
    gen = torch.Generator().manual_seed(1)
    A = torch.randn(3, 200, 200, generator=gen, dtype=f64) + 20 * torch.eye(200, dtype=f64)
    b = torch.randn(3, 200, generator=gen, dtype=f64)
    x, info = solve(A, b)
    assert (info == 0).all()
    assert torch.allclose((A @ x[..., None])[..., 0], b, atol=1e-10)
    LU, pivots, info = lu_factor(A)
    assert torch.allclose(torch.linalg.lu_solve(LU, pivots, b[..., None])[..., 0], x, atol=1e-12)


def test_sorted_eig_orders_from_the_slowest_mode_and_left_vectors_are_biorthogonal():
    A = torch.diag(torch.tensor([-3.0, 0.5, -1.0], dtype=f64))
    vals, vecs = sorted_eig(A, "continuous")
    assert torch.allclose(vals.real, torch.tensor([0.5, -1.0, -3.0], dtype=f64))
    vals_d, _ = sorted_eig(A, "discrete")
    assert torch.allclose(vals_d.real, torch.tensor([-3.0, -1.0, 0.5], dtype=f64))  # by modulus
    L = left_eigenvectors(vecs)
    assert torch.allclose(L.mH @ vecs, torch.eye(3, dtype=torch.complex128), atol=1e-12)
