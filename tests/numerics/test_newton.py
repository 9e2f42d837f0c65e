"""The batched trust-region Newton solver of the numerical core."""

import math

import torch

from rnnscope.numerics import NonlinearSystem, newton_search, unique_points

f64 = torch.float64


def _rotated_bistable(N: int, seed: int) -> tuple[NonlinearSystem, float, torch.Tensor]:
    """N bistable coordinates in a rotated frame: ``F(x) = Q^T f(Q x)``, ``f(y) = y - 2 tanh(y)`` per
    coordinate, so the roots are ``Q^T r`` for r in {-k, 0, k}^N (``k = 2 tanh(k)``): 3^N of them.
    Returns the system, k and Q (rows act on row vectors: a root is ``r @ Q``)."""
    Q = torch.linalg.qr(torch.randn(N, N, generator=torch.Generator().manual_seed(seed), dtype=f64))[0]
    system = NonlinearSystem(
        F=lambda x: (x @ Q.T - 2 * torch.tanh(x @ Q.T)) @ Q,
        jacobian=lambda x: Q.T @ torch.diag_embed(1 - 2 / torch.cosh(x @ Q.T) ** 2) @ Q)
    k = 2.0
    for _ in range(100):  # Newton on k - 2 tanh(k)
        k -= (k - 2 * math.tanh(k)) / (1 - 2 / math.cosh(k) ** 2)
    return system, k, Q


def _search(system, starts, known=None, **kw):
    opts = dict(tol_q=1e-12, radius=1e-6, trust_radius=5.0, max_iterations=200, polish_steps=3, progress=False)
    known = starts[:0] if known is None else known
    return newton_search(system, starts, known=known, **{**opts, **kw})


def test_float32_factorisations_find_the_roots_of_float64():
    # 160 unknowns: mixed precision factorises in float32; F stays float64, so the roots and their
    # polished residuals are those of the float64 search
    N = 160
    system, k, Q = _rotated_bistable(N, seed=0)
    gen = torch.Generator().manual_seed(1)
    r = k * (torch.randint(0, 3, (12, N), generator=gen) - 1).to(f64)
    starts = (r + 0.05 * torch.randn(12, N, generator=gen, dtype=f64)) @ Q
    for mixed in (False, True):
        x, q, conv = _search(system, starts, mixed_precision=mixed)
        assert conv.all() and x.shape[0] == 12
        assert (q < 1e-24).all()
        exact = torch.cdist(x, r @ Q, compute_mode="donot_use_mm_for_euclid_dist")
        assert (exact.min(dim=1).values < 1e-11).all()


def test_starts_that_a_known_root_explains_are_not_searched():
    # starts near a known root converge onto it in a few chord steps with its Jacobian: dropped
    # (nothing new to return); the same starts without the known root find it
    system, k, Q = _rotated_bistable(40, seed=2)
    gen = torch.Generator().manual_seed(3)
    root = (k * (torch.randint(0, 3, (1, 40), generator=gen) - 1).to(f64)) @ Q
    near = root + 1e-3 * torch.randn(30, 40, generator=gen, dtype=f64)
    x, q, conv = _search(system, near, known=root)
    assert x.shape[0] == 0
    x, q, conv = _search(system, near)
    x = x[conv]
    assert torch.allclose(x[unique_points(x, q[conv], 1e-6)], root, atol=1e-12)


def test_waves_find_every_root_as_one_batch_does():
    system, k, Q = _rotated_bistable(4, seed=5)  # 81 roots
    grid = torch.tensor([-k, 0.0, k], dtype=f64)
    roots = torch.cartesian_prod(grid, grid, grid, grid) @ Q
    starts = 2.5 * torch.randn(600, 4, generator=torch.Generator().manual_seed(6), dtype=f64)
    for wave in (0, 64):  # one batch; waves of 64 filtered by the roots found
        x, q, conv = _search(system, starts, wave=wave)
        x, q = x[conv], q[conv]
        x = x[unique_points(x, q, 1e-6)]
        assert x.shape[0] == 81
        exact = torch.cdist(roots, x, compute_mode="donot_use_mm_for_euclid_dist")
        assert (exact.min(dim=1).values < 1e-12).all()
