"""The small linear-algebra helpers of the numerical core."""

import torch

from rnnscope.numerics import (
    eig,
    left_eigenvectors,
    lu_factor,
    matching_eigenvectors,
    solve,
    sorted_eig,
    sorted_eigvals,
)

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


def test_batched_lu_above_the_race_size_is_exact_with_several_threads():
    # pytorch#142815: with several threads every factorisation of a batch of 256 x 256 matrices came
    # out wrong; lu_factor runs the batched call on one thread and gives the thread count back
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        gen = torch.Generator().manual_seed(2)
        A = torch.randn(6, 256, 256, generator=gen, dtype=f64) + 5 * torch.eye(256, dtype=f64)
        LU, pivots, info = lu_factor(A)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    for k in range(A.shape[0]):
        one, piv, _ = torch.linalg.lu_factor_ex(A[k])
        assert torch.equal(pivots[k], piv)
        assert torch.allclose(LU[k], one, atol=1e-12)
    assert (info == 0).all()


def test_eigenvalues_alone_and_vectors_matched_to_them_later():
    gen = torch.Generator().manual_seed(4)
    A = torch.randn(3, 30, 30, generator=gen, dtype=f64)
    vals, vecs = sorted_eig(A, "continuous")
    alone = sorted_eigvals(A, "continuous")
    assert torch.allclose(alone, vals, atol=1e-12)
    # vectors in the order of eigenvalues given in another (here: reversed) order
    given = alone.flip(-1)
    V = matching_eigenvectors(A, given, "continuous")
    Ac = A.to(torch.complex128)
    assert torch.allclose(Ac @ V, V * given[:, None, :], atol=1e-10)
    assert torch.allclose(V, vecs.flip(-1), atol=1e-12)


def test_matched_eigenvectors_of_a_repeated_eigenvalue_span_its_eigenspace():
    # 27 equal eigenvalues (-1) and 3 others: any order inside the cluster, vectors independent
    gen = torch.Generator().manual_seed(5)
    m = torch.randn(30, 3, generator=gen, dtype=f64)
    A = m @ torch.randn(3, 30, generator=gen, dtype=f64) / 30 - torch.eye(30, dtype=f64)
    given = sorted_eigvals(A, "continuous")
    V = matching_eigenvectors(A, given, "continuous")
    assert torch.allclose(A.to(torch.complex128) @ V, V * given[None, :], atol=1e-10)
    assert torch.linalg.matrix_rank(V) == 30
