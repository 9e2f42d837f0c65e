r"""The reduced two-variable decision circuit of Wong & Wang (2006).

Two selective populations, each summarised by the gating variable ``S_i`` of its NMDA synapses,
compete through self-excitation and effective cross-inhibition. Each receives an external AMPA
current ``I_i`` (background, stimulus and noise), an Ornstein-Uhlenbeck process with time
constant ``tau_noise`` = 2 ms. Time is in ms (the library's convention), currents in nA, rates in
Hz::

    x_1 = J_E S_1 - J_I S_2 + I_1           (total synaptic input, nA; x_2 symmetric)
    r_i = H(x_i) = (a x_i - b) / (1 - exp(-d (a x_i - b)))          (Hz)
    dS_i/dt = -S_i / tau_S + (1 - S_i) gamma r_i / 1000              (per ms)
    tau_noise dI_i/dt = -(I_i - I0 - J_ext mu_i) + eta_i(t) sqrt(tau_noise sigma_noise^2)

The state is ``(S_1, S_2, I_1, I_2)``; the input is the pair of stimulus rates ``(mu_1, mu_2)`` in
Hz, with ``mu_{1,2} = mu0 (1 +- c / 100)`` at coherence ``c`` % (:meth:`WongWang.stimulus`).

Units. ``a`` is in Hz/nA, ``b`` in Hz and ``d`` in s, so ``H`` is a rate in Hz. The paper writes
``dS/dt = -S/tau_S + (1 - S) gamma H`` with time in seconds (tau_S = 0.1 s, gamma = 0.641); with
time in ms the growth term is ``gamma H / 1000`` per ms and ``tau_S = 100`` ms. ``J_ext`` is
0.52 pA/Hz = 0.00052 nA/Hz.

Noise. The OU currents are state variables, so noise enters only them: the model's
``process_noise_std`` is the tensor ``(0, 0, s, s)`` with ``s = sigma_noise sqrt(dt / tau_noise)``,
the Euler-Maruyama step of the equation above (``eta`` unit white noise, as in the paper and its
appendix code). Its stationary std is ``sigma_noise / sqrt(2)`` in continuous time and
``sigma_noise / sqrt(2 - dt / tau_noise)`` for the Euler map (0.0151 nA at dt = 0.5 ms,
sigma_noise = 0.02 nA). The firing rates, the readout, include the noise (they are ``H`` of the
total input, as in the paper), so a decision threshold sees the fluctuating rates.

Without noise the plane ``I = I0 + J_ext mu`` is invariant (the currents sit at their fixed point),
so the flow of ``(S_1, S_2)`` on it is exactly the paper's two-variable system:
:meth:`WongWang.plane` gives its origin and basis for :func:`rnnscope.analysis.flow_field` and
:func:`rnnscope.analysis.nullclines`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .._validation import check_float
from ..errors import ConfigError, ShapeError
from ._base import AbstractRNN

__all__ = ["WongWang"]

_OWN = "WongWang"


def _g(z: torch.Tensor) -> torch.Tensor:
    """``z / (1 - exp(-z))``, continuous through z = 0 (where it is 1).

    A Taylor series for |z| < 0.01 (error below 1e-11) avoids the cancellation in ``1 - exp(-z)``;
    elsewhere the closed form, which for very negative z correctly underflows to 0 (z < -88 in
    float32, i.e. a total input below -1.7 nA with the default H; gradients there are not
    meaningful). ``exp`` rather than ``expm1``: PyTorch splits ``expm1`` over threads even for small
    tensors, which makes the simulation loop several times slower on a busy machine.
    """
    small = z.abs() < 1e-2
    zs = torch.where(small, torch.ones_like(z), z)
    z2 = z * z
    return torch.where(small, 1 + z / 2 + z2 / 12 - z2 * z2 / 720, zs / (1 - torch.exp(-zs)))


def _dg(z: torch.Tensor) -> torch.Tensor:
    """d/dz of ``z / (1 - exp(-z))``."""
    small = z.abs() < 0.1
    pos = z >= 0.1
    zp = torch.where(pos, z, torch.ones_like(z))
    zn = torch.where(z <= -0.1, z, -torch.ones_like(z))
    zs = torch.where(small, z, torch.zeros_like(z))
    z2 = zs * zs
    series = 0.5 + zs / 6 - zs * z2 / 180 + zs * z2 * z2 / 5040
    m = -torch.expm1(-zp)  # 1 - e^{-z}
    big_pos = (m - zp * torch.exp(-zp)) / (m * m)
    n = torch.expm1(zn)  # e^{z} - 1
    big_neg = torch.exp(zn) * (n - zn) / (n * n)
    return torch.where(small, series, torch.where(pos, big_pos, big_neg))


class WongWang(AbstractRNN):
    r"""The reduced Wong & Wang (2006) decision circuit as a model (a vector field plus a readout).

    See the module docstring for the equations and units. Defaults are the paper's reduced-model
    parameters (its Fig. 4 onwards, with the stimulus of ``mu0 = 20`` Hz chosen in
    :meth:`stimulus`).

    Args:
        J_E: self-excitation ``J_N,11 = J_N,22`` in nA.
        J_I: cross-inhibition ``-J_N,12 = -J_N,21`` in nA (a positive number; it enters with a minus).
        I0: background current in nA.
        J_ext: stimulus coupling in nA/Hz (0.52 pA/Hz).
        tau_S: NMDA gating time constant in ms.
        gamma: NMDA saturation factor (dimensionless, per spike).
        a, b, d: the input-output function ``H``: a in Hz/nA, b in Hz, d in s.
        tau_noise: time constant of the OU currents (AMPA) in ms.
        sigma_noise: noise amplitude in nA (0 switches the noise off).
        dt: Euler step in ms.
        dtype, device: of the model's buffers (the initial state).

    Shape:
        - inputs: (batch, time, 2), the stimulus rates ``(mu_1, mu_2)`` in Hz
        - states: (batch, time, 4), ``(S_1, S_2, I_1, I_2)``
        - outputs: (batch, time, 2), the firing rates ``(r_1, r_2)`` in Hz

    Example:
        >>> model = WongWang()
        >>> u = model.stimulus([0.0, 51.2], duration=1000.0)
        >>> rates, states = model(u, generator=torch.Generator().manual_seed(0))
    """

    input_size = 2
    hidden_size = 4
    output_size = 2
    time = "continuous"

    def __init__(
        self,
        *,
        J_E: float = 0.2609,
        J_I: float = 0.0497,
        I0: float = 0.3255,
        J_ext: float = 0.00052,
        tau_S: float = 100.0,
        gamma: float = 0.641,
        a: float = 270.0,
        b: float = 108.0,
        d: float = 0.154,
        tau_noise: float = 2.0,
        sigma_noise: float = 0.02,
        dt: float = 0.5,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        pos = dict(low=0, low_inclusive=False)
        self.J_E = check_float(_OWN, "J_E", J_E, low=0)
        self.J_I = check_float(_OWN, "J_I", J_I, low=0)
        self.I0 = check_float(_OWN, "I0", I0)
        self.J_ext = check_float(_OWN, "J_ext", J_ext, low=0)
        self.tau_S = check_float(_OWN, "tau_S", tau_S, **pos)
        self.gamma = check_float(_OWN, "gamma", gamma, low=0)
        self.a = check_float(_OWN, "a", a, **pos)
        self.b = check_float(_OWN, "b", b)
        self.d = check_float(_OWN, "d", d, **pos)
        self.tau_noise = check_float(_OWN, "tau_noise", tau_noise, **pos)
        self.sigma_noise = check_float(_OWN, "sigma_noise", sigma_noise, low=0)
        self.dt = check_float(_OWN, "dt", dt, **pos)
        if self.dt > self.tau_noise:
            raise ConfigError(f"The 'dt' parameter of {_OWN} must be <= tau_noise ({self.tau_noise:g} ms), or the "
                              f"Euler step of the noise currents is unstable. Got {self.dt:g} instead.")
        # a buffer carries the model's dtype and device (model.to(...) moves it)
        self.register_buffer("_like", torch.zeros((), dtype=dtype or torch.get_default_dtype(), device=device))

    # ------------------------------------------------------------------ parameters and noise
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """No trainable tensors: the circuit's parameters are physical constants (fit them with
        :func:`rnnscope.analysis.fit_wong_wang`)."""
        return {}

    @property
    def process_noise_std(self) -> torch.Tensor:
        """Per-step noise std of ``(S_1, S_2, I_1, I_2)``: ``(0, 0, s, s)``,
        ``s = sigma_noise sqrt(dt / tau_noise)`` (Euler-Maruyama). Shape: (4,)."""
        s = self.sigma_noise * math.sqrt(self.dt / self.tau_noise)
        return torch.tensor([0.0, 0.0, s, s], dtype=self._like.dtype, device=self._like.device)

    @property
    def input_noise_std(self) -> float:
        return 0.0

    @property
    def noise_current_std(self) -> tuple[float, float]:
        """Stationary std of each noise current in nA: (continuous time ``sigma_noise / sqrt(2)``,
        the Euler map at ``dt``: ``sigma_noise / sqrt(2 - dt / tau_noise)``)."""
        return (self.sigma_noise / math.sqrt(2.0), self.sigma_noise / math.sqrt(2.0 - self.dt / self.tau_noise))

    # ------------------------------------------------------------------ the vector field
    def H(self, x: torch.Tensor) -> torch.Tensor:
        """The input-output function: total input (nA) to rate (Hz). Shape preserved."""
        return _g(self.d * (self.a * x - self.b)) / self.d

    def H_prime(self, x: torch.Tensor) -> torch.Tensor:
        """dH/dx in Hz/nA. Shape preserved."""
        return self.a * _dg(self.d * (self.a * x - self.b))

    def synaptic_input(self, x: torch.Tensor) -> torch.Tensor:
        """Total input ``x_i`` (nA) of each population. Shape: (..., 4) -> (..., 2)."""
        S = x[..., :2]
        return self.J_E * S - self.J_I * S.flip(-1) + x[..., 2:]

    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(0, 0, I0 + J_ext mu_1, I0 + J_ext mu_2)``: the mean the OU currents relax to.

        Shape:
            - inputs: (..., 2), stimulus rates in Hz
            - returns: (..., 4), nA
        """
        cur = self.I0 + self.J_ext * inputs
        return torch.cat([torch.zeros_like(cur), cur], dim=-1)

    def flow(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """``(dS_1/dt, dS_2/dt, dI_1/dt, dI_2/dt)`` per ms. Shape: (..., 4), (..., 4) -> (..., 4)."""
        S = x[..., :2]
        r = self.H(self.synaptic_input(x))
        dS = -S / self.tau_S + (1 - S) * (self.gamma / 1000.0) * r
        dI = (drive[..., 2:] - x[..., 2:]) / self.tau_noise
        return torch.cat([dS, dI], dim=-1)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """Firing rates ``r_i = H(x_i)`` in Hz (noise included). Shape: (..., 4) -> (..., 2)."""
        return self.H(self.synaptic_input(x))

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(x)

    def flow_jacobian(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """Analytic Jacobian of the flow (independent of the drive). Shape: (..., 4) -> (..., 4, 4)."""
        S1, S2 = x[..., 0], x[..., 1]
        xi = self.synaptic_input(x)
        r, dr = self.H(xi), self.H_prime(xi)
        g = self.gamma / 1000.0
        J = x.new_zeros(*x.shape[:-1], 4, 4)
        for i, (Si, Sj) in enumerate(((S1, S2), (S2, S1))):
            gain = (1 - Si) * g * dr[..., i]  # d(dS_i/dt) / dx_i
            J[..., i, i] = -1.0 / self.tau_S - g * r[..., i] + gain * self.J_E
            J[..., i, 1 - i] = -gain * self.J_I
            J[..., i, 2 + i] = gain
        J[..., 2, 2] = -1.0 / self.tau_noise
        J[..., 3, 3] = -1.0 / self.tau_noise
        return J

    # ------------------------------------------------------------------ states and stimuli
    def states_at(self, S: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Full states with gating ``S`` and the currents at their noise-free value for ``inputs``.

        Shape:
            - S: (..., 2); inputs: (2,) or (..., 2) or None (no stimulus)
            - returns: (..., 4)
        """
        S = torch.as_tensor(S, dtype=self._like.dtype, device=self._like.device)
        if S.ndim < 1 or S.shape[-1] != 2:
            raise ShapeError(f"The 'S' parameter of {_OWN}.states_at must have shape (..., 2). "
                             f"Got {tuple(S.shape)} instead.")
        u = self._inputs("states_at", inputs)
        cur = (self.I0 + self.J_ext * u).expand(*S.shape[:-1], 2)
        return torch.cat([S, cur], dim=-1)

    def plane(self, inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Origin and basis of the ``(S_1, S_2)`` plane at the input ``inputs``, for
        :func:`rnnscope.analysis.flow_field`: the currents at their noise-free value (an invariant plane
        of the noise-free flow, so the in-plane field is exactly the two-variable system).

        Shape: origin (4,), basis (2, 4), float64.
        """
        origin = self.states_at(torch.zeros(2), inputs).to(torch.float64)
        basis = torch.eye(4, dtype=torch.float64)[:2]
        return origin, basis

    def rest_state(self, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """The symmetric low-activity fixed point (noise free) for a symmetric input (default none).

        On the diagonal ``S_1 = S_2 = S`` the fixed points are the roots of
        ``-S / tau_S + (1 - S) gamma H((J_E - J_I) S + I) / 1000``; this is the smallest one (found by
        a scan and bisection in float64). Shape: (4,).
        """
        u = self._inputs("rest_state", inputs).to(torch.float64)
        if float(u[0]) != float(u[1]):
            raise ConfigError(f"The 'inputs' parameter of {_OWN}.rest_state must be symmetric (mu_1 = mu_2) for a "
                              f"symmetric state. Got {u.tolist()} instead.")
        cur = self.I0 + self.J_ext * float(u[0])

        def f(S: np.ndarray) -> np.ndarray:
            t = torch.as_tensor(S, dtype=torch.float64)
            rate = self.H((self.J_E - self.J_I) * t + cur)
            return (-t / self.tau_S + (1 - t) * (self.gamma / 1000.0) * rate).numpy()

        grid = np.linspace(0.0, 1.0, 2001)
        vals = f(grid)
        sign = np.nonzero(np.signbit(vals[1:]) != np.signbit(vals[:-1]))[0]
        if sign.size == 0:  # pragma: no cover - f(0) > 0 and f(1) < 0 always bracket a root
            raise ConfigError(f"{_OWN}.rest_state found no symmetric fixed point for these parameters.")
        lo, hi = grid[sign[0]], grid[sign[0] + 1]
        flo = vals[sign[0]]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            fm = f(np.array([mid]))[0]
            if np.signbit(fm) == np.signbit(flo):
                lo, flo = mid, fm
            else:
                hi = mid
        S = 0.5 * (lo + hi)
        return torch.tensor([S, S, cur, cur], dtype=self._like.dtype, device=self._like.device)

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The resting state without stimulus (:meth:`rest_state`) for every trial. Shape: (batch, 4)."""
        return self.rest_state().expand(batch_size, 4).clone()

    def stimulus(
        self,
        coherence: float | Sequence[float] | torch.Tensor,
        *,
        mu0: float = 20.0,
        duration: float = 1000.0,
        onset: float = 0.0,
    ) -> torch.Tensor:
        """Inputs of random-dot trials: stimulus rates ``mu_{1,2} = mu0 (1 +- c / 100)`` in Hz from
        ``onset`` to the end of the trial, zero before.

        ``inputs[:, t]`` drives the step from ``t dt`` to ``(t + 1) dt``; the stimulus is on for
        ``t >= round(onset / dt)``.

        Args:
            coherence: coherence in % (positive favours population 1), one value or one per trial,
                each in [-100, 100].
            mu0: stimulus rate at zero coherence in Hz.
            duration: trial length in ms (``round(duration / dt)`` steps).
            onset: stimulus onset in ms, in [0, duration).

        Returns:
            Inputs of shape (batch, time, 2); batch 1 for a single coherence.
        """
        own = f"{_OWN}.stimulus"
        c = torch.as_tensor(coherence, dtype=torch.float64)
        if c.ndim > 1 or c.numel() == 0 or not torch.isfinite(c).all() or bool((c.abs() > 100).any()):
            raise ConfigError(f"The 'coherence' parameter of {own} must be a number or a 1-D sequence of numbers in "
                              f"[-100, 100] (percent). Got {coherence!r} instead.")
        mu0 = check_float(own, "mu0", mu0, low=0)
        duration = check_float(own, "duration", duration, low=self.dt)
        onset = check_float(own, "onset", onset, low=0, high=duration, high_inclusive=False)
        c = c.reshape(-1)
        T, t_on = int(round(duration / self.dt)), int(round(onset / self.dt))
        mu = mu0 * torch.stack([1 + c / 100, 1 - c / 100], dim=-1)  # (batch, 2)
        u = torch.zeros(c.shape[0], T, 2, dtype=torch.float64)
        u[:, t_on:] = mu[:, None, :]
        return u.to(dtype=self._like.dtype, device=self._like.device)

    def _inputs(self, method: str, inputs) -> torch.Tensor:
        if inputs is None:
            return torch.zeros(2, dtype=self._like.dtype, device=self._like.device)
        u = torch.as_tensor(inputs, dtype=self._like.dtype, device=self._like.device)
        if u.ndim < 1 or u.shape[-1] != 2 or not torch.isfinite(u).all():
            raise ShapeError(f"The 'inputs' parameter of {_OWN}.{method} must be finite stimulus rates of shape "
                             f"(..., 2) (Hz). Got {tuple(u.shape)} instead.")
        return u

    def __repr__(self) -> str:
        return (f"WongWang(J_E={self.J_E:g}, J_I={self.J_I:g}, I0={self.I0:g}, J_ext={self.J_ext:g}, "
                f"sigma_noise={self.sigma_noise:g}, dt={self.dt:g})")
