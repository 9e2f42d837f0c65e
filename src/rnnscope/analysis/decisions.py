"""Choices and reaction times of two-alternative decision models: psychometric and chronometric
curves, a Weibull fit, and simulation-based fitting of the Wong & Wang (2006) circuit to behaviour.

A trial's decision is the first time, from stimulus onset, that either of the two output rates
reaches a threshold (15 Hz for Wong & Wang); the choice is the population that is higher then, the
reaction time (RT) the time from onset. Trials that never reach it within the trial are undecided:
they count in neither P(choice 1) nor the mean RT (so both depend on the trial length through that
censoring; :attr:`DecisionCurves.fraction_decided` reports it).

:func:`fit_wong_wang` is a method of simulated moments: it matches P(choice 1) and the mean RT at
each coherence, weighted by their sampling variances (of the data and of the simulation), and
re-uses the same noise draws for every parameter value (common random numbers), so that the
objective changes smoothly with the parameters. Its standard errors are the Gauss-Newton
(sandwich) ones, ``(G^T G)^{-1}`` with ``G`` the Jacobian of the standardised moment residuals: the
asymptotic covariance of a method-of-simulated-moments estimate with this weighting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_float, check_int, check_seed
from ..dynamics import simulate
from ..errors import ConfigError, ShapeError
from ..models.wong_wang import WongWang

__all__ = [
    "DecisionCurves",
    "WeibullFit",
    "WongWangFit",
    "threshold_decisions",
    "psychometric",
    "fit_weibull",
    "fit_wong_wang",
    "FITTABLE_PARAMETERS",
]

#: Parameters :func:`fit_wong_wang` can fit: the model's constructor arguments and the stimulus ``mu0``.
FITTABLE_PARAMETERS = ("J_E", "J_I", "I0", "J_ext", "gamma", "tau_S", "sigma_noise", "mu0")


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class DecisionCurves:
    """Choices and reaction times of many trials per coherence, and the curves they give.

    Attributes:
        coherences: coherence of each condition in %.
        choices: 1 or 2 for the population that reached the threshold first, 0 if none did.
        reaction_times: time from stimulus onset to the threshold crossing in ms (NaN if undecided).
        threshold: the rate threshold in Hz.
        mu0: stimulus rate at zero coherence in Hz.
        onset: stimulus onset in ms from trial start.
        duration: trial length in ms (the response window is ``duration - onset``).
        dt: time step in ms.

    Shape:
        - coherences: (conditions,); choices, reaction_times: (conditions, trials)
    """

    coherences: torch.Tensor
    choices: torch.Tensor
    reaction_times: torch.Tensor
    threshold: float = 15.0
    mu0: float = 20.0
    onset: float = 100.0
    duration: float = 1000.0
    dt: float = 0.5

    def __post_init__(self) -> None:
        own = "DecisionCurves"
        if self.coherences.ndim != 1:
            raise ShapeError(f"The 'coherences' parameter of {own} must have shape (conditions,). "
                             f"Got {tuple(self.coherences.shape)} instead.")
        C = self.coherences.shape[0]
        for name in ("choices", "reaction_times"):
            t = getattr(self, name)
            if t.ndim != 2 or t.shape[0] != C:
                raise ShapeError(f"The {name!r} parameter of {own} must have shape ({C}, trials). "
                                 f"Got {tuple(t.shape)} instead.")
        if self.choices.shape != self.reaction_times.shape:
            raise ShapeError(f"The 'choices' and 'reaction_times' parameters of {own} must have the same shape. "
                             f"Got {tuple(self.choices.shape)} and {tuple(self.reaction_times.shape)} instead.")
        bad = ~((self.choices == 0) | (self.choices == 1) | (self.choices == 2))
        if bool(bad.any()):
            raise ConfigError(f"The 'choices' parameter of {own} must hold 1, 2 (the choice) or 0 (undecided). "
                              f"Got {sorted(set(self.choices[bad].tolist()))[:5]} instead.")
        if bool(((self.choices == 0) != torch.isnan(self.reaction_times)).any()):
            raise ConfigError(f"The 'reaction_times' parameter of {own} must be NaN exactly where the choice is 0 "
                              f"(undecided).")

    @property
    def n_trials(self) -> int:
        """Trials per coherence."""
        return int(self.choices.shape[1])

    @property
    def decided(self) -> torch.Tensor:
        """Trials that reached the threshold. Shape: (conditions, trials)."""
        return self.choices > 0

    @property
    def n_decided(self) -> torch.Tensor:
        """Decided trials per coherence. Shape: (conditions,)."""
        return self.decided.sum(1)

    @property
    def fraction_decided(self) -> torch.Tensor:
        """Fraction of trials that reached the threshold, per coherence. Shape: (conditions,)."""
        return self.n_decided.to(torch.float64) / self.n_trials

    @property
    def p_choice1(self) -> torch.Tensor:
        """P(choice 1) among decided trials, per coherence (NaN without decided trials). Shape: (conditions,)."""
        k = (self.choices == 1).sum(1).to(torch.float64)
        return k / self.n_decided.to(torch.float64)

    @property
    def p_choice1_se(self) -> torch.Tensor:
        """Binomial standard error of :attr:`p_choice1`, ``sqrt(p (1 - p) / n)``. Shape: (conditions,)."""
        p = self.p_choice1
        return (p * (1 - p) / self.n_decided.to(torch.float64)).sqrt()

    @property
    def mean_rt(self) -> torch.Tensor:
        """Mean reaction time of decided trials in ms, per coherence. Shape: (conditions,)."""
        return torch.nanmean(self.reaction_times, dim=1)

    @property
    def rt_se(self) -> torch.Tensor:
        """Standard error of :attr:`mean_rt` in ms. Shape: (conditions,)."""
        n = self.n_decided.to(torch.float64)
        dev = torch.where(self.decided, self.reaction_times - self.mean_rt[:, None], torch.zeros_like(self.reaction_times))
        var = dev.pow(2).sum(1) / (n - 1).clamp_min(1)
        return (var / n).sqrt()

    def weibull(self) -> WeibullFit:
        """The Weibull fit of the psychometric curve (:func:`fit_weibull`)."""
        return fit_weibull(self)

    def summary(self) -> list[dict[str, float]]:
        """One row per coherence: coherence, P(choice 1) and its SE, mean RT and its SE (s), fraction decided."""
        rows = []
        for i, c in enumerate(self.coherences.tolist()):
            rows.append({"coherence": c, "p_choice1": float(self.p_choice1[i]), "p_choice1_se": float(self.p_choice1_se[i]),
                         "mean_rt_s": float(self.mean_rt[i]) / 1000, "rt_se_s": float(self.rt_se[i]) / 1000,
                         "fraction_decided": float(self.fraction_decided[i])})
        return rows

    def __repr__(self) -> str:
        p = ", ".join(f"{v:.2f}" for v in self.p_choice1.tolist())
        rt = ", ".join(f"{v / 1000:.2f}" for v in self.mean_rt.tolist())
        return (f"DecisionCurves(coherences={self.coherences.tolist()}, n_trials={self.n_trials}, "
                f"p_choice1=[{p}], mean_rt_s=[{rt}])")


@dataclass(frozen=True)
class WeibullFit:
    """``P(correct) = 1 - 0.5 exp(-(c / alpha)^beta)`` fitted by maximum likelihood to decided trials at c > 0.

    Attributes:
        alpha: threshold coherence in % (P(correct) = 1 - 0.5/e = 0.816 there).
        beta: slope.
        alpha_se, beta_se: standard errors from the inverse Hessian of the negative log-likelihood.
        log_likelihood: at the optimum.
    """

    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    log_likelihood: float

    def __call__(self, coherence: np.ndarray | float) -> np.ndarray:
        """P(correct) at coherences in % (>= 0)."""
        c = np.abs(np.asarray(coherence, dtype=np.float64))
        return 1 - 0.5 * np.exp(-(c / self.alpha) ** self.beta)


@dataclass(frozen=True, eq=False)
class WongWangFit:
    """Parameters of :class:`~rnnscope.models.WongWang` fitted to choices and reaction times.

    Attributes:
        params: names of the fitted parameters.
        estimates: the estimates, in the order of ``params``.
        std_errors: their standard errors (square roots of the diagonal of ``covariance``).
        covariance: asymptotic covariance of the estimates.
        initial: the starting values.
        chi2: sum of squared standardised moment residuals at the estimate (about the number of
            moments minus parameters for a good fit).
        n_moments: number of moments matched.
        n_evaluations: simulations run.
        success: whether the optimiser reported convergence.
        model: the model at the estimate.
        mu0: the stimulus rate at the estimate.
        curves: the simulated curves at the estimate.

    Shape:
        - estimates, std_errors, initial: (len(params),); covariance: (len(params), len(params))
    """

    params: tuple[str, ...]
    estimates: np.ndarray
    std_errors: np.ndarray
    covariance: np.ndarray
    initial: np.ndarray
    chi2: float
    n_moments: int
    n_evaluations: int
    success: bool
    model: WongWang = field(repr=False)
    mu0: float = 20.0
    curves: DecisionCurves | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, tuple[float, float]]:
        """``{name: (estimate, standard error)}``."""
        return {p: (float(e), float(s)) for p, e, s in zip(self.params, self.estimates, self.std_errors)}


# ---------------------------------------------------------------------------------------------- decisions
def threshold_decisions(
    rates: torch.Tensor, *, threshold: float = 15.0, dt: float, onset: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choices and reaction times from the first time, at or after ``onset``, that either rate
    reaches ``threshold``.

    ``rates[:, t]`` is the rate at time ``(t + 1) dt`` (a :class:`~rnnscope.dynamics.Trajectory`'s
    convention); the RT of a crossing at step t is ``(t + 1) dt - onset``.

    Args:
        rates: the two populations' rates, e.g. ``Trajectory.outputs`` of a
            :class:`~rnnscope.models.WongWang`.
        threshold: the decision threshold (Hz).
        dt: time step in ms.
        onset: stimulus onset in ms; crossings before it are ignored.

    Returns:
        ``(choices, reaction_times)``: choices 1 or 2 (0 when no crossing), int64; RTs in ms, float64,
        NaN when no crossing.

    Shape:
        - rates: (batch, time, 2)
        - choices, reaction_times: (batch,)
    """
    own = "threshold_decisions"
    if not isinstance(rates, torch.Tensor) or rates.ndim != 3 or rates.shape[-1] != 2:
        got = tuple(rates.shape) if isinstance(rates, torch.Tensor) else type(rates).__name__
        raise ShapeError(f"The 'rates' parameter of {own} must be a tensor of shape (batch, time, 2). Got {got} instead.")
    threshold = check_float(own, "threshold", threshold)
    dt = check_float(own, "dt", dt, low=0, low_inclusive=False)
    onset = check_float(own, "onset", onset, low=0)
    t_on = int(round(onset / dt))
    r = rates[:, t_on:].detach()
    cross = r.amax(-1) >= threshold
    decided = cross.any(1)
    first = cross.to(torch.int8).argmax(1)
    idx = torch.arange(r.shape[0], device=r.device)
    at = r[idx, first]  # (batch, 2) rates at the crossing
    choice = torch.where(at[:, 0] >= at[:, 1], 1, 2)
    choices = torch.where(decided, choice, 0).to(torch.int64).cpu()
    rts = ((first + 1 + t_on).to(torch.float64) * dt - onset).cpu()
    rts = torch.where(decided.cpu(), rts, torch.full_like(rts, math.nan))
    return choices, rts


def _check_coherences(own: str, coherences) -> torch.Tensor:
    c = torch.as_tensor(coherences, dtype=torch.float64)
    if c.ndim != 1 or c.numel() == 0 or not torch.isfinite(c).all() or bool((c.abs() > 100).any()):
        raise ConfigError(f"The 'coherences' parameter of {own} must be a non-empty 1-D sequence of coherences in "
                          f"[-100, 100] (%). Got {coherences!r} instead.")
    return c


def psychometric(
    model: WongWang,
    coherences: Sequence[float] | torch.Tensor,
    n_trials: int,
    *,
    seed: int = 0,
    mu0: float = 20.0,
    duration: float = 1000.0,
    onset: float = 100.0,
    threshold: float = 15.0,
    chunk_size: int = 4096,
) -> DecisionCurves:
    """Simulate ``n_trials`` noisy trials per coherence and read out choices and reaction times.

    All trials run through :func:`~rnnscope.dynamics.simulate` as one vectorised batch (in chunks of
    ``chunk_size`` trials to bound memory), starting from the model's resting state, with the
    stimulus of :meth:`~rnnscope.models.WongWang.stimulus` from ``onset`` to the end of the trial;
    decisions by :func:`threshold_decisions` on the rates. The same ``seed`` gives the same noise
    for any parameter values (common random numbers, used by :func:`fit_wong_wang`).

    The defaults (a 1-s trial, stimulus from 100 ms, so a 900-ms response window; threshold 15 Hz;
    mu0 = 20 Hz) reproduce the reference curves of ``docs/theory/wong_wang.md``.

    Args:
        model: a :class:`~rnnscope.models.WongWang` (its noise level is used as is).
        coherences: coherences in %.
        n_trials: trials per coherence.
        seed: seed of the noise.
        mu0: stimulus rate at zero coherence in Hz.
        duration: trial length in ms.
        onset: stimulus onset in ms.
        threshold: decision threshold in Hz.
        chunk_size: trials simulated at once.

    Returns:
        A :class:`DecisionCurves`.
    """
    own = "psychometric"
    if not isinstance(model, WongWang):
        raise ConfigError(f"The 'model' parameter of {own} must be a WongWang. Got {type(model).__name__} instead.")
    c = _check_coherences(own, coherences)
    n_trials = check_int(own, "n_trials", n_trials, low=1)
    seed = check_seed(own, "seed", seed)
    chunk_size = check_int(own, "chunk_size", chunk_size, low=1)
    threshold = check_float(own, "threshold", threshold)
    all_c = c.repeat_interleave(n_trials)
    u_probe = model.stimulus(all_c[:1], mu0=mu0, duration=duration, onset=onset)  # validates mu0, duration, onset
    del u_probe
    gen = torch.Generator().manual_seed(seed)
    choices, rts = [], []
    with torch.no_grad():
        for chunk in all_c.split(chunk_size):
            u = model.stimulus(chunk, mu0=mu0, duration=duration, onset=onset)
            traj = simulate(model, u, generator=gen)
            ch, rt = threshold_decisions(traj.outputs, threshold=threshold, dt=model.dt, onset=onset)
            choices.append(ch)
            rts.append(rt)
    C = c.shape[0]
    return DecisionCurves(coherences=c, choices=torch.cat(choices).reshape(C, n_trials),
                          reaction_times=torch.cat(rts).reshape(C, n_trials), threshold=threshold,
                          mu0=float(mu0), onset=float(onset), duration=float(duration), dt=float(model.dt))


# ---------------------------------------------------------------------------------------------- Weibull
def fit_weibull(curves: DecisionCurves) -> WeibullFit:
    """Maximum-likelihood Weibull fit ``P(correct) = 1 - 0.5 exp(-(|c| / alpha)^beta)`` of the decided
    trials at nonzero coherence (choice 1 is correct for c > 0, choice 2 for c < 0).

    Returns:
        A :class:`WeibullFit` with standard errors from the inverse Hessian of the negative
        log-likelihood (in log-parameters, mapped back by the delta method).
    """
    from scipy.optimize import minimize

    if not isinstance(curves, DecisionCurves):
        raise ConfigError(f"The 'curves' parameter of fit_weibull must be a DecisionCurves. "
                          f"Got {type(curves).__name__} instead.")
    c = curves.coherences.numpy()
    use = c != 0
    if use.sum() < 2:
        raise ConfigError(f"fit_weibull needs decided trials at two or more nonzero coherences. "
                          f"Got coherences {c.tolist()}.")
    correct_choice = np.where(c > 0, 1, 2)[use]
    ch = curves.choices.numpy()[use]
    k = (ch == correct_choice[:, None]).sum(1).astype(np.float64)
    n = (ch > 0).sum(1).astype(np.float64)
    cc = np.abs(c[use])

    def nll(theta: np.ndarray) -> float:
        alpha, beta = np.exp(theta)
        p = np.clip(1 - 0.5 * np.exp(-(cc / alpha) ** beta), 1e-12, 1 - 1e-12)
        return float(-(k * np.log(p) + (n - k) * np.log1p(-p)).sum())

    theta0 = np.log([max(float(np.median(cc)), 1e-3), 1.5])
    res = minimize(nll, theta0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 2000})
    theta = res.x
    h = 1e-4
    Hm = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            Hm[i, j] = (nll(theta + ei + ej) - nll(theta + ei - ej) - nll(theta - ei + ej) + nll(theta - ei - ej)) / (4 * h * h)
    alpha, beta = np.exp(theta)
    try:
        cov = np.linalg.inv(Hm)
        se = np.sqrt(np.clip(np.diag(cov), 0, None)) * np.array([alpha, beta])
    except np.linalg.LinAlgError:
        se = np.array([math.nan, math.nan])
    return WeibullFit(alpha=float(alpha), beta=float(beta), alpha_se=float(se[0]), beta_se=float(se[1]),
                      log_likelihood=float(-res.fun))


# ---------------------------------------------------------------------------------------------- fitting
def _moments(curves: DecisionCurves) -> tuple[np.ndarray, np.ndarray]:
    """Moments (P(choice 1) per coherence, then mean RT in s) and their sampling variances."""
    n = curves.n_decided.numpy().astype(np.float64)
    k = (curves.choices == 1).sum(1).numpy().astype(np.float64)
    p = k / np.maximum(n, 1)
    p_reg = (k + 0.5) / (n + 1)  # keeps the variance away from 0 at p = 0 or 1
    var_p = p_reg * (1 - p_reg) / np.maximum(n, 1)
    rt = curves.mean_rt.numpy() / 1000
    var_rt = (curves.rt_se.numpy() / 1000) ** 2
    var_rt = np.maximum(var_rt, (curves.dt / 1000) ** 2 / 12 / np.maximum(n, 1))
    return np.concatenate([p, rt]), np.concatenate([var_p, var_rt])


def fit_wong_wang(
    data: DecisionCurves,
    params: Sequence[str] = ("J_ext", "J_E"),
    *,
    model: WongWang | None = None,
    initial: dict[str, float] | None = None,
    n_trials: int | None = None,
    seed: int = 1,
    max_evaluations: int = 40,
    tol: float = 1e-3,
    diff_step: float = 0.03,
    chunk_size: int = 4096,
) -> WongWangFit:
    """Fit parameters of the Wong & Wang circuit to choices and reaction times.

    Method of simulated moments (see the module docstring): the moments are P(choice 1) and the mean
    RT at each coherence of ``data``; the residual of each is ``(simulated - data) / sqrt(v_data +
    v_sim)`` with the sampling variances of the data and the simulation; ``scipy.optimize.least_squares``
    minimises their squared sum over the chosen parameters, simulating with :func:`psychometric` under
    the protocol of ``data`` (mu0, onset, duration, threshold) with the same noise at every step.

    Args:
        data: observed choices and RTs (a :class:`DecisionCurves`; build one from your own arrays).
        params: names from :data:`FITTABLE_PARAMETERS`. ``J_ext`` and ``mu0`` enter only through
            their product and cannot be fitted together.
        model: the model whose other parameters are held fixed (default: the paper's, at the data's dt).
        initial: starting values by name (default: the model's values, and the data's ``mu0``).
        n_trials: simulated trials per coherence (default: as many as the data).
        seed: seed of the simulation noise (common to every evaluation).
        max_evaluations: budget of objective evaluations (each one simulation of all trials).
        tol: stop when the relative change of the objective or of the parameters falls below this
            (``ftol`` and ``xtol`` of ``least_squares``); finer than the simulation noise is wasted.
        diff_step: relative finite-difference step for the Jacobian: large enough to average over
            the jumps of the simulated moments (individual trials changing their choice or crossing
            step), small enough to stay local.
        chunk_size: trials simulated at once.

    Returns:
        A :class:`WongWangFit`.
    """
    from scipy.optimize import least_squares

    own = "fit_wong_wang"
    if not isinstance(data, DecisionCurves):
        raise ConfigError(f"The 'data' parameter of {own} must be a DecisionCurves. Got {type(data).__name__} instead.")
    if isinstance(params, str):
        params = (params,)
    params = tuple(params)
    if not params:
        raise ConfigError(f"The 'params' parameter of {own} must name at least one parameter. Got () instead.")
    for p in params:
        if p not in FITTABLE_PARAMETERS:
            raise ConfigError(f"The 'params' parameter of {own} must hold names from "
                              f"{', '.join(FITTABLE_PARAMETERS)}. Got {p!r} instead.")
    if len(set(params)) != len(params):
        raise ConfigError(f"The 'params' parameter of {own} must not repeat a name. Got {params!r} instead.")
    if "J_ext" in params and "mu0" in params:
        raise ConfigError(f"The 'params' parameter of {own} cannot hold both 'J_ext' and 'mu0': the stimulus "
                          f"current is J_ext * mu0 (1 +- c/100), so only their product is identifiable.")
    if model is None:
        model = WongWang(dt=data.dt, dtype=torch.float32)
    elif not isinstance(model, WongWang):
        raise ConfigError(f"The 'model' parameter of {own} must be a WongWang or None. Got {type(model).__name__} instead.")
    if model.dt != data.dt:
        raise ConfigError(f"The 'model' parameter of {own} must use the data's time step ({data.dt:g} ms). "
                          f"Got dt={model.dt:g} instead.")
    n_sim = data.n_trials if n_trials is None else check_int(own, "n_trials", n_trials, low=1)
    seed = check_seed(own, "seed", seed)
    max_evaluations = check_int(own, "max_evaluations", max_evaluations, low=1)
    diff_step = check_float(own, "diff_step", diff_step, low=0, high=1, low_inclusive=False)
    tol = check_float(own, "tol", tol, low=0, high=1, low_inclusive=False)
    base = {name: getattr(model, name) for name in FITTABLE_PARAMETERS if name != "mu0"}
    base["mu0"] = data.mu0
    start = dict(base)
    for name, v in (initial or {}).items():
        if name not in params:
            raise ConfigError(f"The 'initial' parameter of {own} must only hold fitted parameters {params!r}. "
                              f"Got {name!r} instead.")
        start[name] = check_float(own, f"initial[{name!r}]", v, low=0, low_inclusive=False)
    x0 = np.array([start[p] for p in params], dtype=np.float64)
    if np.any(x0 <= 0):
        raise ConfigError(f"The starting values of {own} must be > 0 (the fit runs in units of the start). "
                          f"Got {dict(zip(params, x0.tolist()))} instead.")

    m_data, v_data = _moments(data)
    decided_data = data.n_decided.numpy()
    ratio = data.n_trials / n_sim
    evaluations = [0]
    cache: dict[tuple[float, ...], tuple[np.ndarray, DecisionCurves]] = {}

    def build(theta: np.ndarray) -> tuple[WongWang, float]:
        values = dict(base)
        values.update(dict(zip(params, theta.tolist())))
        mu0 = values.pop("mu0")
        kw = {k: v for k, v in values.items()}
        m = WongWang(**kw, a=model.a, b=model.b, d=model.d, tau_noise=model.tau_noise, dt=model.dt,
                     dtype=model._like.dtype)
        return m, mu0

    def simulate_at(theta: np.ndarray) -> tuple[np.ndarray, DecisionCurves]:
        key = tuple(theta.tolist())
        if key not in cache:
            m, mu0 = build(theta)
            curves = psychometric(m, data.coherences, n_sim, seed=seed, mu0=mu0, duration=data.duration,
                                  onset=data.onset, threshold=data.threshold, chunk_size=chunk_size)
            evaluations[0] += 1
            m_sim, v_sim = _moments(curves)
            var = v_data + np.where(np.isfinite(v_sim), v_sim, v_data * ratio)
            r = (np.nan_to_num(m_sim, nan=0.0) - m_data) / np.sqrt(var)
            cache[key] = (r, curves)
        return cache[key]

    valid = np.concatenate([decided_data > 0, decided_data > 1])

    def residuals(z: np.ndarray) -> np.ndarray:
        return simulate_at(z * x0)[0][valid]

    res = least_squares(residuals, np.ones_like(x0), method="trf", diff_step=diff_step, x_scale=1.0,
                        bounds=(1e-3, np.inf), max_nfev=max_evaluations, ftol=tol, xtol=tol, gtol=None)
    est = res.x * x0
    G = res.jac / x0[None, :]  # d r / d theta
    try:
        cov = np.linalg.inv(G.T @ G)
    except np.linalg.LinAlgError:
        cov = np.full((len(params), len(params)), math.nan)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    fitted, mu0 = build(est)
    r, curves = simulate_at(res.x * x0)
    return WongWangFit(params=params, estimates=est, std_errors=se, covariance=cov, initial=x0,
                       chi2=float((r[valid] ** 2).sum()), n_moments=int(valid.sum()), n_evaluations=evaluations[0],
                       success=bool(res.success), model=fitted, mu0=float(mu0), curves=curves)
