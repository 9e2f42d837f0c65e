"""Hopfield networks: Hebbian couplings, binary dynamics (energy, retrieval) and the rate model."""

import pytest
import torch

from rnnscope.analysis import find_fixed_points
from rnnscope.dynamics import simulate
from rnnscope.errors import ConfigError, ShapeError
from rnnscope.models import AbstractRNN, Hopfield, HopfieldRetrieval


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_hebbian_couplings_are_symmetric_with_zero_diagonal():
    xi = torch.tensor([[1.0, -1, 1, 1], [-1.0, -1, 1, -1]])
    net = Hopfield(xi)
    expected = (xi.T @ xi) / 4
    expected.fill_diagonal_(0)
    torch.testing.assert_close(net.J, expected)
    assert isinstance(net, AbstractRNN)
    assert (net.input_size, net.hidden_size, net.output_size) == (0, 4, 2)
    assert net.load == 0.5
    assert all(len(g) == 0 for g in net.parameter_groups().values())
    assert list(net.parameters()) == []


def test_random_patterns_are_seeded_and_binary():
    a, b = Hopfield.random(50, 5, seed=3), Hopfield.random(50, 5, seed=3)
    assert torch.equal(a.patterns, b.patterns)
    assert not torch.equal(a.patterns, Hopfield.random(50, 5, seed=4).patterns)
    assert set(a.patterns.unique().tolist()) == {-1.0, 1.0}


def test_energy_matches_definition():
    net = Hopfield.random(30, 4, seed=0)
    s = torch.where(torch.rand(5, 30, generator=_gen(1)) < 0.5, -1.0, 1.0)
    E = net.energy(s)
    torch.testing.assert_close(E, torch.stack([-0.5 * v @ net.J @ v for v in s]))
    # a stored pattern at low load sits near -N/2 (its own term) plus crosstalk
    assert float(net.energy(net.patterns[0])) < -0.4 * 30


def test_energy_never_increases_under_async_updates():
    net = Hopfield.random(200, 40, seed=0)  # alpha = 0.2: long relaxations from random states
    s = torch.where(torch.rand(64, 200, generator=_gen(2)) < 0.5, -1.0, 1.0)
    final, E = net.update(s, steps=50, generator=_gen(3), return_energy=True)
    assert E.shape == (64, 51)
    assert (E[:, 1:] <= E[:, :-1] + 1e-9).all()
    assert (E[:, -1] < E[:, 0]).all()
    torch.testing.assert_close(E[:, -1], net.energy(final))
    # the end point is a fixed point of sign dynamics: no unit wants to flip
    assert ((final * (final @ net.J)) >= 0).all()
    # one sweep at a time gives the same non-increasing energies
    x = s[:8]
    previous = net.energy(x)
    for _ in range(5):
        x = net.update(x, steps=1, generator=_gen(4))
        now = net.energy(x)
        assert (now <= previous + 1e-9).all()
        previous = now


def _naive_async(J, s, generator, steps):
    """Textbook asynchronous dynamics, one unit at a time, same random orders as the model's.

    The fields are computed with the integer couplings N J so that ties h = 0 are exact."""
    s = s.clone()
    N = s.shape[0]
    J = (J * N).round()
    keys = torch.rand((1, N), generator=generator)[0]
    for _ in range(steps):
        changed = False
        for i in keys.argsort().tolist():
            h = float(J[i] @ s)
            if h != 0 and (h > 0) != (s[i] > 0):
                s[i] = -s[i]
                changed = True
        if not changed:
            break
        keys = torch.rand((1, N), generator=generator)[0]
    return s


@pytest.mark.parametrize("seed", range(4))
def test_event_driven_async_equals_unit_by_unit_updates(seed):
    net = Hopfield.random(60, 12, seed=seed, dtype=torch.float64)
    cue = Hopfield.corrupt(net.patterns[:1], 0.3, generator=_gen(seed))
    fast = net.update(cue, steps=30, generator=_gen(10 + seed))
    slow = _naive_async(net.J, cue[0], _gen(10 + seed), 30)
    torch.testing.assert_close(fast[0], slow)


def test_stored_patterns_are_fixed_points_at_low_load():
    net = Hopfield.random(500, 25, seed=0)  # alpha = 0.05
    for mode in ("async", "sync"):
        res = net.retrieve(net.patterns, mode=mode, generator=_gen(0))
        assert res.converged.all()
        # at alpha = 0.05 a bit is unstable with probability ~ erfc(1/sqrt(2 alpha)) / 2 ~ 4e-6
        assert torch.equal(res.states, net.patterns)
        assert (res.steps == 0).all()
    h = net.patterns @ net.J
    assert ((net.patterns * h) > 0).all()


def test_retrieval_from_corrupted_cues_at_low_load():
    net = Hopfield.random(500, 25, seed=1)
    cues = Hopfield.corrupt(net.patterns, 0.2, generator=_gen(5))
    torch.testing.assert_close(net.overlaps(cues).diagonal(), torch.full((25,), 0.6))
    for mode in ("async", "sync"):
        res = net.retrieve(cues, mode=mode, generator=_gen(6))
        assert isinstance(res, HopfieldRetrieval)
        assert res.overlaps.shape == (25, 25)
        assert (res.overlaps.diagonal() > 0.99).all()
        assert torch.equal(res.retrieved_pattern, torch.arange(25))
        assert res.converged.all() and (res.steps <= 3).all()


def test_record_traces_overlaps_and_energy_after_each_flip():
    net = Hopfield.random(300, 10, seed=2)
    cues = Hopfield.corrupt(net.patterns[:3], 0.3, generator=_gen(7))
    res = net.retrieve(cues, generator=_gen(8), record=True)
    T = res.trace_time.shape[0]
    assert res.trace_overlaps.shape == (T, 3, 10) and res.trace_energy.shape == (T, 3)
    torch.testing.assert_close(res.trace_overlaps[0], net.overlaps(cues))
    torch.testing.assert_close(res.trace_overlaps[-1], res.overlaps)
    torch.testing.assert_close(res.trace_energy[-1], net.energy(res.states))
    assert (res.trace_energy[1:] <= res.trace_energy[:-1] + 1e-9).all()
    assert (res.trace_time[1:] >= res.trace_time[:-1]).all()
    assert float(res.trace_time[-1].max()) <= float(res.steps.max())


def test_corrupt_flips_exactly_the_requested_fraction():
    xi = Hopfield.random(100, 6, seed=0).patterns
    cues = Hopfield.corrupt(xi, 0.25, generator=_gen(0))
    assert ((cues != xi).sum(-1) == 25).all()
    assert torch.equal(Hopfield.corrupt(xi, 0.0), xi)
    torch.testing.assert_close(Hopfield.corrupt(xi, 1.0), -xi)


def test_continuous_model_runs_through_simulate_and_reads_out_overlaps():
    net = Hopfield.random(100, 3, seed=0, beta=4.0, tau=10.0, dt=1.0)
    x0 = 0.3 * Hopfield.corrupt(net.patterns[1], 0.2, generator=_gen(1))
    traj = simulate(net, torch.zeros(1, 200, 0), x0)
    assert traj.outputs.shape == (1, 200, 3)
    m = traj.outputs[0, -1]
    assert float(m[1]) > 0.99 and float(m.abs()[[0, 2]].max()) < 0.2
    # with input drive: a constant current along pattern 2 pulls the state there
    driven = Hopfield(net.patterns, beta=4.0, tau=10.0, dt=1.0, input_drive=True)
    u = 0.5 * net.patterns[2].expand(1, 200, 100)
    assert float(simulate(driven, u, torch.zeros(100)).outputs[0, -1, 2]) > 0.99


def test_analytic_jacobian_matches_autograd():
    net = Hopfield.random(20, 3, seed=0, beta=2.5, tau=7.0, dt=0.5, dtype=torch.float64)
    x = torch.randn(20, generator=_gen(0), dtype=torch.float64)
    auto = torch.autograd.functional.jacobian(lambda v: net.vector_field(v), x)
    torch.testing.assert_close(net.jacobian(x), auto)
    xs = torch.randn(4, 20, generator=_gen(1), dtype=torch.float64)
    assert net.jacobian(xs).shape == (4, 20, 20)


def test_continuous_model_has_stable_fixed_points_at_the_patterns_and_their_negatives():
    net = Hopfield.random(100, 3, seed=0, beta=4.0)
    xi = net.patterns
    g = _gen(0)
    starts = torch.cat([xi, -xi]) + 0.5 * torch.randn(6, 100, generator=g)
    starts = torch.cat([starts, 0.5 * torch.randn(30, 100, generator=g)])
    fp = find_fixed_points(net, initial_states=starts, progress=False)
    stable = fp.states[(fp.n_unstable == 0) & ~fp.is_slow]
    m = net.readout(stable)                                    # (n_stable, 3)
    # x* = k xi with k = tanh(beta k) (1 - 1/N) + crosstalk: k ~ 0.9993 at beta = 4
    for sign in (1.0, -1.0):
        for mu in range(3):
            hit = (sign * m[:, mu] > 0.99) & (m.abs().sum(-1) - m[:, mu].abs() < 0.3)
            assert hit.sum() == 1, (sign, mu, m)
    assert stable.shape[0] == 6
    # the origin is a fixed point with one unstable direction per pattern
    origin = fp.states.norm(dim=-1) < 1e-6
    assert origin.sum() == 1 and int(fp.n_unstable[origin]) == 3


def test_lyapunov_spectrum_at_a_retrieval_state_matches_the_linearisation():
    from rnnscope.analysis import lyapunov_spectrum

    net = Hopfield.random(50, 3, seed=0, beta=4.0, tau=10.0, dt=1.0)
    ls = lyapunov_spectrum(net, n_steps=2000, transient_steps=500, initial_state=0.5 * net.patterns[0])
    x = net.patterns[0].double()
    for _ in range(500):                                        # relax onto the fixed point
        x = x + net.dt * net.vector_field(x)
    euler_map = torch.eye(50, dtype=torch.float64) + net.dt * net.jacobian(x)
    expected = torch.linalg.eigvals(euler_map).abs().log().sort(descending=True).values / net.dt
    torch.testing.assert_close(ls.exponents, expected, atol=2e-3, rtol=0)
    assert float(ls.exponents.max()) < 0


@pytest.mark.parametrize(
    "patterns, exc, match",
    [
        (torch.ones(5), ShapeError, "must be 2-D"),
        (torch.ones(2, 1), ShapeError, "N >= 2"),
        (torch.ones(0, 5), ShapeError, "at least one pattern"),
        (torch.tensor([[1.0, 0.5], [1.0, -1.0]]), ConfigError, r"only \+1 and -1. Got values \[0.5\]"),
        (torch.tensor([[True, False]]), ConfigError, "dtype torch.bool"),
        ("abc", ConfigError, "must be a \\(P, N\\) tensor"),
    ],
)
def test_bad_patterns_are_clear_errors(patterns, exc, match):
    with pytest.raises(exc, match=match):
        Hopfield(patterns)


def test_bad_arguments_are_clear_errors():
    xi = Hopfield.random(10, 2, seed=0).patterns
    with pytest.raises(ConfigError, match="The 'beta' parameter of Hopfield must be a float > 0. Got -1"):
        Hopfield(xi, beta=-1)
    with pytest.raises(ConfigError, match="'dt' parameter of Hopfield must be <= tau"):
        Hopfield(xi, tau=1.0, dt=2.0)
    with pytest.raises(ConfigError, match="'n_units' parameter of Hopfield.random must be an int >= 2"):
        Hopfield.random(1, 1)
    net = Hopfield(xi)
    with pytest.raises(ConfigError, match="'mode' parameter of Hopfield.update must be one of 'async', 'sync'"):
        net.update(xi, mode="parallel")
    with pytest.raises(ConfigError, match=r"'cues' parameter of Hopfield.retrieve must contain only \+1 and -1"):
        net.retrieve(torch.zeros(2, 10))
    with pytest.raises(ShapeError, match=r"must have shape \(\.\.\., 10\)"):
        net.retrieve(torch.ones(2, 9))
    with pytest.raises(ConfigError, match="'record' parameter of Hopfield.retrieve applies to asynchronous"):
        net.retrieve(xi, mode="sync", record=True)
    with pytest.raises(ConfigError, match="'flip_fraction' parameter of Hopfield.corrupt must be a float >= 0"):
        Hopfield.corrupt(xi, 1.5)
    with pytest.raises(ShapeError, match="inputs of Hopfield must have 0 channels"):
        net.vector_field(torch.zeros(10), torch.zeros(3))
