"""Random networks ``J_ij ~ N(0, g^2 / N)`` (Sompolinsky, Crisanti & Sommers 1988).

``tau dx/dt = -x + J tanh(x)``: for g < 1 the activity decays to the quiescent state x = 0, for
g > 1 it is chaotic with the autocorrelation of :func:`rnnscope.theory.dmft`. The network is an
ordinary :class:`~rnnscope.models.RateRNN` built with :meth:`RateRNN.from_weights`, so
:func:`~rnnscope.dynamics.simulate`, :func:`~rnnscope.analysis.lyapunov_spectrum` and the other
analyses apply unchanged.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_bool, check_float, check_int, check_seed
from .rate_rnn import RateRNN

__all__ = ["random_network"]


def random_network(
    hidden_size: int,
    g: float,
    *,
    seed: int = 0,
    self_coupling: bool = False,
    tau: float = 1.0,
    dt: float = 0.1,
    input_size: int = 0,
    nonlinearity: str = "tanh",
    noise_std: float = 0.0,
    dtype: torch.dtype | None = None,
) -> RateRNN:
    r"""A continuous-time random rate network ``tau dx/dt = -x + J phi(x)``, ``J_ij ~ N(0, g^2 / N)``.

    Time is in units of the membrane time constant: ``tau = 1`` and ``dt = 0.1`` by default, so
    Lyapunov exponents (per unit of the library's time) come out per tau, as in the papers.

    Args:
        hidden_size: N, the number of units (>= 1).
        g: coupling strength (>= 0); the eigenvalues of J fill the disk of radius g, and the network
            is chaotic for g > 1 (N -> infinity).
        seed: seed of J (a private generator; the global RNG is never touched).
        self_coupling: keep the diagonal ``J_ii`` (False: zero diagonal, no autapses, as in the
            Lyapunov reference code; the constraint is kept as RateRNN's ``autapses=False`` mask).
        tau: time constant (1 = time in units of tau).
        dt: Euler step, same units (<= tau).
        input_size: number of input channels; their weights are zero (the network is autonomous).
        nonlinearity: phi, ``"tanh"`` for the classic model (any RateRNN nonlinearity is accepted).
        noise_std: sigma_rec of RateRNN (0: deterministic).
        dtype: parameter dtype (None: torch's default).

    Returns:
        A :class:`~rnnscope.models.RateRNN` without bias, with zero input weights and one readout
        channel, the population-mean rate ``z = (1/N) sum_i phi(x_i)``. Its initial state is 0, a
        fixed point: start simulations from a random state (e.g. ``torch.randn(N, generator=...)``).

    Shape:
        - model.recurrent_matrix(): (hidden_size, hidden_size)
        - inputs to simulate: (batch, time, input_size)

    Example:
        >>> net = random_network(1000, 2.0, seed=0)
        >>> x0 = torch.randn(1, 1000, generator=torch.Generator().manual_seed(1))
        >>> traj = simulate(net, torch.zeros(1, 3000, 0), x0)      # 300 tau
        >>> traj.states[:, 500:].var()                              # ~1.92, dmft(2.0).delta0
    """
    own = "random_network"
    N = check_int(own, "hidden_size", hidden_size, low=1)
    g = check_float(own, "g", g, low=0)
    seed = check_seed(own, "seed", seed)
    self_coupling = check_bool(own, "self_coupling", self_coupling)
    input_size = check_int(own, "input_size", input_size, low=0)
    tau = check_float(own, "tau", tau, low=0, low_inclusive=False)
    dt = check_float(own, "dt", dt, low=0, high=tau, low_inclusive=False)
    dtype = dtype or torch.get_default_dtype()
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(N, N, generator=gen, dtype=torch.float64) * (g / math.sqrt(N))
    if not self_coupling:
        J.fill_diagonal_(0.0)
    return RateRNN.from_weights(
        J.to(dtype),
        torch.zeros(N, input_size, dtype=dtype),
        torch.full((1, N), 1.0 / N, dtype=dtype),
        bias=False,
        tau=tau,
        dt=dt,
        nonlinearity=nonlinearity,
        g=g,
        autapses=self_coupling,
        noise_std=noise_std,
        seed=seed,
        dtype=dtype,
    )
