"""Similarity metrics: perfect on identical data, invariant to exactly what they should be,
near the permutation baseline on unrelated data, metric axioms for the shape metrics, clear errors."""

import math

import numpy as np
import pytest
import torch

from rnnscope.analysis.similarity import (
    SimilarityResult,
    cca_similarity,
    compare_activity,
    noise_ceiling,
    procrustes_distance,
    representational_dissimilarity,
    rsa_similarity,
    shape_distance,
)
from rnnscope.analysis.dynamics_comparison import compare_dynamics
from rnnscope.dynamics import simulate
from rnnscope.errors import ConfigError, ShapeError
from rnnscope.models import RateRNN


def _latent_data(seed=0, trials=24, T=20, latent=4, units=15, noise=0.0):
    """Trials of smooth latent trajectories embedded in `units` dimensions (rank `latent`)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((trials, T, latent)).cumsum(1) / math.sqrt(T)
    z += rng.standard_normal((trials, 1, latent))  # trial-specific offsets: conditions differ
    emb = rng.standard_normal((latent, units))
    return z @ emb + noise * rng.standard_normal((trials, T, units))


def _orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def test_identical_data_scores_perfect():
    X = _latent_data()
    assert cca_similarity(X, X, k=4).score == pytest.approx(1.0, abs=1e-10)
    assert procrustes_distance(X, X).score == pytest.approx(0.0, abs=1e-6)
    assert shape_distance(X, X, alpha=0.5).score == pytest.approx(0.0, abs=1e-6)
    for diss in ("correlation", "euclidean"):
        assert rsa_similarity(X, X, dissimilarity=diss).score == pytest.approx(1.0, abs=1e-12)
    r = cca_similarity(X, X, k=4)
    assert r.p_value == pytest.approx(1 / 201) and r.z_score > 5


def test_rotation_keeps_rotation_invariant_metrics_perfect_but_not_correlation_rsa():
    X = _latent_data(units=15)
    Q = _orthogonal(15, 1)
    Y = X @ Q + 3.0  # a rotation plus a translation
    assert cca_similarity(X, Y, k=4).score == pytest.approx(1.0, abs=1e-10)
    assert procrustes_distance(X, Y).score == pytest.approx(0.0, abs=1e-6)
    assert rsa_similarity(X, Y, dissimilarity="euclidean").score == pytest.approx(1.0, abs=1e-12)
    # 1 - correlation across units depends on the unit basis: a rotation changes it
    assert rsa_similarity(X, Y, dissimilarity="correlation").score < 0.99
    # and an overall scale changes none of them
    assert procrustes_distance(X, 5.0 * Y).score == pytest.approx(0.0, abs=1e-6)


def test_invertible_linear_map_is_perfect_for_cca_only():
    X = _latent_data(units=15)  # rank 4: any invertible map keeps the top-4 subspace
    M = np.random.default_rng(2).standard_normal((15, 15)) + 0.5 * np.eye(15)
    assert abs(np.linalg.det(M)) > 1e-3
    Y = X @ M
    assert cca_similarity(X, Y, k=4).score == pytest.approx(1.0, abs=1e-9)
    assert shape_distance(X, Y, alpha=0.0, n_components=4).score == pytest.approx(0.0, abs=1e-6)
    assert procrustes_distance(X, Y).score > 0.05  # Procrustes sees the shear
    assert rsa_similarity(X, Y, dissimilarity="euclidean").score < 0.99  # distances change
    # with full-rank activity and k below the rank, the PCA truncation is not invariant to shears
    Xf = _latent_data(units=15, noise=0.5)
    assert cca_similarity(Xf, Xf @ M, k=4).score < 0.999


def test_alpha_zero_is_the_cca_angle_and_alpha_one_is_procrustes():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((200, 6)), rng.standard_normal((200, 6))
    Y[:, :3] += X[:, :3]
    cca = cca_similarity(X, Y, k=6, n_permutations=0).score
    assert shape_distance(X, Y, alpha=0.0, n_permutations=0).score == pytest.approx(math.acos(cca), abs=1e-10)
    # Procrustes by hand: centre, unit norm, best rotation
    A, B = X - X.mean(0), Y - Y.mean(0)
    A, B = A / np.linalg.norm(A), B / np.linalg.norm(B)
    u, s, vt = np.linalg.svd(A.T @ B)
    assert procrustes_distance(X, Y, n_permutations=0).score == pytest.approx(math.acos(s.sum()), abs=1e-10)
    assert np.linalg.norm(A @ (u @ vt) - B) == pytest.approx(math.sqrt(2 - 2 * s.sum()), abs=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_shape_metric_axioms_on_random_triples(alpha):
    rng = np.random.default_rng(4)
    d = lambda A, B: shape_distance(A, B, alpha=alpha, n_permutations=0).score  # noqa: E731
    for trial in range(30):
        widths = rng.integers(3, 8, size=3)
        shared = rng.standard_normal((60, 3))
        A, B, C = (shared @ rng.standard_normal((3, w)) * rng.uniform(0, 1.5) + rng.standard_normal((60, w))
                   for w in widths)
        dab, dbc, dac = d(A, B), d(B, C), d(A, C)
        assert d(B, A) == pytest.approx(dab, abs=1e-9)  # symmetry
        assert dac <= dab + dbc + 1e-9  # triangle inequality
        assert 0 <= dab <= math.pi / 2 + 1e-12
        assert d(A, A @ _orthogonal(widths[0], trial)) == pytest.approx(0.0, abs=1e-6)  # identity of equivalents


def test_unrelated_data_scores_at_the_permutation_baseline():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 10, 12))
    Y = rng.standard_normal((30, 10, 9))
    results = [cca_similarity(X, Y, k=5), procrustes_distance(X, Y), rsa_similarity(X, Y),
               rsa_similarity(X, Y, dissimilarity="euclidean", mode="time")]
    for r in results:
        assert r.p_value > 0.05, r
        assert abs(r.score - r.null_mean) < 2.5 * r.null_std, r
    # and related data beats it clearly
    Z = X[..., :9] + 0.5 * rng.standard_normal(Y.shape)
    for r in (cca_similarity(X, Z, k=5), procrustes_distance(X, Z), rsa_similarity(X, Z)):
        assert r.p_value < 0.01 and r.z_score > 3, r


def test_rsa_null_is_the_mantel_test_with_scipy_spearman():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((8, 5, 6))
    Y = X[..., :4] + rng.standard_normal((8, 5, 4))
    r = rsa_similarity(X, Y, n_permutations=5, seed=11)
    p = np.random.default_rng(11).permutation(8)
    assert r.null[0] == pytest.approx(rsa_similarity(X, Y[p], n_permutations=0).score, abs=1e-12)


def test_rdm_values_and_condition_averaging():
    A = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    D = representational_dissimilarity(A, dissimilarity="euclidean")
    assert D[0, 1] == pytest.approx(math.sqrt(2)) and D[0, 2] == pytest.approx(1.0) and D[1, 1] == 0
    C = representational_dissimilarity(A, dissimilarity="correlation")
    assert C[0, 2] == pytest.approx(0.0, abs=1e-12) and C[0, 1] == pytest.approx(1.5)
    X = np.random.default_rng(7).standard_normal((12, 4, 5))
    labels = np.repeat(np.arange(4), 3)
    means = np.stack([X[labels == c].mean(0) for c in range(4)])
    np.testing.assert_allclose(representational_dissimilarity(X, conditions=labels),
                               representational_dissimilarity(means))
    assert representational_dissimilarity(X, mode="time").shape == (4, 12, 12)


def test_noise_ceiling_is_high_for_repeatable_data_and_low_for_noise():
    rng = np.random.default_rng(8)
    signal = rng.standard_normal((6, 10, 20))
    labels = np.repeat(np.arange(6), 10)
    X = signal[labels] + 0.3 * rng.standard_normal((60, 10, 20))
    high = noise_ceiling(X, labels, metric="rsa", n_splits=5)
    low = noise_ceiling(rng.standard_normal((60, 10, 20)), labels, metric="rsa", n_splits=5)
    assert high.mean > 0.9 and abs(low.mean) < 0.4
    assert noise_ceiling(X, labels, metric="procrustes", n_splits=3).mean < 0.3


def test_accepts_tensors_trajectories_and_round_trips(tmp_path):
    model = RateRNN(2, 12, 1, seed=0, g=1.5)
    u = torch.randn(10, 15, 2, generator=torch.Generator().manual_seed(0))
    traj = simulate(model, u, noise=False)
    r = cca_similarity(traj, traj.states.detach().numpy(), k=3, n_permutations=20)
    assert r.score == pytest.approx(1.0, abs=1e-6)
    path = r.save(tmp_path / "r.json")
    back = SimilarityResult.load(path)
    assert back.score == r.score and np.array_equal(back.null, r.null) and back.metric == "cca"
    table = compare_activity(traj, traj.states, n_permutations=10)
    assert set(table) == {"cca", "procrustes", "rsa", "dsa"}


def test_accepts_neural_data_cut_to_the_shortest_trial():
    from rnnscope.data import NeuralData

    X = _latent_data(trials=10, T=12, units=7)
    clean = X.copy()
    lengths = np.full(10, 12)
    lengths[3] = 9
    X[3, 9:] = np.nan  # padding past the end of trial 3
    data = NeuralData.from_arrays(X, dt=20.0, lengths=lengths)
    r = procrustes_distance(data, clean[:, :9] @ _orthogonal(7, 0), n_permutations=5)
    assert r.score == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ShapeError, match="same trials and time bins"):
        procrustes_distance(data, clean)


def test_compare_dynamics_of_a_network_with_itself_and_a_rotated_copy():
    # a 2-bit memory: two decoupled bistable units, padded with 6 leaky units
    N = 8
    J = torch.zeros(N, N, dtype=torch.float64)
    J[0, 0] = J[1, 1] = 2.0
    a = RateRNN.from_weights(J, torch.eye(N, 2, dtype=torch.float64), torch.eye(1, N, dtype=torch.float64),
                             bias=False, tau=10.0, dt=1.0)
    g = torch.Generator().manual_seed(0)
    trials = torch.zeros(16, 40, 2, dtype=torch.float64)
    trials[:, :5] = 2.0 * torch.randn(16, 1, 2, generator=g, dtype=torch.float64)
    c = compare_dynamics(a, a, {"zero": torch.zeros(2)}, trials, n_components=2, n_candidates=128)
    assert c.counts_a["zero"] == {0: 4, 1: 4, 2: 1} and c.same_counts["zero"]
    assert c.point_distance["zero"] == pytest.approx(0.0, abs=1e-6) and c.trajectory_distance < 1e-6
    # a permuted copy (a rotation of state space that maps the network onto an equivalent one)
    perm = torch.tensor([1, 0, *range(2, N)])
    P = torch.eye(N, dtype=torch.float64)[perm]
    b = RateRNN.from_weights(P @ J @ P.T, P @ torch.eye(N, 2, dtype=torch.float64), None, bias=False,
                             tau=10.0, dt=1.0)
    c2 = compare_dynamics(a, b, {"zero": torch.zeros(2)}, trials, n_components=2, n_candidates=128)
    assert c2.same_counts["zero"] and c2.point_distance["zero"] < 1e-3


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda X: cca_similarity(X, X[:5]), ShapeError, "same trials and time bins"),
        (lambda X: cca_similarity(X, X[:, :4]), ShapeError, "same trials and time bins"),
        (lambda X: cca_similarity(X, X[0]), ShapeError, "same kind"),
        (lambda X: procrustes_distance(X, np.where(X > 2, np.nan, X)), ConfigError, "must be finite.*NaN"),
        (lambda X: cca_similarity(X[:1, :3], X[:1, :3], k=3), ShapeError, "at least k \\+ 2 = 5 samples"),
        (lambda X: rsa_similarity(X[:3], X[:3]), ShapeError, "at least 4 conditions"),
        (lambda X: cca_similarity(X, X, k=99), ConfigError,
         "'k' parameter of cca_similarity must be an int >= 1 and <= 6"),
        (lambda X: shape_distance(X, X, alpha=1.5), ConfigError, "'alpha' parameter .* <= 1"),
        (lambda X: cca_similarity(X, X, permute="rows"), ConfigError, "'permute' parameter"),
        (lambda X: cca_similarity(X[0], X[0], permute="trials"), ConfigError, "only for activity of shape"),
        (lambda X: cca_similarity(X, "x"), ShapeError, "Got str instead"),
        (lambda X: procrustes_distance(X, np.zeros_like(X)), ConfigError, "is constant"),
        (lambda X: noise_ceiling(X, np.arange(10)), ShapeError, "at least 2 trials of every condition"),
        (lambda X: compare_activity(X, X, metrics=["cka"]), ConfigError, "'metrics' parameter"),
    ],
)
def test_clear_errors(call, error, pattern):
    X = np.random.default_rng(9).standard_normal((10, 8, 6))
    with pytest.raises(error, match=pattern):
        call(X)
