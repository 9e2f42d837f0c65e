"""Tests of the fixed-point finder against closed forms, the low-rank reduction, and a flip-flop."""

from __future__ import annotations

import math

import pytest
import torch

from rnnscope import RateRNN, simulate, tasks
from rnnscope.analysis import FixedPoints, candidates_from_trajectories, find_fixed_points
from rnnscope.errors import CheckpointError, ConfigError, ShapeError

f64 = torch.float64


def _solve_k(g: float) -> float:
    """Positive root of k = g tanh(k) (g > 1) by bisection."""
    lo, hi = 1e-9, g + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid - g * math.tanh(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _match(found: torch.Tensor, expected: torch.Tensor, atol: float) -> None:
    """Every expected row has exactly one found row within atol, and vice versa."""
    assert found.shape == expected.shape, (found.shape, expected.shape)
    d = torch.cdist(found.to(f64), expected.to(f64))
    assert (d.min(dim=0).values < atol).all(), d.min(dim=0).values
    assert (d.min(dim=1).values < atol).all(), d.min(dim=1).values


# ---------------------------------------------------------------------------------------------- closed forms
def _roll_network(n: int) -> RateRNN:
    # row i of W is -roll(linspace(-1, 1, n), -i) (numpy/torch roll: entries move i places to the left)
    base = torch.linspace(-1, 1, n, dtype=f64)
    W = torch.stack([-torch.roll(base, -i) for i in range(n)])
    return RateRNN.from_weights(W, time="discrete", nonlinearity="tanh", bias=False)


@pytest.mark.parametrize(
    "n, expected",
    [
        (2, [[0.0, 0.0], [-0.9575, 0.9575], [0.9575, -0.9575]]),
        (3, [[0.0, 0.0, 0.0], [-0.9498, 0.4255, 0.8799], [0.9498, -0.4255, -0.8799]]),
    ],
)
def test_tanh_map_closed_form(n, expected):
    # docs/references.md quotes the fixed points of h' = tanh(W h). The model iterates x' = W tanh(x); the two
    # are conjugate through h = tanh(x), so the quoted points are tanh of the states found.
    model = _roll_network(n)
    cand = 3 * (2 * torch.rand(500, n, generator=torch.Generator().manual_seed(0), dtype=f64) - 1)
    fps = find_fixed_points(model, initial_states=cand, outlier_scale=None, progress=False)
    assert len(fps.slow()) == 0
    _match(torch.tanh(fps.states), torch.tensor(expected, dtype=f64), atol=1e-4)
    assert (fps.q < 1e-20).all()
    # the discrete map is classified from eigenvalue moduli: the origin has one (n = 2) or two
    # (n = 3) eigenvalues of modulus > 1
    origin = fps.states.norm(dim=-1).argmin()
    assert int(fps.n_unstable[origin]) == n - 1
    assert torch.allclose(torch.tanh(fps.states) @ _roll_network(n).recurrent_weight.detach().T,
                          fps.states, atol=1e-10)


def test_tanh_map_n4_has_nine_fixed_points():
    model = _roll_network(4)
    cand = 3 * (2 * torch.rand(1000, 4, generator=torch.Generator().manual_seed(0), dtype=f64) - 1)
    fps = find_fixed_points(model, initial_states=cand, outlier_scale=None, progress=False)
    assert len(fps.fixed()) == 9 and len(fps.slow()) == 0
    assert (fps.q < 1e-20).all()
    # the set is symmetric under x -> -x
    _match(-fps.states, fps.states, atol=1e-8)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_rank_one_network(time):
    # J = g v v^T / N, v in {+-1}^N: fixed points x = k v with k = g tanh(k): 0 and +-k*.
    N, g = 40, 2.0
    gen = torch.Generator().manual_seed(1)
    v = torch.where(torch.rand(N, generator=gen) < 0.5, -1.0, 1.0).to(f64)
    model = RateRNN.from_weights(g * torch.outer(v, v) / N, time=time, bias=False, tau=10.0, dt=1.0)
    cand = 2.5 * torch.randn(200, N, generator=gen, dtype=f64)
    fps = find_fixed_points(model, initial_states=cand, progress=False)
    k = _solve_k(g)
    _match(fps.states, torch.stack([torch.zeros(N, dtype=f64), k * v, -k * v]), atol=1e-9)
    assert len(fps.slow()) == 0 and (fps.q < 1e-20).all()
    assert fps.by_n_unstable() == {0: 2, 1: 1}
    origin = fps.states.norm(dim=-1).argmin()
    assert int(fps.n_unstable[origin]) == 1
    # the unstable eigenvalue at the origin: (g - 1) / tau (flow) or g (map)
    top = fps.eigenvalues[origin, 0]
    assert top.real.item() == pytest.approx((g - 1) / 10.0 if time == "continuous" else g, rel=1e-9)
    assert len(fps.stable()) == 2 and len(fps.saddles()) == 1 and len(fps.unstable()) == 0


def test_large_network_with_threads():
    # batched LU on the CPU with several threads corrupts matrices above ~150 (pytorch#142815): the
    # finder must factorise those one by one
    torch.set_num_threads(2)
    N, g = 200, 2.0
    gen = torch.Generator().manual_seed(1)
    v = torch.where(torch.rand(N, generator=gen) < 0.5, -1.0, 1.0).to(f64)
    model = RateRNN.from_weights(g * torch.outer(v, v) / N, bias=False, tau=10.0, dt=1.0)
    fps = find_fixed_points(model, initial_states=2.5 * torch.randn(60, N, generator=gen, dtype=f64),
                            progress=False)
    k = _solve_k(g)
    _match(fps.states, torch.stack([torch.zeros(N, dtype=f64), k * v, -k * v]), atol=1e-9)
    assert fps.by_n_unstable() == {0: 2, 1: 1}


def test_weak_rank_one_network_has_only_the_origin():
    N = 30
    v = torch.ones(N, dtype=f64)
    model = RateRNN.from_weights(0.5 * torch.outer(v, v) / N, bias=False)
    cand = torch.randn(100, N, generator=torch.Generator().manual_seed(0), dtype=f64)
    fps = find_fixed_points(model, initial_states=cand, progress=False)
    assert len(fps) == 1 and fps.by_n_unstable() == {0: 1}
    assert fps.states.abs().max() < 1e-10


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_linear_network(time):
    # x* = (1 - J)^-1 (I u + b); eigenvalues of the flow (J - 1) / tau, of the map J.
    N, tau = 12, 50.0
    gen = torch.Generator().manual_seed(2)
    J = 0.5 * torch.randn(N, N, generator=gen, dtype=f64) / math.sqrt(N)
    I = torch.randn(N, 2, generator=gen, dtype=f64)
    b = torch.randn(N, generator=gen, dtype=f64)
    u = torch.tensor([0.3, -1.0], dtype=f64)
    model = RateRNN.from_weights(J, I, bias=b, nonlinearity="linear", time=time, tau=tau, dt=10.0)
    cand = torch.randn(50, N, generator=gen, dtype=f64)
    fps = find_fixed_points(model, u, cand, progress=False)
    assert len(fps) == 1
    expected = torch.linalg.solve(torch.eye(N, dtype=f64) - J, I @ u + b)
    assert torch.allclose(fps.states[0], expected, atol=1e-10)
    assert torch.equal(fps.inputs[0], u)
    A = (J - torch.eye(N, dtype=f64)) / tau if time == "continuous" else J
    ev = torch.linalg.eigvals(A)
    key = ev.real if time == "continuous" else ev.abs()
    assert torch.allclose(fps.eigenvalues[0].real, ev.real[key.argsort(descending=True)], atol=1e-10)
    assert int(fps.n_unstable[0]) == 0


def test_eigenvectors_are_right_eigenvectors_sorted():
    N = 20
    gen = torch.Generator().manual_seed(3)
    J = 1.5 * torch.randn(N, N, generator=gen, dtype=f64) / math.sqrt(N)
    model = RateRNN.from_weights(J, bias=False, tau=10.0, dt=1.0)
    fps = find_fixed_points(model, initial_states=torch.randn(200, N, generator=gen, dtype=f64), progress=False)
    assert len(fps.fixed()) >= 1
    jac = model.jacobian(fps.states.to(model.recurrent_weight.dtype)).to(torch.complex128)
    V, lam = fps.eigenvectors, fps.eigenvalues
    assert torch.allclose(jac @ V, V * lam[:, None, :], atol=1e-8)
    assert (lam.real[:, :-1] >= lam.real[:, 1:] - 1e-12).all()
    assert torch.allclose(V.norm(dim=-2), torch.ones(len(fps), N, dtype=f64))
    assert torch.equal(fps.n_unstable, (lam.real > 1e-8 * lam.abs().amax(-1, keepdim=True)).sum(-1))


# ---------------------------------------------------------------------------------------------- slow points, outliers
def test_slow_point_is_kept_apart():
    # One unit, tau dx/dt = -x + 2 tanh(x) + 0.6: past the saddle-node bifurcation (b = 0.5328) the left
    # pair of fixed points has vanished; a ghost remains at x = -acosh(sqrt(2)) where |F| has a local
    # minimum of (0.6 - 0.5328) / tau.
    tau = 10.0
    model = RateRNN.from_weights(torch.tensor([[2.0]], dtype=f64), bias=torch.tensor([0.6], dtype=f64),
                                 tau=tau, dt=1.0)
    cand = torch.linspace(-3, 3, 61, dtype=f64)[:, None]
    fps = find_fixed_points(model, initial_states=cand, progress=False)
    assert fps.by_n_unstable() == {0: 1}
    assert len(fps.fixed()) == 1 and len(fps.slow()) == 1
    x_ghost = -math.acosh(math.sqrt(2.0))
    speed = (-x_ghost + 2 * math.tanh(x_ghost) + 0.6) / tau
    slow = fps.slow()
    assert slow.states[0, 0].item() == pytest.approx(x_ghost, abs=1e-4)
    assert slow.q[0].item() == pytest.approx(0.5 * speed**2, rel=1e-6)
    assert bool(slow.is_slow[0]) and fps.stability == ["stable", "slow"]
    # the fixed point comes first, and never mixes with the slow one
    assert not bool(fps.is_slow[0]) and fps.q[0] < 1e-20


def test_outliers_are_dropped():
    # candidates huddle around the origin; one of them runs off to the fixed point at +k
    model = RateRNN.from_weights(torch.tensor([[2.0]], dtype=f64), bias=False)
    cand = torch.cat([1e-3 * torch.randn(99, 1, generator=torch.Generator().manual_seed(0), dtype=f64),
                      torch.tensor([[1.8]], dtype=f64)])
    near = find_fixed_points(model, initial_states=cand, seed_midpoints=False, progress=False)
    assert len(near) == 1 and near.states.abs().max() < 1e-12
    every = find_fixed_points(model, initial_states=cand, outlier_scale=None, progress=False)
    assert len(every) == 2


def test_duplicates_merge_at_tol_unique():
    model = RateRNN.from_weights(torch.tensor([[2.0]], dtype=f64), bias=False)
    cand = torch.linspace(1.5, 3.0, 100, dtype=f64)[:, None]
    fps = find_fixed_points(model, initial_states=cand, progress=False)
    assert len(fps) == 1  # every candidate runs to +k
    # the radius is tol_unique times the RMS norm of the candidates (about 2.3 here): 0 and +-k
    # (1.915 apart) merge into the point of lowest q once tol_unique * 2.3 exceeds 1.915
    cand = torch.linspace(-3.0, 3.0, 101, dtype=f64)[:, None]
    s = float(cand.pow(2).mean().sqrt())
    assert len(find_fixed_points(model, initial_states=cand, progress=False)) == 3
    assert len(find_fixed_points(model, initial_states=cand, tol_unique=1.9 / s, progress=False)) == 3
    assert len(find_fixed_points(model, initial_states=cand, tol_unique=1.95 / s, progress=False)) == 1


# ---------------------------------------------------------------------------------------------- low rank
def _rank_two_network(time: str, seed: int = 1) -> RateRNN:
    N = 40
    gen = torch.Generator().manual_seed(seed)
    n = torch.randn(N, 2, generator=gen, dtype=f64)
    m = 3.0 * n + 0.5 * torch.randn(N, 2, generator=gen, dtype=f64)
    I = torch.randn(N, 1, generator=gen, dtype=f64)
    b = 0.1 * torch.randn(N, generator=gen, dtype=f64)
    return RateRNN.from_low_rank(m, n, I, bias=b, time=time, tau=100.0, dt=20.0)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_low_rank_search_matches_full_search(time):
    model = _rank_two_network(time)
    u = torch.tensor([0.2], dtype=f64)
    gen = torch.Generator().manual_seed(5)
    x0 = 3 * torch.randn(32, model.hidden_size, generator=gen, dtype=f64)
    traj = simulate(model, u.expand(32, 30, 1).contiguous(), x0, noise=False)
    cand = candidates_from_trajectories(traj, 128, noise_std=0.3, seed=0)
    full = find_fixed_points(model, u, cand, low_rank=False, progress=False)
    latent = find_fixed_points(model, u, cand, low_rank=True, progress=False)
    bare = find_fixed_points(model, u, progress=False)  # latent starts only, no candidates
    assert full.by_n_unstable() == {0: 4, 1: 4, 2: 1}
    for other in (latent, bare):
        assert other.by_n_unstable() == full.by_n_unstable()
        _match(other.fixed().states, full.fixed().states, atol=1e-8)
        assert (other.fixed().q < 1e-20).all()
    # the default picks the latent search for a low-rank model
    auto = find_fixed_points(model, u, cand, progress=False)
    _match(auto.fixed().states, latent.fixed().states, atol=1e-12)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_low_rank_spectrum_from_structure_equals_the_general_solver(time):
    """Eigen-decomposition of a low-rank network's Jacobian from its K x K structure (O(N^2 K))."""
    from rnnscope.analysis._low_rank_search import _low_rank_eig
    from rnnscope.numerics import sort_and_normalise as _sort_and_normalise, sorted_eig as _sorted_eig

    model = _rank_two_network(time)
    x = 2 * torch.randn(5, model.hidden_size, generator=torch.Generator().manual_seed(3), dtype=f64)
    vals, vecs = _sort_and_normalise(*_low_rank_eig(model, x), time)
    ref_vals, ref_vecs = _sorted_eig(model.jacobian(x), time)
    torch.testing.assert_close(vals, ref_vals, rtol=0, atol=1e-12)
    jac = model.jacobian(x).to(torch.complex128)
    torch.testing.assert_close(jac @ vecs, vecs * vals[:, None, :], rtol=0, atol=1e-12)  # J v = lambda v
    torch.testing.assert_close(vecs.norm(dim=-2), torch.ones(5, model.hidden_size, dtype=f64), rtol=0, atol=1e-12)
    assert (torch.linalg.matrix_rank(vecs) == model.hidden_size).all()  # a complete basis
    # the K structured modes (the slowest two here) are the general solver's, phase included
    torch.testing.assert_close(vecs[..., :2], ref_vecs[..., :2], rtol=0, atol=1e-9)
    # find_fixed_points classifies with it: same result as with the general solver
    fp = find_fixed_points(model, torch.tensor([0.2], dtype=f64), progress=False)
    ref = _sorted_eig(model.jacobian(fp.states), time)[0]
    torch.testing.assert_close(fp.eigenvalues, ref, rtol=0, atol=1e-12)


def test_low_rank_with_bulk_falls_back_to_full_search():
    N = 40
    gen = torch.Generator().manual_seed(0)
    v = torch.where(torch.rand(N, generator=gen) < 0.5, -1.0, 1.0).to(f64)
    model = RateRNN.from_low_rank(2.0 * v, v, bias=False, bulk_g=0.1, tau=10.0, dt=1.0)
    with pytest.raises(ConfigError, match="low_rank"):
        find_fixed_points(model, initial_states=torch.randn(10, N, dtype=f64), low_rank=True)
    with pytest.raises(ConfigError, match="initial_states"):
        find_fixed_points(model)  # the full search needs candidates
    fps = find_fixed_points(model, initial_states=2 * torch.randn(200, N, generator=gen, dtype=f64),
                            progress=False)
    assert fps.by_n_unstable() == {0: 2, 1: 1}


# ---------------------------------------------------------------------------------------------- a flip-flop by construction
def _block_flipflop(g: float = 2.0, size: int = 8) -> RateRNN:
    """Three independent bistable populations of ``size`` units (J = g / size within a population),
    each driven by one input channel, units shuffled: 27 fixed points, a population's latent
    k in {-k*, 0, k*} each, 8 stable / 12 one-unstable / 6 two-unstable / 1 three-unstable."""
    N = 3 * size
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(0))
    group = torch.arange(N) // size
    group = group[perm]
    same = (group[:, None] == group[None, :]).to(f64)
    I = torch.nn.functional.one_hot(group, 3).to(f64) * 4.0
    W = torch.nn.functional.one_hot(group, 3).to(f64).T
    return RateRNN.from_weights(g * same / size, I, W / size, bias=False, tau=20.0, dt=10.0)


def test_block_flipflop_has_all_27_points():
    model = _block_flipflop()
    task = tasks.make("flipflop")
    batch = task.sample(16, seed=0)
    fps = find_fixed_points(model, initial_states=batch, n_candidates=512, noise_std=0.2, progress=False)
    assert fps.by_n_unstable() == {0: 8, 1: 12, 2: 6, 3: 1}
    assert len(fps.slow()) == 0 and (fps.q < 1e-10).all()
    k = _solve_k(2.0)
    latent = fps.states @ model.output_weight.detach().to(f64).T  # mean state of each population
    expected = torch.where(latent.abs() > 0.5, torch.full_like(latent, k), torch.zeros_like(latent))
    assert torch.allclose(latent.abs(), expected, atol=1e-9)
    # the number of unstable directions is the number of populations at 0
    assert torch.equal(fps.n_unstable, (latent.abs() < 0.5).sum(-1))


def test_midpoint_seeding_finds_the_centre():
    # candidates only near the 8 attractors: the saddles come from the midpoint round
    model = _block_flipflop()
    k = _solve_k(2.0)
    gen = torch.Generator().manual_seed(1)
    corners = torch.tensor([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], dtype=f64) * k
    expand = model.input_weight.detach().to(f64) / 4.0  # (N, 3) population indicators
    cand = (corners @ expand.T).repeat(8, 1) + 0.05 * torch.randn(64, model.hidden_size, generator=gen, dtype=f64)
    without = find_fixed_points(model, initial_states=cand, seed_midpoints=False, progress=False)
    assert without.by_n_unstable() == {0: 8}
    with_mid = find_fixed_points(model, initial_states=cand, progress=False)
    assert with_mid.by_n_unstable() == {0: 8, 1: 12, 2: 6, 3: 1}


@pytest.mark.slow
def test_trained_flipflop_64_units_has_27_fixed_points():
    from rnnscope import Trainer, TrainingConfig

    task = tasks.make("flipflop")
    model = RateRNN(task.input_size, 64, task.output_size, tau=20.0, dt=task.dt, seed=0)
    result = Trainer(model, task, TrainingConfig(steps=1000, learning_rate=1e-2), progress=False).fit()
    assert result.performance >= 0.95
    batch = task.sample(128, seed=1)
    with torch.no_grad():
        states = simulate(model, batch.inputs, noise=False).states
    cand = candidates_from_trajectories(states, 1024, noise_std=0.1, seed=0)
    fps = find_fixed_points(model, initial_states=cand, progress=False)
    assert fps.by_n_unstable() == {0: 8, 1: 12, 2: 6, 3: 1}
    assert len(fps.fixed()) == 27
    assert (fps.fixed().q < 1e-10).all()


# ---------------------------------------------------------------------------------------------- the result object
def _some_points() -> FixedPoints:
    model = RateRNN.from_weights(torch.tensor([[2.0]], dtype=f64), bias=torch.tensor([0.6], dtype=f64),
                                 tau=10.0, dt=1.0)
    return find_fixed_points(model, initial_states=torch.linspace(-3, 3, 61, dtype=f64)[:, None], progress=False)


def test_eigenvectors_are_computed_when_read_and_match_the_eigenvalues(tmp_path):
    # the search classifies from eigenvalues alone; a subset taken before reading computes only its
    # own vectors, and they are those of its eigenvalues, in their order
    N = 12
    gen = torch.Generator().manual_seed(7)
    model = RateRNN.from_weights(2.0 * torch.randn(N, N, generator=gen, dtype=f64) / math.sqrt(N), bias=False,
                                 tau=10.0, dt=1.0)
    fps = find_fixed_points(model, initial_states=2 * torch.randn(300, N, generator=gen, dtype=f64), progress=False)
    assert len(fps.fixed()) >= 3
    part = fps[1:3]
    jac = model.jacobian(part.states).to(torch.complex128)
    V = part.eigenvectors
    assert torch.allclose(jac @ V, V * part.eigenvalues[:, None, :], atol=1e-10)
    assert torch.allclose(fps.eigenvectors[1:3], V, atol=1e-12)
    with pytest.raises(AttributeError, match="immutable"):
        fps.states = fps.states
    back = FixedPoints.load(fps.save(tmp_path / "points"))
    assert torch.equal(back.eigenvectors, fps.eigenvectors)


def test_fixed_points_save_load_roundtrip(tmp_path):
    fps = _some_points()
    path = fps.save(tmp_path / "points")
    assert path.suffix == ".npz"
    back = FixedPoints.load(path)
    for name in ("states", "q", "inputs", "eigenvalues", "eigenvectors", "n_unstable", "is_slow"):
        assert torch.equal(getattr(back, name), getattr(fps, name)), name
    assert back.time == fps.time and back.dt == fps.dt
    import numpy as np

    with np.load(path) as data:  # external scripts read these names
        assert {"states", "q", "inputs", "eigenvalues", "eigenvectors", "n_unstable"} <= set(data.files)
        assert data["eigenvalues"].dtype == np.complex128


def test_fixed_points_selections_and_indexing():
    fps = _some_points()
    assert len(fps) == 2 and len(fps.fixed()) == 1 and len(fps.slow()) == 1
    assert len(fps.stable()) == 1 and len(fps.saddles()) == 0
    one = fps[1]
    assert isinstance(one, FixedPoints) and len(one) == 1 and bool(one.is_slow[0])
    assert len(fps[fps.q < 1.0]) == 2
    assert fps.hidden_size == 1 and fps.input_size == 0
    assert "by_n_unstable" in repr(fps)
    with pytest.raises(ShapeError, match="'q' parameter of FixedPoints"):
        FixedPoints(fps.states, fps.q[:1], fps.inputs, fps.eigenvalues, fps.eigenvectors, fps.n_unstable,
                    fps.is_slow)


def test_load_rejects_other_files(tmp_path):
    import numpy as np

    np.savez(tmp_path / "x.npz", states=np.zeros((1, 2)))
    with pytest.raises(CheckpointError, match="not a FixedPoints file"):
        FixedPoints.load(tmp_path / "x.npz")


# ---------------------------------------------------------------------------------------------- candidates and validation
def test_candidates_from_trajectories():
    states = torch.randn(4, 25, 6, generator=torch.Generator().manual_seed(0))
    a = candidates_from_trajectories(states, 30, seed=3)
    b = candidates_from_trajectories(states, 30, seed=3)
    assert a.shape == (30, 6) and a.dtype == states.dtype and torch.equal(a, b)
    flat = states.reshape(-1, 6)
    assert (a[:, None, :] == flat[None]).all(-1).any(-1).all()  # drawn from the states
    assert len({tuple(r.tolist()) for r in a}) == 30  # without replacement
    noisy = candidates_from_trajectories(states, 2000, noise_std=0.5, seed=1)
    assert noisy.shape == (2000, 6)  # more than there are states: with replacement
    resid = noisy - flat[torch.cdist(noisy, flat).argmin(dim=1)]
    assert 0.35 < float(resid.std()) < 0.55
    with pytest.raises(ShapeError, match="'states' parameter of candidates_from_trajectories"):
        candidates_from_trajectories(torch.zeros(5), 3)
    with pytest.raises(ConfigError, match="'n' parameter"):
        candidates_from_trajectories(states, 0)


def test_validation_messages():
    model = RateRNN(2, 64, 1, seed=0)
    with pytest.raises(ShapeError, match=r"The 'initial_states' parameter of find_fixed_points must have shape "
                                         r"\(n, 64\) or \(batch, time, 64\)\. Got \(3, 10\) instead\."):
        find_fixed_points(model, initial_states=torch.zeros(3, 10))
    with pytest.raises(ShapeError, match=r"The 'inputs' parameter of find_fixed_points must have shape \(2,\)"):
        find_fixed_points(model, torch.zeros(3), initial_states=torch.zeros(3, 64))
    with pytest.raises(ConfigError, match="'tol_q' parameter of find_fixed_points must be a float > 0"):
        find_fixed_points(model, initial_states=torch.zeros(3, 64), tol_q=-1.0)
    with pytest.raises(ConfigError, match="'initial_states' parameter of find_fixed_points"):
        find_fixed_points(model)
    with pytest.raises(ConfigError, match="'low_rank' parameter"):
        find_fixed_points(model, initial_states=torch.zeros(3, 64), low_rank=True)
    with pytest.raises(ConfigError, match="'model' parameter"):
        find_fixed_points("net", initial_states=torch.zeros(3, 64))
    with pytest.raises(ConfigError, match="finite"):
        find_fixed_points(model, initial_states=torch.full((3, 64), math.nan))


def test_float32_model_and_progress_bar(capsys):
    model = RateRNN.from_weights(2.0 * torch.ones(5, 5) / 5, bias=False)
    assert model.recurrent_weight.dtype == torch.float32
    cand = 3 * torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
    fps = find_fixed_points(model, initial_states=cand, progress=True)
    assert fps.states.dtype == f64 and fps.by_n_unstable() == {0: 2, 1: 1}
    assert model.recurrent_weight.dtype == torch.float32  # the model itself is untouched
    assert "fixed points" in capsys.readouterr().err


def test_slow_points_spread_along_the_slow_direction_of_a_linear_network():
    # tau x' = -x + J x with J = diag(0.99, 0, 0): eigenvalues -0.01 (slow, along e1) and -1 (fast)
    from rnnscope.analysis import find_slow_points

    J = torch.diag(torch.tensor([0.99, 0.0, 0.0], dtype=torch.float64))
    model = RateRNN.from_weights(J, nonlinearity="linear", tau=1.0, dt=0.1, bias=False).double()
    gen = torch.Generator().manual_seed(0)
    visited = torch.randn(400, 3, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64)
    slow = find_slow_points(model, None, visited, speed_fraction=0.1, n_candidates=200)
    assert len(slow) >= 10
    with torch.no_grad():  # threshold: a tenth of the median speed of the 200 candidates drawn
        speeds = model.vector_field(visited).norm(dim=1)
        assert float(model.vector_field(slow.states).norm(dim=1).max()) <= 0.1 * 1.3 * float(speeds.median())
    # the points lie on the slow axis (fast coordinates relaxed), spread along it
    assert float(slow.states[:, 1:].abs().max()) < 0.1 * float(slow.states[:, 0].abs().max())
    assert float(slow.states[:, 0].max() - slow.states[:, 0].min()) > 1.0
    assert torch.allclose(slow.eigenvalues.real[:, 0], torch.full((len(slow),), -0.01, dtype=torch.float64))


def test_slow_points_reject_bad_arguments():
    from rnnscope.analysis import find_slow_points

    model = RateRNN(input_size=1, hidden_size=4, output_size=1, seed=0)
    with pytest.raises(ConfigError, match="'speed_fraction' parameter of find_slow_points"):
        find_slow_points(model, None, torch.randn(10, 4), speed_fraction=0)
    with pytest.raises(ShapeError, match="'states' parameter of candidates_from_trajectories"):
        find_slow_points(model, None, torch.randn(10))
