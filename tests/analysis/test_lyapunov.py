"""Lyapunov spectra: exact on linear networks, invariants and reference values on random networks."""

from __future__ import annotations

import math

import pytest
import torch

from rnnscope.analysis import (
    LyapunovSpectrum,
    kaplan_yorke_dimension,
    largest_exponent_from_trajectories,
    largest_lyapunov_exponent,
    lyapunov_spectrum,
)
from rnnscope.dynamics import simulate
from rnnscope.errors import CheckpointError, ConfigError, RnnscopeError, ShapeError
from rnnscope.models import AbstractRNN, RateRNN

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _real_spectrum_matrix(N: int, lam: torch.Tensor, *, normal: bool, seed: int = 1) -> torch.Tensor:
    """A matrix with the given real eigenvalues: orthogonal (normal) or a generic non-normal basis."""
    g = _gen(seed)
    if normal:
        V = torch.linalg.qr(torch.randn(N, N, generator=g, dtype=F64))[0]
        return V @ torch.diag(lam) @ V.T
    V = torch.randn(N, N, generator=g, dtype=F64) + 2 * torch.eye(N, dtype=F64)
    return V @ torch.diag(lam) @ torch.linalg.inv(V)


def _sorted_log_moduli(M: torch.Tensor) -> torch.Tensor:
    return torch.sort(torch.log(torch.linalg.eigvals(M).abs()), descending=True).values


def _random_network(N: int, g: float, seed: int = 0, **kw) -> RateRNN:
    """``J_ij ~ N(0, g^2/N)`` with zero diagonal, tanh, tau = 1 ms, dt = 0.1 ms (the setting of docs/references.md)."""
    kw.setdefault("tau", 1.0)
    kw.setdefault("dt", 0.1)
    return RateRNN(0, N, 0, g=g, autapses=False, bias=False, seed=seed, dtype=F64, **kw)


class _Wrapped(AbstractRNN):
    """A model that is not a RateRNN (so the generic ``model.jacobian`` path runs), by composition."""

    def __init__(self, inner: RateRNN) -> None:
        super().__init__()
        self.inner = inner
        self.input_size, self.hidden_size, self.output_size = inner.input_size, inner.hidden_size, inner.output_size
        self.time, self.dt = inner.time, inner.dt

    def drive(self, inputs):
        return self.inner.drive(inputs)

    def flow(self, x, drive):
        return self.inner.flow(x, drive)

    def readout(self, x):
        return self.inner.readout(x)

    def jacobian(self, x, inputs=None):
        return self.inner.jacobian(x, inputs)

    def initial_state(self, batch_size):
        return self.inner.initial_state(batch_size)

    def parameter_groups(self):
        return self.inner.parameter_groups()

    @property
    def process_noise_std(self):
        return self.inner.process_noise_std

    @property
    def input_noise_std(self):
        return self.inner.input_noise_std


# ------------------------------------------------------------------------------------ linear networks
@pytest.mark.parametrize("normal", [True, False])
def test_linear_continuous_is_exact_for_the_euler_map(normal):
    N, tau, dt = 8, 1.0, 0.1
    J = _real_spectrum_matrix(N, torch.linspace(-0.9, 0.6, N, dtype=F64), normal=normal)
    model = RateRNN.from_weights(J, nonlinearity="linear", tau=tau, dt=dt, bias=False)
    res = lyapunov_spectrum(model, n_steps=1000, transient_steps=0, basis_transient_steps=2000)
    A = (J - torch.eye(N, dtype=F64)) / tau
    expected = _sorted_log_moduli(torch.eye(N, dtype=F64) + dt * A) / dt
    assert res.exponents.shape == (N,)
    assert torch.all(res.exponents[:-1] >= res.exponents[1:])
    torch.testing.assert_close(res.exponents, expected, rtol=0, atol=1e-10)
    assert res.convergence.max() < 1e-10  # every block gives the same growth rates
    torch.testing.assert_close(res.history[-1], res.exponents, rtol=0, atol=1e-12)
    torch.testing.assert_close(res.per_tau, res.exponents * tau)


def test_linear_continuous_tends_to_real_parts_of_eigenvalues():
    N, dt = 6, 0.01
    J = _real_spectrum_matrix(N, torch.linspace(-0.9, 0.6, N, dtype=F64), normal=False)
    model = RateRNN.from_weights(J, nonlinearity="linear", tau=1.0, dt=dt, bias=False)
    res = lyapunov_spectrum(model, n_steps=2000, transient_steps=0, basis_transient_steps=4000)
    re = torch.sort(torch.linalg.eigvals(J - torch.eye(N, dtype=F64)).real, descending=True).values
    # log(1 + dt a) / dt = a - dt a^2 / 2 + ...: within dt * max a^2 of Re(eig(A))
    torch.testing.assert_close(res.exponents, re, rtol=0, atol=dt * float(re.abs().max()) ** 2)


def test_linear_continuous_with_complex_eigenvalues():
    N, dt = 6, 0.1
    J = 0.8 * torch.randn(N, N, generator=_gen(3), dtype=F64) / math.sqrt(N)
    assert torch.linalg.eigvals(J).imag.abs().max() > 0.1  # the case where only averages converge
    model = RateRNN.from_weights(J, nonlinearity="linear", tau=1.0, dt=dt, bias=False)
    res = lyapunov_spectrum(model, n_steps=4000, transient_steps=0, basis_transient_steps=1000)
    expected = _sorted_log_moduli(torch.eye(N, dtype=F64) + dt * (J - torch.eye(N, dtype=F64))) / dt
    torch.testing.assert_close(res.exponents, expected, rtol=0, atol=2e-3)


def test_linear_discrete_is_exact():
    N = 8
    J = _real_spectrum_matrix(N, torch.linspace(-0.95, 0.9, N, dtype=F64), normal=False, seed=2)
    model = RateRNN.from_weights(J, nonlinearity="linear", time="discrete", dt=1.0, bias=False)
    res = lyapunov_spectrum(model, n_steps=300, transient_steps=0, basis_transient_steps=300)
    torch.testing.assert_close(res.exponents, _sorted_log_moduli(J), rtol=0, atol=1e-10)
    assert res.time == "discrete"
    with pytest.raises(ConfigError, match="per_tau"):
        res.per_tau


def test_inputs_do_not_change_a_linear_spectrum():
    N, I = 8, 3
    J = _real_spectrum_matrix(N, torch.linspace(-0.9, 0.6, N, dtype=F64), normal=False)
    W_in = torch.randn(N, I, generator=_gen(4), dtype=F64)
    model = RateRNN.from_weights(J, W_in, nonlinearity="linear", tau=1.0, dt=0.1, bias=True)
    u = torch.randn(50, I, generator=_gen(5), dtype=F64)  # shorter than the run: cycled
    kw = dict(n_steps=500, transient_steps=10, basis_transient_steps=100)
    free = lyapunov_spectrum(model, **kw)
    driven = lyapunov_spectrum(model, u, **kw)
    batched = lyapunov_spectrum(model, u[None], **kw)
    torch.testing.assert_close(driven.exponents, free.exponents, rtol=0, atol=1e-12)
    torch.testing.assert_close(batched.exponents, driven.exponents, rtol=0, atol=0)


@pytest.mark.parametrize("time", ["continuous", "discrete"])
def test_generic_jacobian_path_matches_the_rate_network_fast_path(time):
    dt = 0.1 if time == "continuous" else 1.0
    g = 1.5 if time == "continuous" else 1.2
    inner = RateRNN(2, 30, 0, tau=1.0, dt=dt, time=time, g=g, seed=3)  # float32: the analysis works on a copy
    u = torch.randn(40, 2, generator=_gen(6))
    kw = dict(n_exponents=5, n_steps=200, transient_steps=50, basis_transient_steps=20)
    fast = lyapunov_spectrum(inner, u, **kw)
    generic = lyapunov_spectrum(_Wrapped(inner), u, **kw)
    torch.testing.assert_close(generic.exponents, fast.exponents, rtol=0, atol=1e-10)
    assert inner.recurrent_weight.dtype == torch.float32  # the model is untouched


# ------------------------------------------------------------------------------------ random networks
def test_sum_of_the_spectrum_is_the_mean_log_determinant():
    N, dt, T = 100, 0.1, 300
    model = _random_network(N, g=2.0)
    x0 = torch.randn(N, generator=_gen(7), dtype=F64)
    res = lyapunov_spectrum(model, n_steps=T, transient_steps=0, basis_transient_steps=0, initial_state=x0)
    torch.set_num_threads(1)  # N = 100 steps are too small for threads (on a busy machine 15x slower with 2)
    states = simulate(model, torch.zeros(1, T, 0, dtype=F64), x0).states[0]
    visited = torch.cat([x0[None], states[:-1]])  # the Jacobian of step t is taken before the step
    with torch.no_grad():
        maps = torch.eye(N, dtype=F64) + dt * model.jacobian(visited)
    logdet = torch.linalg.slogdet(maps).logabsdet
    assert res.sum == pytest.approx(float(logdet.mean()) / dt, abs=1e-9)
    # zero diagonal: mean exponent ~ log(1 - dt/tau) / dt = -1.0536 / tau (docs/references.md: -1.053)
    assert float(res.exponents.mean()) == pytest.approx(math.log(1 - dt) / dt, abs=0.02)


def test_stable_random_network_has_negative_largest_exponent():
    res = largest_lyapunov_exponent(_random_network(200, g=0.5), n_steps=1000, transient_steps=500)
    assert res.exponents.shape == (1,)
    assert res.largest == pytest.approx(0.5 - 1.0, abs=0.12)  # ~ g - 1 per tau (here tau = 1 ms)


def test_chaotic_network_jacobian_and_two_trajectories_agree():
    # N = 300, not 200: at N = 200 some g = 2 networks settle on a limit cycle (largest exponent ~0)
    model = _random_network(300, g=2.0)
    kw = dict(n_steps=4000, transient_steps=500, basis_transient_steps=200, seed=1)
    jac = largest_lyapunov_exponent(model, **kw)
    pair = largest_exponent_from_trajectories(model, **kw)
    assert 0.02 < jac.largest < 0.4  # docs/references.md: +0.10 / tau at N = 1000
    # same trajectory, same initial direction: only the linearisation differs (errors ~ separation)
    assert pair.largest == pytest.approx(jac.largest, rel=1e-3)
    assert jac.convergence[0] < 0.3 * jac.largest


def test_chaotic_spectrum_short():
    # g = 3: at N = 100 most g = 2 networks settle on limit cycles, most g = 3 ones stay chaotic
    N = 100
    model = _random_network(N, g=3.0)
    kw = dict(n_steps=300, transient_steps=300, basis_transient_steps=100, qr_every=10)
    res = lyapunov_spectrum(model, **kw)
    assert res.exponents.shape == (N,) and res.is_full
    assert torch.all(res.exponents[:-1] >= res.exponents[1:])
    assert res.n_positive >= 1
    assert 1.0 < res.kaplan_yorke_dimension < 0.25 * N
    assert float(res.exponents.mean()) == pytest.approx(math.log(1 - 0.1) / 0.1, abs=0.02)
    # the first k basis vectors of a full run follow the same computation as a k-vector run, so every
    # exponent of a partial run is one of the full run's (in a short run not necessarily the k largest)
    top = lyapunov_spectrum(model, n_exponents=10, **kw)
    largest = largest_lyapunov_exponent(model, n_steps=300, transient_steps=300, basis_transient_steps=100,
                                        normalise_every=10)
    for ex in [*top.exponents.tolist(), largest.largest]:
        assert float((res.exponents - ex).abs().min()) < 1e-10


@pytest.mark.slow
def test_chaotic_spectrum_reference_n400():
    N = 400
    res = lyapunov_spectrum(_random_network(N, g=2.0), n_steps=10_000, transient_steps=2000, qr_every=10)
    assert 3 <= res.n_positive <= 10  # docs/references.md: about 6
    assert 0.015 * N < res.kaplan_yorke_dimension < 0.05 * N  # ~3% of N


def test_qr_every_gives_the_same_exponents():
    model = _random_network(50, g=2.0)
    kw = dict(n_steps=200, transient_steps=100, basis_transient_steps=0)
    every = lyapunov_spectrum(model, **kw)
    sparse = lyapunov_spectrum(model, qr_every=10, **kw)
    torch.testing.assert_close(sparse.exponents, every.exponents, rtol=0, atol=1e-10)


def test_diverging_state_is_reported():
    model = RateRNN.from_weights(3.0 * torch.eye(4, dtype=F64), nonlinearity="linear", time="discrete",
                                 dt=1.0, bias=False)
    with pytest.raises(RnnscopeError, match="diverges"):
        largest_lyapunov_exponent(model, n_steps=1000, transient_steps=0)


def test_progress_bar_runs():
    res = largest_lyapunov_exponent(_random_network(20, g=0.5), n_steps=50, transient_steps=10, progress=True)
    assert math.isfinite(res.largest)


# ------------------------------------------------------------------------------------ Kaplan-Yorke
@pytest.mark.parametrize(
    ("spectrum", "expected"),
    [
        ([1.0, -0.5, -2.0], 2.25),
        ([-2.0, 1.0, -0.5], 2.25),  # sorted first
        ([1.0, -2.0], 1.5),
        ([0.0, -1.0], 1.0),  # a limit cycle
        ([-0.1, -1.0], 0.0),  # a stable fixed point
        ([0.5, 0.2], 2.0),  # expanding in every direction: the full dimension
        ([0.3, -0.1, -math.inf], 2.0),  # a collapsed direction (e.g. a silent ReLU unit)
    ],
)
def test_kaplan_yorke_dimension(spectrum, expected):
    assert kaplan_yorke_dimension(spectrum) == pytest.approx(expected)
    assert kaplan_yorke_dimension(torch.tensor(spectrum)) == pytest.approx(expected)


def test_kaplan_yorke_of_a_partial_spectrum_is_undetermined():
    common = dict(convergence=torch.zeros(2, dtype=F64), history=torch.zeros(1, 2, dtype=F64),
                  history_steps=torch.ones(1, dtype=torch.int64), n_steps=1, dt=0.1, time="continuous",
                  hidden_size=10, tau=1.0)
    assert math.isnan(LyapunovSpectrum(exponents=torch.tensor([0.5, 0.1], dtype=F64), **common).kaplan_yorke_dimension)
    assert LyapunovSpectrum(exponents=torch.tensor([0.5, -1.0], dtype=F64), **common).kaplan_yorke_dimension == 1.5


def test_kaplan_yorke_rejects_bad_input():
    with pytest.raises(ShapeError, match="1-D"):
        kaplan_yorke_dimension(torch.zeros(2, 2))
    with pytest.raises(ConfigError, match="NaN"):
        kaplan_yorke_dimension([0.1, math.nan])


# ------------------------------------------------------------------------------------ validation, saving
def test_invalid_arguments_raise_clear_errors():
    model = RateRNN(2, 400, 0, seed=0)
    msg = "The 'n_exponents' parameter of lyapunov_spectrum must be an int >= 1 and <= 400. Got 0 instead."
    with pytest.raises(ConfigError) as info:
        lyapunov_spectrum(model, n_exponents=0)
    assert str(info.value) == msg
    small = RateRNN(2, 5, 0, seed=0)
    with pytest.raises(ConfigError, match="'n_exponents' parameter of lyapunov_spectrum .* Got 6"):
        lyapunov_spectrum(small, n_exponents=6)
    with pytest.raises(ConfigError, match="'n_steps'"):
        lyapunov_spectrum(small, n_steps=0)
    with pytest.raises(ConfigError, match="'qr_every'"):
        lyapunov_spectrum(small, qr_every=0)
    with pytest.raises(ConfigError, match="'dtype'"):
        lyapunov_spectrum(small, dtype=torch.float16)
    with pytest.raises(ConfigError, match="'progress'"):
        lyapunov_spectrum(small, progress="yes")
    with pytest.raises(ConfigError, match="'model' parameter of lyapunov_spectrum must be an rnnscope AbstractRNN"):
        lyapunov_spectrum(torch.nn.Linear(2, 2))
    with pytest.raises(ShapeError, match=r"'inputs' parameter .* \(time, 2\)"):
        lyapunov_spectrum(small, torch.zeros(10, 3))
    with pytest.raises(ShapeError, match="'inputs'"):
        lyapunov_spectrum(small, torch.zeros(2, 10, 2))  # one input sequence only
    with pytest.raises(ShapeError, match=r"'initial_state' parameter .* \(5,\)"):
        lyapunov_spectrum(small, initial_state=torch.zeros(4))
    with pytest.raises(ConfigError, match="'separation' parameter of largest_exponent_from_trajectories"):
        largest_exponent_from_trajectories(small, separation=0.0)
    with pytest.raises(ConfigError, match="'normalise_every' parameter of largest_lyapunov_exponent"):
        largest_lyapunov_exponent(small, normalise_every=-1)


def test_save_load_round_trip(tmp_path):
    res = lyapunov_spectrum(_random_network(20, g=1.5), n_exponents=4, n_steps=100, transient_steps=10)
    assert res.history.shape == (20, 4) and res.history_steps[-1] == 100
    path = res.save(tmp_path / "spectrum")
    assert path.name == "spectrum.npz"
    back = LyapunovSpectrum.load(path)
    for name in ("exponents", "convergence", "history", "history_steps"):
        torch.testing.assert_close(getattr(back, name), getattr(res, name), rtol=0, atol=0)
    assert (back.n_steps, back.dt, back.time, back.hidden_size, back.tau) == (100, 0.1, "continuous", 20, 1.0)
    assert back.kaplan_yorke_dimension == res.kaplan_yorke_dimension or math.isnan(res.kaplan_yorke_dimension)
    (tmp_path / "junk.npz").write_bytes(b"not a file")
    with pytest.raises(CheckpointError, match="not a readable LyapunovSpectrum file"):
        LyapunovSpectrum.load(tmp_path / "junk.npz")
    with pytest.raises(CheckpointError, match="No LyapunovSpectrum file"):
        LyapunovSpectrum.load(tmp_path / "missing.npz")
