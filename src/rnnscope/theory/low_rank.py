"""Mean-field theory of low-rank networks with Gaussian-mixture loadings (Mastrogiuseppe & Ostojic
2018; Beiran, Dubreuil, Valente, Mastrogiuseppe & Ostojic 2021; Dubreuil, Valente et al. 2022).

**The network.** A rank-K :class:`~rnnscope.models.RateRNN`, ``tau dx/dt = -x + M N^T phi(x) / N_units
+ I u + b (+ g chi phi(x))``. Each unit i carries a vector of *loadings*: its rows of M (``m_1..m_K``)
and N (``n_1..n_K``), of the input weights (``I_1..I_D``), of the readout (``w_1..w_O``, with
``W_out = w^T / N_units``, Dubreuil et al.'s readout ``phi(x) . w / N``) and optionally its bias b. In
the mean-field limit these vectors are i.i.d. draws from a distribution; here a Gaussian mixture:
population p (weight alpha_p) has mean mu_p and covariance Sigma_p.

**Latent dynamics.** Without bulk, ``x = M kappa + I u + b`` exactly (``flow_field`` module), and
``tau dkappa_k/dt = -kappa_k + <n_k phi(x)>`` where the average over units becomes, as N -> inf, the
expectation over the loadings. In population p, ``x = a . (loadings)`` is a linear combination
(``a`` = kappa on the m columns, u on the I columns, 1 on b), hence Gaussian with mean
``mu_x,p = a . mu_p`` and variance ``Delta_p = a^T Sigma_p a``. By Stein's lemma::

    <n_k phi(x)>_p = mu_{n_k,p} <phi>_p + sigma_{n_k x,p} <phi'>_p,
    sigma_{n_k x,p} = sum_l sigma_{n_k m_l,p} kappa_l + sum_d sigma_{n_k I_d,p} u_d + sigma_{n_k b,p}

    tau dkappa_k/dt = -kappa_k + sum_p alpha_p [ mu_{n_k,p} <phi>_p + sigma_{n_k x,p} <phi'>_p ]

where ``<f>_p`` is the Gaussian average of f over N(mu_x,p, Delta_p): the effective-coupling form of
Beiran et al. 2021 (eq. 8, overlaps ``sigma_{n_k m_l} <phi'>_p``), with the mean term of
Mastrogiuseppe & Ostojic 2018 (``M_n <phi>``) for loadings of nonzero mean. The averages are computed
by Gauss-Hermite quadrature (probabilists' Hermite nodes, ``numpy.polynomial.hermite_e``) in the
form ``<n phi(x)> = E[(mu_n + sigma_nx (x - mu_x) / Delta) phi(x)]``, which needs phi only; the
Jacobian ``<n_k m_l phi'(x)>`` uses the conditional moments of (n_k, m_l) given x in the same way.
The readout is ``z_o = <w_o phi(x)> + b_out``.

**Random bulk** (Mastrogiuseppe & Ostojic 2018, ``J = g chi + m n^T / N``, ``chi_ij ~ N(0, 1/N)``).
The bulk adds to every unit an input that is Gaussian, independent of the loadings, of variance
``Delta_bulk = g^2 sum_p alpha_p <phi^2>_p`` in a static state, so ``Delta_p -> a^T Sigma_p a +
Delta_bulk``. ``Delta_bulk`` is solved self-consistently (Newton) at each kappa: this *quasi-static*
latent flow is exact at fixed points (the static mean-field solutions) and an approximation away from
them. A static solution is stable against the bulk's own fluctuations only if
``g^2 sum_p alpha_p <phi'^2>_p < 1`` (the radius of the bulk of the Jacobian's spectrum); the
:class:`MeanFieldFixedPoints` report that gain next to the latent eigenvalues. Rank one, Gaussian
``m, n`` with means ``M_m, M_n``, unit variances, no correlation: ``mu = M_m kappa``,
``Delta_0 = g^2 <phi^2> + kappa^2``, ``kappa = M_n <phi>`` (:func:`mastrogiuseppe_ostojic_static`).

**Fitting populations.** :meth:`GaussianMixtureLoadings.from_network` fits a mixture to the loadings
of a trained network (scikit-learn, the optional extra ``rnnscope[populations]``), choosing the number
of components by BIC unless given; :meth:`GaussianMixtureLoadings.sample` draws a new network of any
size from it (Dubreuil et al. 2022's resampling test).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.polynomial.hermite_e import hermegauss

from .._validation import check_bool, check_float, check_int, check_seed
from ..analysis.flow_field import FlowField, _extent, _grid
from ..errors import ConfigError, ShapeError
from ..models import AbstractRNN, LowRankFactors, Nonlinearity, RateRNN, resolve_nonlinearity
from ..numerics import NonlinearSystem, integrate, newton_search, unique_points

__all__ = [
    "GaussianMixtureLoadings",
    "LowRankMeanField",
    "MeanFieldFixedPoints",
    "loadings_of",
    "mastrogiuseppe_ostojic_static",
]

_F64 = torch.float64


def _as64(owner: str, name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach().to("cpu", _F64)
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            raise ConfigError(f"The {name!r} parameter of {owner} must be an array of numbers. "
                              f"Got {type(value).__name__} instead.") from None
    if not torch.isfinite(t).all():
        raise ConfigError(f"The {name!r} parameter of {owner} must be finite. Got NaN or inf values.")
    return t


# ---------------------------------------------------------------------------------------------- loadings
def _columns(rank: int, input_size: int, output_size: int, bias: bool) -> tuple[str, ...]:
    return (tuple(f"m{k + 1}" for k in range(rank)) + tuple(f"n{k + 1}" for k in range(rank))
            + tuple(f"I{d + 1}" for d in range(input_size)) + tuple(f"w{o + 1}" for o in range(output_size))
            + (("b",) if bias else ()))


def loadings_of(model: AbstractRNN, *, bias: bool | None = None) -> torch.Tensor:
    """The per-unit loadings of a low-rank network, one row per unit.

    Columns: ``m_1..m_K, n_1..n_K, I_1..I_D, w_1..w_O`` and, if the model has a bias (or
    ``bias=True``), ``b``; ``w = N_units * W_out^T`` (Dubreuil et al.'s readout ``phi(x) . w / N``).

    Args:
        model: any model whose :meth:`~rnnscope.models.AbstractRNN.low_rank_factors` are given (a
            low-rank RateRNN); a random bulk, if any, is not a loading and is ignored.
        bias: include the bias column; None: whenever the model has a bias.

    Shape:
        - returns: (hidden_size, 2 rank + input_size + output_size [+ 1]), float64
    """
    own = "loadings_of"
    f = _factors(own, model)
    if bias is None:
        bias = f.bias is not None
    check_bool(own, "bias", bias)
    N = f.hidden_size
    with torch.no_grad():
        cols = [f.m, f.n, f.input_weight, N * f.output_weight.T]
        if bias:
            cols.append(f.bias[:, None] if f.bias is not None else f.m.new_zeros(N, 1))
        return torch.cat([c.detach().to("cpu", _F64) for c in cols], dim=1)


def _factors(owner: str, model: Any) -> LowRankFactors:
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {owner} must be an AbstractRNN with low-rank connectivity. "
                          f"Got {type(model).__name__} instead.")
    f = model.low_rank_factors()
    if f is None:
        raise ConfigError(f"The 'model' parameter of {owner} must be a low-rank network (its low_rank_factors() "
                          f"are None: e.g. a full-rank RateRNN). Got {type(model).__name__} instead.")
    return f


@dataclass(frozen=True, eq=False)
class GaussianMixtureLoadings:
    """A distribution of per-unit loadings: a mixture of P Gaussian populations.

    Each unit's loading vector (columns :attr:`columns`: ``m1..mK, n1..nK, I1..ID, w1..wO[, b]``)
    is drawn from population p with probability ``weights[p]``, then from N(``means[p]``,
    ``covariances[p]``).

    Attributes:
        weights: population weights alpha_p (positive, summing to 1).
        means: population means mu_p.
        covariances: population covariances Sigma_p (symmetric, positive semi-definite).
        rank: K.
        input_size, output_size: D and O (0 for none).
        bias: whether the last column is the bias b.
        output_bias: the readout's bias b_out (a network-wide constant, not a loading).
        bic: for a fitted mixture, the BIC of each number of components tried; else empty.

    Shape:
        - weights: (P,); means: (P, dim); covariances: (P, dim, dim), ``dim = 2 K + D + O [+ 1]``
        - output_bias: (output_size,)
    """

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor
    rank: int
    input_size: int = 0
    output_size: int = 0
    bias: bool = False
    output_bias: torch.Tensor | None = None
    bic: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        own = "GaussianMixtureLoadings"
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("rank", check_int(own, "rank", self.rank, low=1))
        set_("input_size", check_int(own, "input_size", self.input_size, low=0))
        set_("output_size", check_int(own, "output_size", self.output_size, low=0))
        check_bool(own, "bias", self.bias)
        dim = len(self.columns)
        w = _as64(own, "weights", self.weights)
        mu = _as64(own, "means", self.means)
        S = _as64(own, "covariances", self.covariances)
        if w.ndim != 1 or w.numel() == 0:
            raise ShapeError(f"The 'weights' parameter of {own} must have shape (P,) with P >= 1. "
                             f"Got {tuple(w.shape)} instead.")
        P = w.numel()
        if (w <= 0).any() or abs(float(w.sum()) - 1.0) > 1e-6:
            raise ConfigError(f"The 'weights' parameter of {own} must be positive and sum to 1. "
                              f"Got {w.tolist()} instead.")
        w = w / w.sum()
        if tuple(mu.shape) != (P, dim):
            raise ShapeError(f"The 'means' parameter of {own} must have shape ({P}, {dim}) (populations, "
                             f"columns {', '.join(self.columns)}). Got {tuple(mu.shape)} instead.")
        if tuple(S.shape) != (P, dim, dim):
            raise ShapeError(f"The 'covariances' parameter of {own} must have shape ({P}, {dim}, {dim}). "
                             f"Got {tuple(S.shape)} instead.")
        if not torch.allclose(S, S.transpose(1, 2), rtol=1e-8, atol=1e-10):
            raise ConfigError(f"The 'covariances' parameter of {own} must be symmetric matrices.")
        S = 0.5 * (S + S.transpose(1, 2))
        low = torch.linalg.eigvalsh(S).min(dim=1).values
        scale = S.diagonal(dim1=1, dim2=2).abs().amax(dim=1).clamp_min(1e-300)
        if (low < -1e-9 * scale).any():
            raise ConfigError(f"The 'covariances' parameter of {own} must be positive semi-definite. "
                              f"Got smallest eigenvalues {low.tolist()} instead.")
        ob = torch.zeros(self.output_size, dtype=_F64) if self.output_bias is None \
            else _as64(own, "output_bias", self.output_bias)
        if tuple(ob.shape) != (self.output_size,):
            raise ShapeError(f"The 'output_bias' parameter of {own} must have shape ({self.output_size},). "
                             f"Got {tuple(ob.shape)} instead.")
        set_("weights", w)
        set_("means", mu)
        set_("covariances", S)
        set_("output_bias", ob)
        set_("bic", {int(k): float(v) for k, v in dict(self.bic).items()})

    # ------------------------------------------------------------------ layout
    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the loading columns: ``m1..mK, n1..nK, I1..ID, w1..wO`` and ``b``."""
        return _columns(self.rank, self.input_size, self.output_size, self.bias)

    @property
    def n_components(self) -> int:
        """Number of populations P."""
        return int(self.weights.numel())

    def index(self, kind: str) -> slice:
        """Column slice of ``"m"``, ``"n"``, ``"I"``, ``"w"`` or ``"b"``."""
        K, D, O = self.rank, self.input_size, self.output_size
        spans = {"m": (0, K), "n": (K, 2 * K), "I": (2 * K, 2 * K + D), "w": (2 * K + D, 2 * K + D + O),
                 "b": (2 * K + D + O, 2 * K + D + O + int(self.bias))}
        if kind not in spans:
            raise ConfigError(f"The 'kind' parameter of GaussianMixtureLoadings.index must be one of "
                              f"'m', 'n', 'I', 'w', 'b'. Got {kind!r} instead.")
        return slice(*spans[kind])

    def overlaps(self) -> torch.Tensor:
        """``sigma_{n_k m_l, p}``, the within-population covariance of n_k and m_l (Beiran et al.'s
        overlaps). Shape: (P, K, K), entry [p, k, l]."""
        return self.covariances[:, self.index("n"), self.index("m")].clone()

    def __repr__(self) -> str:
        return (f"GaussianMixtureLoadings(n_components={self.n_components}, rank={self.rank}, "
                f"input_size={self.input_size}, output_size={self.output_size}, bias={self.bias})")

    # ------------------------------------------------------------------ construction
    @classmethod
    def gaussian(cls, mean: Any, covariance: Any, *, rank: int, input_size: int = 0, output_size: int = 0,
                 bias: bool = False) -> GaussianMixtureLoadings:
        """One Gaussian population. Shape: mean (dim,), covariance (dim, dim)."""
        mu = _as64("GaussianMixtureLoadings.gaussian", "mean", mean)
        S = _as64("GaussianMixtureLoadings.gaussian", "covariance", covariance)
        return cls(torch.ones(1, dtype=_F64), mu[None], S[None], rank=rank, input_size=input_size,
                   output_size=output_size, bias=bias)

    @classmethod
    def fit(
        cls,
        loadings: Any,
        *,
        rank: int,
        input_size: int = 0,
        output_size: int = 0,
        bias: bool = False,
        output_bias: Any = None,
        n_components: int | None = None,
        max_components: int = 4,
        n_init: int = 5,
        seed: int = 0,
    ) -> GaussianMixtureLoadings:
        """Fit a mixture to loadings (one row per unit) with scikit-learn's ``GaussianMixture``
        (full covariances).

        Args:
            loadings: (n_units, dim) array whose columns follow :attr:`columns`.
            rank, input_size, output_size, bias: the column layout.
            output_bias: the readout bias to carry along (output_size,).
            n_components: the number of populations; None chooses it by BIC among
                ``1..max_components``.
            max_components: the largest number tried when choosing by BIC.
            n_init: EM restarts per number of components (the best likelihood is kept).
            seed: seed of the EM initialisation.

        Raises:
            ConfigError: scikit-learn is missing (``pip install 'rnnscope[populations]'``), or bad
                arguments.
        """
        own = "GaussianMixtureLoadings.fit"
        try:
            from sklearn.mixture import GaussianMixture
        except ImportError:
            raise ConfigError(f"{own} needs scikit-learn, the optional extra 'populations': "
                              f"pip install 'rnnscope[populations]'.") from None
        X = _as64(own, "loadings", loadings).numpy()
        dim = len(_columns(check_int(own, "rank", rank, low=1), check_int(own, "input_size", input_size, low=0),
                           check_int(own, "output_size", output_size, low=0), check_bool(own, "bias", bias)))
        if X.ndim != 2 or X.shape[1] != dim:
            raise ShapeError(f"The 'loadings' parameter of {own} must have shape (n_units, {dim}) for rank={rank}, "
                             f"input_size={input_size}, output_size={output_size}, bias={bias}. "
                             f"Got {tuple(X.shape)} instead.")
        max_components = check_int(own, "max_components", max_components, low=1)
        if n_components is not None:
            n_components = check_int(own, "n_components", n_components, low=1)
            tried = [n_components]
        else:
            tried = list(range(1, max_components + 1))
        n_init = check_int(own, "n_init", n_init, low=1)
        seed = check_seed(own, "seed", seed)
        if X.shape[0] < 2 * max(tried):
            raise ConfigError(f"The 'loadings' parameter of {own} must have at least {2 * max(tried)} rows to fit "
                              f"{max(tried)} components. Got {X.shape[0]} instead.")
        # fit on standardised columns (scales differ: w ~ sqrt(N)), then map back
        centre, spread = X.mean(0), X.std(0)
        spread = np.where(spread > 0, spread, 1.0)
        Z = (X - centre) / spread
        fits, bic = {}, {}
        for k in tried:
            gm = GaussianMixture(n_components=k, covariance_type="full", n_init=n_init, random_state=seed,
                                 reg_covar=1e-6, max_iter=500)
            gm.fit(Z)
            fits[k] = gm
            bic[k] = float(gm.bic(Z))
        best = min(bic, key=bic.get) if n_components is None else n_components
        gm = fits[best]
        means = gm.means_ * spread + centre
        covs = gm.covariances_ * spread[None, :, None] * spread[None, None, :]
        return cls(torch.from_numpy(gm.weights_.copy()), torch.from_numpy(means), torch.from_numpy(covs),
                   rank=rank, input_size=input_size, output_size=output_size, bias=bias,
                   output_bias=output_bias, bic=bic)

    @classmethod
    def from_network(cls, model: AbstractRNN, *, n_components: int | None = None, max_components: int = 4,
                     bias: bool | None = None, n_init: int = 5, seed: int = 0) -> GaussianMixtureLoadings:
        """Fit a mixture to the loadings of a low-rank network (:func:`loadings_of`); see :meth:`fit`.

        The readout bias is carried along; the initial state is not a loading (a learnt one is not
        resampled).
        """
        X = loadings_of(model, bias=bias)
        f = _factors("GaussianMixtureLoadings.from_network", model)
        has_bias = X.shape[1] == 2 * f.rank + model.input_size + model.output_size + 1
        return cls.fit(X, rank=f.rank, input_size=model.input_size, output_size=model.output_size,
                       bias=has_bias, output_bias=f.output_bias.detach(), n_components=n_components,
                       max_components=max_components, n_init=n_init, seed=seed)

    # ------------------------------------------------------------------ sampling
    def draw(self, n_units: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Loadings of ``n_units`` units and the population of each.

        Shape:
            - returns: loadings (n_units, dim) float64, populations (n_units,) long
        """
        own = "GaussianMixtureLoadings.draw"
        n_units = check_int(own, "n_units", n_units, low=1)
        seed = check_seed(own, "seed", seed)
        gen = torch.Generator().manual_seed(seed)
        pop = torch.multinomial(self.weights, n_units, replacement=True, generator=gen)
        # square roots of the covariances by eigendecomposition (PSD, possibly singular)
        evals, evecs = torch.linalg.eigh(self.covariances)
        root = evecs * evals.clamp_min(0).sqrt()[:, None, :]
        z = torch.randn(n_units, len(self.columns), generator=gen, dtype=_F64)
        X = self.means[pop] + torch.einsum("nij,nj->ni", root[pop], z)
        return X, pop

    def sample(self, n_units: int, *, seed: int = 0, like: AbstractRNN | None = None, **kwargs: Any) -> RateRNN:
        """A new low-rank RateRNN whose loadings are drawn from the mixture.

        Args:
            n_units: hidden_size of the new network.
            seed: seed of the draw (the model's own ``seed`` keyword seeds a bulk, if any).
            like: copy the settings (time, dt, tau, nonlinearity, readout, noise levels) of this
                low-rank model.
            **kwargs: any other RateRNN keyword, overriding ``like``.
        """
        X, _ = self.draw(n_units, seed=seed)
        settings: dict[str, Any] = {}
        if like is not None:
            f = _factors("GaussianMixtureLoadings.sample (like)", like)
            settings = {"time": like.time, "dt": like.dt, "readout": "rates" if f.readout_from_rates else "states",
                        "input_noise_std": float(like.input_noise_std)}
            if not f.phi.name.startswith("custom:"):
                settings["nonlinearity"] = f.phi.name
            sigma = like.process_noise_std
            sigma = float(sigma.max()) if isinstance(sigma, torch.Tensor) else float(sigma)
            if like.time == "continuous" and like.time_constant is not None:
                settings["tau"] = like.time_constant
                sigma /= math.sqrt(2.0 * like.dt / like.time_constant)
            settings["noise_std"] = sigma
        settings.update(kwargs)
        settings.setdefault("dtype", torch.get_default_dtype())
        dtype = settings["dtype"]
        I = X[:, self.index("I")]
        W = X[:, self.index("w")].T / n_units
        bias: Any = X[:, self.index("b")][:, 0].to(dtype) if self.bias else False
        return RateRNN.from_low_rank(X[:, self.index("m")].to(dtype), X[:, self.index("n")].to(dtype),
                                     I.to(dtype), W.to(dtype), bias=bias, output_bias=self.output_bias.to(dtype),
                                     **settings)


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class MeanFieldFixedPoints:
    """Fixed points of the mean-field latent dynamics.

    Attributes:
        kappa: latent coordinates of each fixed point, float64.
        eigenvalues: eigenvalues of the latent Jacobian (per ms), sorted by decreasing real part.
        n_unstable: number of latent directions with positive real part.
        mean: mean of the input x in each population.
        variance: variance Delta_p of x in each population (bulk included).
        bulk_variance: the random bulk's share of it, ``g^2 sum_p alpha_p <phi^2>_p`` (0 without bulk).
        bulk_gain: ``g^2 sum_p alpha_p <phi'^2>_p``; the static solution is stable against the
            bulk's fluctuations only when it is < 1.
        residual: ``|dkappa/dt| * tau`` at the point.
        inputs: the constant input.

    Shape:
        - kappa: (n, K); eigenvalues: (n, K) complex; n_unstable, bulk_variance, bulk_gain, residual: (n,)
        - mean, variance: (n, P); inputs: (input_size,)
    """

    kappa: torch.Tensor
    eigenvalues: torch.Tensor
    n_unstable: torch.Tensor
    mean: torch.Tensor
    variance: torch.Tensor
    bulk_variance: torch.Tensor
    bulk_gain: torch.Tensor
    residual: torch.Tensor
    inputs: torch.Tensor

    def __len__(self) -> int:
        return int(self.kappa.shape[0])

    @property
    def stable(self) -> torch.Tensor:
        """Stable in every latent direction and against the bulk (``bulk_gain < 1``). Shape (n,)."""
        return (self.n_unstable == 0) & (self.bulk_gain < 1)

    def __repr__(self) -> str:
        return (f"MeanFieldFixedPoints(n={len(self)}, stable={int(self.stable.sum())}, "
                f"rank={self.kappa.shape[1]})")


# ---------------------------------------------------------------------------------------------- the theory
class LowRankMeanField:
    """Mean-field latent dynamics of low-rank networks with Gaussian-mixture loadings (module docstring).

    Args:
        loadings: a :class:`GaussianMixtureLoadings`.
        nonlinearity: phi, a name (``"tanh"``, ...) or an elementwise callable (as in RateRNN).
        tau: time constant in ms (velocities are per ms, like a continuous RateRNN's flow).
        bulk_g: strength g of a random bulk ``g chi`` (0 for none).
        n_quadrature: number of Gauss-Hermite nodes of each Gaussian average.

    Example:
        >>> loadings = GaussianMixtureLoadings.gaussian([0, 0], [[1, 2], [2, 5]], rank=1)
        >>> LowRankMeanField(loadings).fixed_points().kappa   # 0 and +-kappa* (overlap 2 > 1)
    """

    def __init__(self, loadings: GaussianMixtureLoadings, *, nonlinearity: str | Callable = "tanh",
                 tau: float = 100.0, bulk_g: float = 0.0, n_quadrature: int = 101) -> None:
        own = "LowRankMeanField"
        if not isinstance(loadings, GaussianMixtureLoadings):
            raise ConfigError(f"The 'loadings' parameter of {own} must be a GaussianMixtureLoadings. "
                              f"Got {type(loadings).__name__} instead.")
        self.loadings = loadings
        self.phi: Nonlinearity = resolve_nonlinearity(nonlinearity, own)
        self.tau = check_float(own, "tau", tau, low=0, low_inclusive=False)
        self.bulk_g = check_float(own, "bulk_g", bulk_g, low=0)
        self.n_quadrature = check_int(own, "n_quadrature", n_quadrature, low=5)
        z, w = hermegauss(self.n_quadrature)
        self._z = torch.from_numpy(z)
        self._w = torch.from_numpy(w / math.sqrt(2.0 * math.pi))

    @classmethod
    def from_network(cls, model: AbstractRNN, loadings: GaussianMixtureLoadings) -> LowRankMeanField:
        """The mean field of the network family ``loadings`` with ``model``'s phi, tau and bulk."""
        own = "LowRankMeanField.from_network"
        f = _factors(own, model)
        if model.time != "continuous" or model.time_constant is None:
            raise ConfigError(f"The 'model' parameter of {own} must be a continuous-time network with a time "
                              f"constant. Got time={model.time!r}, time_constant={model.time_constant!r} instead.")
        return cls(loadings, nonlinearity=f.phi, tau=model.time_constant, bulk_g=f.bulk_g)

    @property
    def rank(self) -> int:
        return self.loadings.rank

    def __repr__(self) -> str:
        return (f"LowRankMeanField(rank={self.rank}, n_components={self.loadings.n_components}, "
                f"nonlinearity={self.phi.name!r}, tau={self.tau:g}, bulk_g={self.bulk_g:g})")

    # ------------------------------------------------------------------ Gaussian statistics
    def _check_kappa(self, owner: str, kappa: Any) -> torch.Tensor:
        k = _as64(owner, "kappa", kappa)
        if k.ndim < 1 or k.shape[-1] != self.rank:
            raise ShapeError(f"The 'kappa' parameter of {owner} must have shape (..., {self.rank}) (rank). "
                             f"Got {tuple(k.shape)} instead.")
        return k

    def _check_inputs(self, owner: str, inputs: Any, batch: tuple[int, ...]) -> torch.Tensor:
        D = self.loadings.input_size
        if inputs is None:
            return torch.zeros(*batch, D, dtype=_F64)
        u = _as64(owner, "inputs", inputs)
        if u.ndim < 1 or u.shape[-1] != D:
            raise ShapeError(f"The 'inputs' parameter of {owner} must have shape (..., {D}) (input_size), "
                             f"broadcastable to kappa's leading axes {batch}. Got {tuple(u.shape)} instead.")
        try:
            return torch.broadcast_to(u, (*torch.broadcast_shapes(u.shape[:-1], batch), D))
        except RuntimeError:
            raise ShapeError(f"The 'inputs' parameter of {owner} must broadcast to kappa's leading axes "
                             f"{batch}. Got {tuple(u.shape)} instead.") from None

    def _coefficients(self, kappa: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``a`` with ``x = a . loadings``: kappa on m, u on I, 1 on b. Shape (..., dim)."""
        L = self.loadings
        batch = torch.broadcast_shapes(kappa.shape[:-1], u.shape[:-1])
        a = torch.zeros(*batch, len(L.columns), dtype=_F64)
        a[..., L.index("m")] = kappa
        a[..., L.index("I")] = u
        if L.bias:
            a[..., L.index("b")] = 1.0
        return a

    def _stats(self, a: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-population statistics of x at coefficients ``a`` (..., dim), bulk solved if any."""
        L = self.loadings
        mu = a @ L.means.T  # (..., P)
        C = torch.einsum("pij,...j->...pi", L.covariances, a)  # cov(loading_i, x): (..., P, dim)
        delta = (C * a[..., None, :]).sum(-1).clamp_min(0)  # (..., P)
        bulk = torch.zeros(delta.shape[:-1], dtype=_F64)
        if self.bulk_g > 0:
            bulk = self._solve_bulk(mu, delta)
        return {"mu": mu, "C": C, "delta_loadings": delta, "bulk": bulk, "delta": delta + bulk[..., None]}

    def _nodes(self, mu: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        return mu[..., None] + delta.sqrt()[..., None] * self._z  # (..., P, Q)

    def _solve_bulk(self, mu: torch.Tensor, delta: torch.Tensor, iterations: int = 100) -> torch.Tensor:
        """Solve ``D = g^2 sum_p alpha_p <phi^2>(mu_p, delta_p + D)`` by Newton's method, using
        ``d<f>/dD = <f (z^2 - 1)> / (2 Delta)`` (no derivative of phi needed)."""
        g2, alpha, z2 = self.bulk_g ** 2, self.loadings.weights, self._z ** 2 - 1.0
        # start from one iteration of the map at D = g^2 (an upper bound for |phi| <= 1)
        D = g2 * (alpha * self._avg(lambda x: self.phi(x) ** 2, mu, delta + g2)).sum(-1)
        for _ in range(iterations):
            tot = delta + D[..., None]
            f2 = self.phi(self._nodes(mu, tot)) ** 2
            A = (f2 * self._w).sum(-1)
            dA = (f2 * z2 * self._w).sum(-1) / (2 * tot.clamp_min(1e-300))
            G = D - g2 * (alpha * A).sum(-1)
            dG = 1.0 - g2 * (alpha * dA).sum(-1)
            step = torch.where(dG.abs() > 1e-12, G / dG, G)
            D_new = (D - step).clamp_min(0.5 * D)  # stay positive
            if float((D_new - D).abs().max()) < 1e-14 * max(1.0, float(D.abs().max())):
                D = D_new
                break
            D = D_new
        return D

    def _avg(self, f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        return (f(self._nodes(mu, delta)) * self._w).sum(-1)

    def _expect_phi(self, s: dict[str, torch.Tensor]) -> torch.Tensor:
        """``sum_p alpha_p <loading_i phi(x)>_p`` for every loading column. Shape (..., dim)."""
        L = self.loadings
        delta = s["delta"]
        ph = self.phi(self._nodes(s["mu"], delta))  # (..., P, Q)
        mean_phi = (ph * self._w).sum(-1)  # <phi>_p
        sd = delta.sqrt()
        # <(x - mu) / Delta phi> = <z phi> / sqrt(Delta)  (= <phi'> by Stein's lemma)
        zphi = (ph * self._w * self._z).sum(-1) / torch.where(sd > 0, sd, torch.ones_like(sd))
        zphi = torch.where(sd > 0, zphi, torch.zeros_like(zphi))
        per_pop = L.means * mean_phi[..., None] + s["C"] * zphi[..., None]  # (..., P, dim)
        return (L.weights[:, None] * per_pop).sum(-2)

    # ------------------------------------------------------------------ public dynamics
    def velocity(self, kappa: Any, inputs: Any = None) -> torch.Tensor:
        """``dkappa/dt`` (per ms) of the mean-field latent dynamics.

        Shape:
            - kappa: (..., rank); inputs: (..., input_size) broadcastable, or None for zero input
            - returns: (..., rank), float64
        """
        own = "LowRankMeanField.velocity"
        k = self._check_kappa(own, kappa)
        u = self._check_inputs(own, inputs, tuple(k.shape[:-1]))
        a = self._coefficients(k, u)
        target = self._expect_phi(self._stats(a))[..., self.loadings.index("n")]
        return (target - a[..., self.loadings.index("m")]) / self.tau

    def readout(self, kappa: Any, inputs: Any = None) -> torch.Tensor:
        """Mean-field readout ``z_o = <w_o phi(x)> + b_out`` at latent state kappa.

        Shape: kappa (..., rank), inputs (..., input_size) or None -> (..., output_size).
        """
        own = "LowRankMeanField.readout"
        k = self._check_kappa(own, kappa)
        u = self._check_inputs(own, inputs, tuple(k.shape[:-1]))
        e = self._expect_phi(self._stats(self._coefficients(k, u)))
        return e[..., self.loadings.index("w")] + self.loadings.output_bias

    def jacobian(self, kappa: Any, inputs: Any = None) -> torch.Tensor:
        """The Jacobian of :meth:`velocity` with respect to kappa (per ms).

        Without bulk, ``d<n_k phi(x)>/dkappa_l = <n_k m_l phi'(x)>``, computed from the conditional
        moments of (n_k, m_l) given x; with a bulk, by central differences of the quasi-static flow.

        Shape: kappa (..., rank) -> (..., rank, rank), entry [k, l] = d v_k / d kappa_l.
        """
        own = "LowRankMeanField.jacobian"
        k = self._check_kappa(own, kappa)
        u = self._check_inputs(own, inputs, tuple(k.shape[:-1]))
        K, L = self.rank, self.loadings
        if self.bulk_g > 0:
            h = 1e-6 * max(1.0, float(k.abs().max()))
            cols = []
            for l in range(K):
                e = torch.zeros(K, dtype=_F64)
                e[l] = h
                cols.append((self.velocity(k + e, u) - self.velocity(k - e, u)) / (2 * h))
            return torch.stack(cols, dim=-1)
        a = self._coefficients(k, u)
        s = self._stats(a)
        delta, mu, C = s["delta"], s["mu"], s["C"]
        sd = delta.sqrt()
        safe = torch.where(sd > 0, sd, torch.ones_like(sd))
        dph = self.phi.derivative(self._nodes(mu, delta))  # (..., P, Q)
        r = torch.where(sd[..., None] > 0, self._z / safe[..., None], torch.zeros_like(dph))  # (x - mu)/Delta
        n_i, m_i = L.index("n"), L.index("m")
        En, Em = L.means[:, n_i], L.means[:, m_i]  # (P, K)
        Cn, Cm = C[..., n_i], C[..., m_i]  # (..., P, K)
        Snm = L.covariances[:, n_i, m_i]  # (P, K, K)
        inv = torch.where(delta > 0, 1.0 / torch.where(delta > 0, delta, torch.ones_like(delta)),
                          torch.zeros_like(delta))
        resid = Snm - Cn[..., :, None] * Cm[..., None, :] * inv[..., None, None]  # cov(n, m | x): (..., P, K, K)
        w = self._w * dph  # (..., P, Q)
        A0, A1, A2 = w.sum(-1), (w * r).sum(-1), (w * r * r).sum(-1)  # (..., P)
        # E[(En + Cn r)(Em + Cm r) phi'] + resid E[phi']
        term = (En[:, :, None] * Em[:, None, :] * A0[..., None, None]
                + (En[:, :, None] * Cm[..., None, :] + Cn[..., :, None] * Em[:, None, :]) * A1[..., None, None]
                + Cn[..., :, None] * Cm[..., None, :] * A2[..., None, None]
                + resid * A0[..., None, None])
        jac = (L.weights[:, None, None] * term).sum(-3) - torch.eye(K, dtype=_F64)
        return jac / self.tau

    # ------------------------------------------------------------------ fixed points
    def default_extent(self) -> float:
        """Half-width of a box that holds every fixed point for a bounded phi: ``|kappa_k| =
        |<n_k phi(x)>| <= sqrt(<n_k^2>) sup|phi|``, with 10 % margin (sup|phi| = 1 for tanh and
        sigmoid; 5 assumed for unbounded phi, pass ``extent`` then)."""
        L = self.loadings
        n_i = L.index("n")
        second = (L.weights[:, None] * (L.covariances[:, n_i, n_i].diagonal(dim1=1, dim2=2)
                                         + L.means[:, n_i] ** 2)).sum(0)
        sup = 1.0 if self.phi.name in ("tanh", "sigmoid") else 5.0
        return 1.1 * sup * float(second.sqrt().max()) + 1e-3

    def fixed_points(self, inputs: Any = None, *, extent: float | None = None, n_starts: int | None = None,
                     tol: float = 1e-10, tol_unique: float = 1e-5, eigenvalue_tol: float = 1e-9) -> MeanFieldFixedPoints:
        """All fixed points of the latent dynamics, by the batched trust-region Newton solver of
        :func:`rnnscope.numerics.newton_search` (the one that finds networks' fixed points) with the
        analytic Jacobian, from a grid of starts.

        Args:
            inputs: the constant input (input_size,); None for zero input.
            extent: the grid covers ``[-extent, extent]^K``; default :meth:`default_extent`.
            n_starts: grid points per axis (default 41, 15, 7, 5 for K = 1, 2, 3, >= 4).
            tol: a root is accepted when the residual ``|tau dkappa/dt|`` is <= tol.
            tol_unique: roots closer than ``tol_unique * (1 + |kappa|)`` are the same point.
            eigenvalue_tol: a direction is unstable when its eigenvalue's real part exceeds
                ``eigenvalue_tol / tau``.

        Returns:
            A :class:`MeanFieldFixedPoints`, ordered by number of unstable directions, then |kappa|.
        """
        own = "LowRankMeanField.fixed_points"
        K = self.rank
        u = self._check_inputs(own, inputs, ())
        if u.ndim != 1:
            raise ShapeError(f"The 'inputs' parameter of {own} must have shape ({self.loadings.input_size},). "
                             f"Got {tuple(u.shape)} instead.")
        extent = self.default_extent() if extent is None else check_float(own, "extent", extent, low=0,
                                                                            low_inclusive=False)
        if n_starts is None:
            n_starts = {1: 41, 2: 15, 3: 7}.get(K, 5)
        n_starts = check_int(own, "n_starts", n_starts, low=1)
        tol = check_float(own, "tol", tol, low=0, low_inclusive=False)
        tol_unique = check_float(own, "tol_unique", tol_unique, low=0, low_inclusive=False)
        eigenvalue_tol = check_float(own, "eigenvalue_tol", eigenvalue_tol, low=0)
        axis = torch.linspace(-extent, extent, n_starts, dtype=_F64)
        starts = torch.stack(torch.meshgrid(*[axis] * K, indexing="ij"), -1).reshape(-1, K)
        system = NonlinearSystem(F=lambda k: self.velocity(k, u) * self.tau,
                                 jacobian=lambda k: self.jacobian(k, u) * self.tau)
        radius = tol_unique * (1.0 + extent)
        with torch.no_grad():
            kappa, q, conv = newton_search(system, starts, tol_q=0.5 * (0.1 * tol) ** 2, radius=radius,
                                           trust_radius=max(extent, 1e-3), known=starts.new_zeros(0, K),
                                           max_iterations=200, polish_steps=3, progress=False)
        kappa, q = kappa[conv], q[conv]
        ok = (2 * q).sqrt() <= tol
        kappa, q = kappa[ok], q[ok]
        kappa = kappa[unique_points(kappa, q, radius)]
        return self._describe(kappa, u, eigenvalue_tol)

    def _describe(self, kappa: torch.Tensor, u: torch.Tensor, eigenvalue_tol: float) -> MeanFieldFixedPoints:
        n, K, P = kappa.shape[0], self.rank, self.loadings.n_components
        if n == 0:
            eig = torch.zeros(0, K, dtype=torch.complex128)
            mean = var = torch.zeros(0, P, dtype=_F64)
            bulk = gain = res = torch.zeros(0, dtype=_F64)
        else:
            J = self.jacobian(kappa, u)
            eig = torch.linalg.eigvals(J)
            eig = torch.stack([e[torch.argsort(e.real, descending=True)] for e in eig])
            s = self._stats(self._coefficients(kappa, u))
            mean, var, bulk = s["mu"], s["delta"], s["bulk"]
            dphi2 = self._avg(lambda x: self.phi.derivative(x) ** 2, mean, var)
            gain = self.bulk_g ** 2 * (self.loadings.weights * dphi2).sum(-1)
            res = (self.velocity(kappa, u) * self.tau).norm(dim=-1)
        n_unstable = (eig.real > eigenvalue_tol / self.tau).sum(-1)
        order = sorted(range(n), key=lambda i: (int(n_unstable[i]), float(kappa[i].norm()), tuple(kappa[i].tolist())))
        idx = torch.tensor(order, dtype=torch.long)
        return MeanFieldFixedPoints(kappa=kappa[idx], eigenvalues=eig[idx], n_unstable=n_unstable[idx],
                                    mean=mean[idx], variance=var[idx], bulk_variance=bulk[idx],
                                    bulk_gain=gain[idx], residual=res[idx], inputs=u.clone())

    # ------------------------------------------------------------------ flow field
    def flow_field(self, inputs: Any = None, *, extent: float | Sequence[float] | None = None,
                   resolution: int = 25, input_channel: int | None = None) -> FlowField:
        """The mean-field flow on a grid of the latent plane, as a :class:`~rnnscope.analysis.FlowField`
        (its "state space" is the plane itself: basis = identity, origin = 0).

        Rank two: coordinates (kappa1, kappa2). Rank one: (kappa, v_k) with ``v_k`` the component along
        input ``input_channel`` (which relaxes to ``u_k``), as :func:`~rnnscope.analysis.latent_flow_field`.

        Args:
            inputs: the constant input (input_size,), or None.
            extent: a half-width a (the square [-a, a]^2) or (xmin, xmax, ymin, ymax); default
                :meth:`default_extent` (and [-1.5, 1.5] for v_k).
            resolution: grid points per axis.
            input_channel: rank one only, the input spanning the second coordinate.

        Shape: U, V, X, Y: (resolution, resolution).
        """
        own = "LowRankMeanField.flow_field"
        K = self.rank
        u = self._check_inputs(own, inputs, ())
        resolution = check_int(own, "resolution", resolution, low=2)
        if K == 2 and input_channel is not None:
            raise ConfigError(f"The 'input_channel' parameter of {own} applies to rank one only. "
                              f"Got {input_channel!r} instead.")
        if K == 1:
            if self.loadings.input_size == 0 or input_channel is None:
                raise ConfigError(f"The 'input_channel' parameter of {own} must name an input (0 to "
                                  f"{self.loadings.input_size - 1}) for a rank-one mean field. "
                                  f"Got {input_channel!r} instead.")
            input_channel = check_int(own, "input_channel", input_channel, low=0, high=self.loadings.input_size - 1)
        if K > 2:
            raise ConfigError(f"{own} needs rank 1 or 2 (a plane). Got rank {K} instead.")
        a = self.default_extent()
        if extent is None:
            box = (-a, a, -a, a) if K == 2 else (-a, a, -1.5, 1.5)
        else:
            box = _extent(own, extent, None, None)
        X, Y = _grid(box, resolution)
        if K == 2:
            vel = self.velocity(torch.stack([X, Y], -1), u)
            U, V = vel[..., 0], vel[..., 1]
            labels = ("kappa1", "kappa2")
        else:
            uu = u.expand(*X.shape, u.shape[0]).clone()
            uu[..., input_channel] = Y
            U = self.velocity(X[..., None], uu)[..., 0]
            V = (u[input_channel] - Y) / self.tau
            labels = ("kappa", f"v{input_channel}")
        speed = (U * U + V * V).sqrt()
        return FlowField(X=X, Y=Y, U=U, V=V, speed=speed, state_speed=speed.clone(),
                         basis=torch.eye(2, dtype=_F64), origin=torch.zeros(2, dtype=_F64), inputs=u.clone(),
                         labels=labels, time="continuous", dt=1.0)

    def trajectory(self, kappa0: Any, duration: float, *, inputs: Any = None, n_points: int = 200) -> torch.Tensor:
        """The mean-field latent trajectory from ``kappa0`` over ``duration`` ms at constant input
        (:func:`rnnscope.numerics.integrate`, DOP853, rtol 1e-10).

        Shape: kappa0 (rank,) -> (n_points, rank), at times ``linspace(0, duration, n_points)``.
        """
        own = "LowRankMeanField.trajectory"
        k0 = self._check_kappa(own, kappa0)
        if k0.ndim != 1:
            raise ShapeError(f"The 'kappa0' parameter of {own} must have shape ({self.rank},). Got {tuple(k0.shape)}.")
        duration = check_float(own, "duration", duration, low=0, low_inclusive=False)
        n_points = check_int(own, "n_points", n_points, low=2)
        u = self._check_inputs(own, inputs, ())
        t = np.linspace(0.0, duration, n_points)
        sol = integrate(lambda k: self.velocity(torch.from_numpy(k), u).numpy(), k0.numpy(), duration, t_eval=t)
        return torch.from_numpy(sol.y.copy())


def mastrogiuseppe_ostojic_static(mean_m: float, mean_n: float, g: float, *, sigma_m: float = 1.0,
                                  sigma_n: float = 1.0, nonlinearity: str | Callable = "tanh") -> MeanFieldFixedPoints:
    """Static mean-field solutions of ``J = g chi + m n^T / N`` (Mastrogiuseppe & Ostojic 2018),
    rank one, m and n independent Gaussians of means ``mean_m, mean_n`` and standard deviations
    ``sigma_m, sigma_n``: ``mu = M_m kappa``, ``Delta_0 = g^2 <phi^2> + sigma_m^2 kappa^2``,
    ``kappa = M_n <phi>`` (``variance`` holds Delta_0, ``mean`` holds mu).

    With M_m = 1.1, M_n = 2 and tanh the positive solution is kappa = 1.2245 (g = 0.5), 1.0879 (1),
    0.8343 (1.5); at g = 2 it has ``bulk_gain = g^2 <phi'^2> > 1`` (unstable: the network is chaotic).
    """
    own = "mastrogiuseppe_ostojic_static"
    mm, mn = check_float(own, "mean_m", mean_m), check_float(own, "mean_n", mean_n)
    g = check_float(own, "g", g, low=0)
    sm = check_float(own, "sigma_m", sigma_m, low=0)
    sn = check_float(own, "sigma_n", sigma_n, low=0)
    loadings = GaussianMixtureLoadings.gaussian([mm, mn], [[sm * sm, 0.0], [0.0, sn * sn]], rank=1)
    mf = LowRankMeanField(loadings, nonlinearity=nonlinearity, tau=1.0, bulk_g=g)
    extent = 1.1 * abs(mn) + 3.0 * sn + 1e-3  # |kappa| = |M_n <phi>| <= |M_n| for |phi| <= 1
    return mf.fixed_points(extent=extent, n_starts=11)
