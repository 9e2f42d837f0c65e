"""State-space views of population activity: condition averages, PCA, and regression axes.

Three pieces, each usable alone:

- :func:`condition_average` groups trials by the unique values of some task variables (taken from
  a batch's ``conditions``) and averages their trajectories, respecting padding.
- :class:`PCA` finds the directions of largest variance of trajectories (single trials or
  condition averages), in float64.
- :class:`RegressionAxes` is the targeted dimensionality reduction of Mante, Sussillo, Shenoy &
  Newsome (2013): regress every unit's activity at every time step on task variables, de-noise the
  coefficients in the leading principal components of the condition averages, take one vector per
  variable, and orthogonalise them. Projections onto the axes show how each variable is represented.

Task variables are named like the keys of ``TrialBatch.conditions`` (``"choice"``,
``"coherence_motion"``, ...); a column of a multi-column condition is written ``"name[j]"``
(e.g. ``"final_state[0]"`` for the flip-flop task), so every analysis works for every task.

Example:
    >>> batch = task.sample(512, seed=1)
    >>> states = simulate(model, batch.inputs, noise=False).states
    >>> axes = RegressionAxes().fit(states, batch.conditions, batch.dt, batch.lengths)
    >>> averages, table = condition_average(states, batch.conditions, ["context", "choice", "coherence_motion"])
    >>> projected = axes.transform(averages)          # (n_conditions, time, 4)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch

from .._validation import check_bool, check_choice, check_float, check_int
from ..errors import ConfigError, NotFittedError, ShapeError

__all__ = [
    "ConditionAverages",
    "condition_average",
    "condition_groups",
    "gaussian_smooth",
    "PCA",
    "RegressionAxes",
]

_COLUMN = re.compile(r"^(?P<name>.+)\[(?P<index>\d+)\]$")


# ---------------------------------------------------------------------------------------------- helpers
def _check_fitted(estimator: Any, attribute: str) -> None:
    if not hasattr(estimator, attribute):
        name = type(estimator).__name__
        raise NotFittedError(f"This {name} is not fitted yet; call {name}.fit(...) before using it.")


def _as_states(owner: str, states: Any, *, allow_2d: bool = True) -> torch.Tensor:
    """``states`` as a floating tensor of shape (batch, time, N) (or (samples, N) if allowed)."""
    if not isinstance(states, torch.Tensor):
        raise ShapeError(f"The 'states' parameter of {owner} must be a torch.Tensor. "
                         f"Got {type(states).__name__} instead.")
    shapes = "(batch, time, hidden_size) or (samples, hidden_size)" if allow_2d else "(batch, time, hidden_size)"
    if states.ndim not in ((2, 3) if allow_2d else (3,)) or states.shape[-1] < 1:
        raise ShapeError(f"The 'states' parameter of {owner} must have shape {shapes}. "
                         f"Got {tuple(states.shape)} instead.")
    states = states.detach()
    if not states.is_floating_point():
        states = states.double()
    return states


def _valid_mask(owner: str, lengths: Any, batch: int, n_steps: int, device: torch.device) -> torch.Tensor:
    """Boolean (batch, time) mask of the steps before each trial's length (all True if None)."""
    if lengths is None:
        return torch.ones(batch, n_steps, dtype=torch.bool, device=device)
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,) or lengths.is_floating_point() and not bool((lengths == lengths.round()).all()):
        raise ShapeError(f"The 'lengths' parameter of {owner} must be a (batch,) = ({batch},) tensor of "
                         f"whole step counts. Got shape {tuple(lengths.shape)} instead.")
    lengths = lengths.long()
    if bool((lengths < 1).any()) or bool((lengths > n_steps).any()):
        raise ShapeError(f"The 'lengths' parameter of {owner} must lie in [1, {n_steps}] (the number of "
                         f"time steps). Got values in [{int(lengths.min())}, {int(lengths.max())}] instead.")
    return torch.arange(n_steps, device=device) < lengths[:, None]


def _condition_column(owner: str, conditions: Mapping[str, torch.Tensor], key: str, batch: int,
                      *, whole: bool) -> torch.Tensor:
    """The values of condition ``key`` (``"name"`` or ``"name[j]"``) for each trial.

    Returns a (batch,) tensor, or (batch, m) when ``whole`` allows a multi-column condition.
    """
    if not isinstance(key, str) or not key:
        raise ConfigError(f"Condition names given to {owner} must be non-empty strings. Got {key!r} instead.")
    match = _COLUMN.match(key)
    if key not in conditions and match is not None:
        name, column = match["name"], int(match["index"])
    else:
        name, column = key, None
    if name not in conditions:
        known = ", ".join(map(repr, conditions)) or "none"
        raise ConfigError(f"Unknown condition {name!r} given to {owner}; the conditions are {known}.")
    values = torch.as_tensor(conditions[name])
    if values.ndim == 0 or values.shape[0] != batch:
        raise ShapeError(f"Condition {name!r} given to {owner} must have the batch ({batch}) as its first "
                         f"axis. Got shape {tuple(values.shape)} instead.")
    values = values.reshape(batch, -1)
    if column is not None:
        if column >= values.shape[1]:
            raise ConfigError(f"Condition {name!r} given to {owner} has {values.shape[1]} column(s); "
                              f"{key!r} asks for column {column}.")
        return values[:, column]
    if values.shape[1] == 1:
        return values[:, 0]
    if whole:
        return values
    raise ConfigError(f"Condition {name!r} given to {owner} has {values.shape[1]} columns; name one of them, "
                      f"e.g. '{name}[0]'.")


def _group_average(x: torch.Tensor, valid: torch.Tensor, groups: torch.Tensor, n_groups: int):
    """Per-group mean over valid steps. Returns sums/counts as (G, T, N) means and (G, T) counts."""
    B, T, N = x.shape
    w = valid.to(x.dtype)
    sums = x.new_zeros(n_groups, T, N).index_add_(0, groups, torch.where(valid[..., None], x, 0.0))
    counts = x.new_zeros(n_groups, T).index_add_(0, groups, w)
    means = sums / counts.clamp_min(1)[..., None]
    return means, counts


def _hold_last(means: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Replace steps without any valid trial by the last step that had one (first one before it)."""
    G, T, _ = means.shape
    has = counts > 0
    t = torch.arange(T, device=means.device).expand(G, T)
    last = torch.where(has, t, torch.full_like(t, -1)).cummax(dim=1).values
    first = torch.where(has, t, torch.full_like(t, T)).min(dim=1).values
    source = torch.where(last >= 0, last, first[:, None].expand(G, T)).clamp_max(T - 1)
    return torch.gather(means, 1, source[..., None].expand_as(means))


# ---------------------------------------------------------------------------------------------- averages
class ConditionAverages(NamedTuple):
    """Trajectories averaged over the trials of each condition; unpacks as ``(averages, conditions)``.

    Attributes:
        averages: the mean state of each condition at each step.
        conditions: the condition table, one entry per key, each giving the key's value for each
            condition (in the dtype of the trials' conditions).

    Shape:
        - averages: (n_conditions, time, hidden_size)
        - conditions[key]: (n_conditions,) (or (n_conditions, m) for a whole m-column condition)
    """

    averages: torch.Tensor
    conditions: dict[str, torch.Tensor]


def condition_average(
    states: torch.Tensor,
    conditions: Mapping[str, torch.Tensor],
    keys: Sequence[str],
    lengths: torch.Tensor | None = None,
) -> ConditionAverages:
    """Average trajectories over the trials that share the same values of ``keys``.

    Conditions are the unique combinations of the values of ``keys`` found in the batch, in
    lexicographic order of those values. With ``lengths``, each step is averaged over the trials of
    the condition that are still running; after the longest trial of a condition ends, its average
    holds the last averaged value, so the output has no NaN and a trajectory drawn from it simply stops
    moving.

    Args:
        states: trajectories, e.g. ``simulate(...).states``.
        conditions: per-trial task variables, e.g. ``batch.conditions``.
        keys: condition names: ``"name"`` for a one-column condition, ``"name[j]"`` for column j of a
            multi-column one, or ``"name"`` for all columns of a multi-column one together. An empty
            sequence averages all trials into one condition.
        lengths: number of valid steps of each trial (e.g. ``batch.lengths``), None if all are valid.

    Returns:
        :class:`ConditionAverages` ``(averages, conditions)``.

    Shape:
        - states: (batch, time, hidden_size)
        - conditions[key]: (batch,) or (batch, m)
        - lengths: (batch,)
        - returns averages (n_conditions, time, hidden_size) and conditions[key] (n_conditions,)
    """
    owner = "condition_average"
    x = _as_states(owner, states, allow_2d=False)
    B, T, _ = x.shape
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise ConfigError(f"The 'keys' parameter of {owner} must be a sequence of condition names. "
                          f"Got {keys!r} instead.")
    valid = _valid_mask(owner, lengths, B, T, x.device)
    columns = [_condition_column(owner, conditions, k, B, whole=True) for k in keys]
    groups = _groups(columns, B).to(x.device)
    G = int(groups.max()) + 1
    first = torch.full((G,), B, dtype=torch.long, device=x.device).scatter_reduce(
        0, groups, torch.arange(B, device=x.device), reduce="amin")
    means, counts = _group_average(x.to(torch.float64), valid, groups, G)
    averages = _hold_last(means, counts).to(x.dtype)
    table = {k: c[first.to(c.device)].clone() for k, c in zip(keys, columns)}
    return ConditionAverages(averages, table)


def _groups(columns: list[torch.Tensor], batch: int) -> torch.Tensor:
    """Index of each trial's unique combination of column values, in lexicographic order (0 if no column)."""
    if not columns:
        return torch.zeros(batch, dtype=torch.long)
    stacked = torch.cat([c.reshape(batch, -1).to(torch.float64) for c in columns], dim=1)
    return torch.unique(stacked.cpu(), dim=0, return_inverse=True)[1]


def condition_groups(conditions: Mapping[str, torch.Tensor], keys: Sequence[str], batch: int) -> torch.Tensor:
    """The condition of each trial: trials sharing the values of ``keys`` share an index, numbered
    like the conditions of :func:`condition_average` (lexicographic order of the values).

    Shape:
        - conditions[key]: (batch,) or (batch, m)
        - returns (batch,) integers in 0 .. n_conditions - 1
    """
    owner = "condition_groups"
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise ConfigError(f"The 'keys' parameter of {owner} must be a sequence of condition names. "
                          f"Got {keys!r} instead.")
    return _groups([_condition_column(owner, conditions, k, batch, whole=True) for k in keys], batch)


def gaussian_smooth(states: torch.Tensor, sigma_ms: float, dt: float, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Smooth trajectories in time with a Gaussian kernel of standard deviation ``sigma_ms``.

    The kernel is truncated at 3 sigma and renormalised over the valid steps it covers, so trial
    edges and padding do not pull values towards zero. Steps past each trial's length are returned
    unchanged. ``sigma_ms = 0`` returns a copy.

    Shape:
        - states: (batch, time, hidden_size); lengths: (batch,)
        - returns: (batch, time, hidden_size), the dtype of ``states``
    """
    owner = "gaussian_smooth"
    sigma_ms = check_float(owner, "sigma_ms", sigma_ms, low=0)
    dt = check_float(owner, "dt", dt, low=0, low_inclusive=False)
    x = _as_states(owner, states, allow_2d=False)
    B, T, N = x.shape
    valid = _valid_mask(owner, lengths, B, T, x.device)
    sigma = sigma_ms / dt
    half = min(int(math.ceil(3 * sigma)), T - 1)
    if sigma == 0 or half < 1:
        return x.clone()
    offsets = torch.arange(-half, half + 1, dtype=torch.float64, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2).view(1, 1, -1)
    w = valid.to(torch.float64)
    xw = torch.where(valid[..., None], x.to(torch.float64), 0.0).permute(0, 2, 1).reshape(B * N, 1, T)
    num = torch.nn.functional.conv1d(xw, kernel, padding=half).reshape(B, N, T).permute(0, 2, 1)
    den = torch.nn.functional.conv1d(w[:, None, :], kernel, padding=half)[:, 0, :]
    out = num / den.clamp_min(1e-300)[..., None]
    return torch.where(valid[..., None], out.to(x.dtype), x)


# ---------------------------------------------------------------------------------------------- PCA
class PCA:
    """Principal component analysis of trajectories (single trials or condition averages).

    Computed in float64 by a singular value decomposition of the (centred) data matrix whose rows are
    all valid time steps of all trials. Components are unit vectors, sorted by decreasing variance,
    with the sign that makes their largest-magnitude entry positive.

    Args:
        n_components: number of components kept; None keeps ``min(samples, hidden_size)``.
        centre: subtract the mean state before the decomposition. Without centring the "variance"
            of a component is the mean squared projection (second moment) and ``mean_`` is zero.

    Attributes (after :meth:`fit`):
        components_: the principal directions, as rows.
        mean_: the mean state (zeros when ``centre=False``).
        explained_variance_: variance of the data along each component (``n - 1`` normalisation).
        explained_variance_ratio_: that variance over the total variance (of all directions).
        singular_values_: singular values of the centred data matrix.
        total_variance_: the sum of the variances of all units.
        n_samples_: the number of time steps (rows) the fit used.
        hidden_size_: the number of units of the fitted states.

    Shape:
        - fit: states (batch, time, hidden_size) with lengths (batch,), or (samples, hidden_size)
        - components_: (n_components, hidden_size); mean_: (hidden_size,)
        - explained_variance_, explained_variance_ratio_, singular_values_: (n_components,)
        - transform: (..., hidden_size) -> (..., n_components)

    Example:
        >>> pca = PCA(n_components=3).fit(trajectory.states, lengths=batch.lengths)
        >>> pcs = pca.transform(trajectory.states)        # (batch, time, 3)
    """

    def __init__(self, n_components: int | None = None, *, centre: bool = True) -> None:
        own = "PCA"
        self.n_components = None if n_components is None else check_int(own, "n_components", n_components, low=1)
        self.centre = check_bool(own, "centre", centre)

    def __repr__(self) -> str:
        return f"PCA(n_components={self.n_components}, centre={self.centre})"

    def fit(self, states: torch.Tensor, lengths: torch.Tensor | None = None) -> PCA:
        """Fit the components to ``states`` (padded steps masked out with ``lengths``). Returns self."""
        own = "PCA.fit"
        x = _as_states(own, states)
        if x.ndim == 3:
            valid = _valid_mask(own, lengths, x.shape[0], x.shape[1], x.device)
            rows = x[valid]
        else:
            if lengths is not None:
                raise ShapeError("The 'lengths' parameter of PCA.fit only applies to states of shape "
                                 f"(batch, time, hidden_size). Got states of shape {tuple(x.shape)}.")
            rows = x
        rows = rows.to(torch.float64)
        n, N = rows.shape
        if n < 2:
            raise ShapeError(f"PCA.fit needs at least 2 valid time steps. Got {n}.")
        k_max = min(n, N)
        k = k_max if self.n_components is None else self.n_components
        if k > k_max:
            raise ConfigError(f"The 'n_components' parameter of PCA must be an int <= {k_max} "
                              f"(min(samples, hidden_size) for these states). Got {k} instead.")
        mean = rows.mean(0) if self.centre else rows.new_zeros(N)
        centred = rows - mean
        _, s, vh = torch.linalg.svd(centred, full_matrices=False)
        # deterministic signs: the largest-magnitude entry of each component is positive
        biggest = vh.abs().argmax(dim=1)
        signs = torch.sign(vh[torch.arange(vh.shape[0]), biggest])
        vh = vh * torch.where(signs == 0, torch.ones_like(signs), signs)[:, None]
        variance = s**2 / (n - 1)
        total = float((centred**2).sum() / (n - 1))
        self.components_ = vh[:k].clone()
        self.mean_ = mean
        self.singular_values_ = s[:k].clone()
        self.explained_variance_ = variance[:k].clone()
        self.explained_variance_ratio_ = variance[:k] / total if total > 0 else torch.zeros_like(variance[:k])
        self.total_variance_ = total
        self.n_samples_ = n
        self.hidden_size_ = N
        return self

    def _check_last_axis(self, owner: str, name: str, x: Any, size: int) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"The {name!r} parameter of {owner} must have shape (..., {size}). Got {shape} instead.")
        return x.detach()

    def transform(self, states: torch.Tensor) -> torch.Tensor:
        """Coordinates of ``states`` on the components, keeping the leading axes.

        Shape:
            - states: (..., hidden_size) -> (..., n_components), in the floating dtype of ``states``
        """
        _check_fitted(self, "components_")
        x = self._check_last_axis("PCA.transform", "states", states, self.hidden_size_)
        dtype = x.dtype if x.is_floating_point() else torch.float64
        out = (x.to(torch.float64) - self.mean_.to(x.device)) @ self.components_.to(x.device).T
        return out.to(dtype)

    def fit_transform(self, states: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`fit` then :meth:`transform` of the same states."""
        return self.fit(states, lengths).transform(states)

    def inverse_transform(self, projections: torch.Tensor) -> torch.Tensor:
        """States in the original space from coordinates on the components.

        Shape:
            - projections: (..., n_components) -> (..., hidden_size)
        """
        _check_fitted(self, "components_")
        p = self._check_last_axis("PCA.inverse_transform", "projections", projections, self.components_.shape[0])
        dtype = p.dtype if p.is_floating_point() else torch.float64
        out = p.to(torch.float64) @ self.components_.to(p.device) + self.mean_.to(p.device)
        return out.to(dtype)


# ---------------------------------------------------------------------------------------------- regression axes
class RegressionAxes:
    """Targeted dimensionality reduction: one orthonormal axis per task variable (Mante et al. 2013).

    :meth:`fit` follows Mante's toolbox:

    1. **Preprocess**: Gaussian smoothing in time (``smoothing_ms``, see :func:`gaussian_smooth`),
       then centre each unit on its mean across trials and valid time steps and, with ``zscore``,
       divide it by its standard deviation.
    2. **Regress**: at every time step, each unit's activity across trials is fitted by least squares
       as a constant plus a linear combination of the task variables. The variables come from the
       trials' ``conditions``; a two-valued integer or boolean variable (e.g. ``context``) is coded as
       -1 / +1 (smaller / larger value); then every regressor is standardised (zero mean, unit standard
       deviation across trials), so coefficients are in units of activity per standard deviation of
       the variable. This gives ``beta_`` (n_variables, time, N).
    3. **De-noise**: project the coefficients onto the ``n_pcs`` leading principal components of the
       condition-averaged activity (conditions = unique combinations of the variables' values):
       ``beta @ D`` with ``D = sum_i v_i v_i^T``.
    4. **Reduce**: one vector per variable, inside ``time_window``: the coefficient vector at the step
       where its norm is largest (``reduce="max_norm"``, Mante's choice) or the mean over the window
       (``reduce="mean"``).
    5. **Orthogonalise** the vectors by QR in the order of ``variables`` (so the first axis is the
       first variable's vector itself, the second is the part of the second vector orthogonal to the
       first, ...). Each axis keeps the sign of its vector: a larger projection means a larger value of
       the variable.

    Args:
        variables: condition names, in orthogonalisation order; ``"name[j]"`` selects column j of a
            multi-column condition (e.g. ``"final_state[0]"``).
        n_pcs: number of principal components used to de-noise (None: no de-noising). Must be at
            least the number of variables.
        time_window: ``(t0_ms, t1_ms)``, the window (inclusive; step ``t`` is at ``dt * (t + 1)`` ms as in
            :attr:`TrialBatch.times`) from which the vectors are taken; None for the whole trial.
        smoothing_ms: standard deviation of the Gaussian smoothing kernel in ms (0: none).
        zscore: divide each unit by its standard deviation before regressing (units are always
            centred; the constant of the regression makes the coefficients independent of that).
        reduce: ``"max_norm"`` or ``"mean"``, how a vector is taken from the window (step 4).

    Attributes (after :meth:`fit`):
        variables_: the variable names.
        axes_: the orthonormal axes, as rows (in z-scored units when ``zscore``).
        raw_axes_: the de-noised vectors before orthogonalisation.
        beta_: the regression coefficients of each variable (NaN at steps with fewer valid trials
            than regressors).
        beta_denoised_: ``beta_`` after de-noising.
        intercept_: the constant term of the regression.
        axis_steps_: for ``"max_norm"``, the step of each vector (-1 for ``"mean"``).
        times_: time of each step in ms.
        unit_mean_, unit_scale_: the mean and standard deviation of each unit (scale 1 when
            ``zscore=False``); :meth:`transform` applies them.
        denoise_: the de-noising projector D (identity when ``n_pcs=None``).
        pca_: the :class:`PCA` of the condition averages (None when ``n_pcs=None``).
        explained_variance_: variance of the condition-averaged activity along each axis.
        explained_variance_ratio_: that variance over the total variance of the condition averages.
        hidden_size_: the number of units of the fitted states.

    Shape:
        - fit: states (batch, time, N), conditions[key] (batch,) or (batch, m), lengths (batch,)
        - axes_, raw_axes_: (n_variables, N)
        - beta_, beta_denoised_: (n_variables, time, N); intercept_: (time, N)
        - transform: (..., N) -> (..., n_variables)
    """

    def __init__(
        self,
        variables: Sequence[str] = ("choice", "coherence_motion", "coherence_colour", "context"),
        *,
        n_pcs: int | None = 12,
        time_window: tuple[float, float] | None = None,
        smoothing_ms: float = 40.0,
        zscore: bool = True,
        reduce: str = "max_norm",
    ) -> None:
        own = "RegressionAxes"
        if (isinstance(variables, str) or not isinstance(variables, Sequence) or len(variables) == 0
                or not all(isinstance(v, str) and v for v in variables) or len(set(variables)) != len(variables)):
            raise ConfigError(f"The 'variables' parameter of {own} must be a non-empty sequence of distinct "
                              f"condition names. Got {variables!r} instead.")
        self.variables = tuple(variables)
        self.n_pcs = None if n_pcs is None else check_int(own, "n_pcs", n_pcs, low=len(self.variables))
        self.time_window = self._check_window(own, time_window)
        self.smoothing_ms = check_float(own, "smoothing_ms", smoothing_ms, low=0)
        self.zscore = check_bool(own, "zscore", zscore)
        self.reduce = check_choice(own, "reduce", reduce, ("max_norm", "mean"))

    @staticmethod
    def _check_window(own: str, window: Any) -> tuple[float, float] | None:
        if window is None:
            return None
        try:
            t0, t1 = (float(v) for v in window)
        except (TypeError, ValueError):
            t0 = t1 = math.nan
        if not (math.isfinite(t0) and math.isfinite(t1) and t0 <= t1):
            raise ConfigError(f"The 'time_window' parameter of {own} must be None or a pair (t0_ms, t1_ms) "
                              f"with t0_ms <= t1_ms. Got {window!r} instead.")
        return (t0, t1)

    def __repr__(self) -> str:
        return (f"RegressionAxes(variables={self.variables!r}, n_pcs={self.n_pcs}, time_window={self.time_window}, "
                f"smoothing_ms={self.smoothing_ms}, zscore={self.zscore}, reduce={self.reduce!r})")

    # ------------------------------------------------------------------ regressors
    def _regressors(self, conditions: Mapping[str, torch.Tensor], batch: int) -> torch.Tensor:
        """Standardised regressors, (batch, n_variables), float64."""
        own = "RegressionAxes.fit"
        columns = []
        for name in self.variables:
            raw = _condition_column(own, conditions, name, batch, whole=False)
            values = raw.to(torch.float64).cpu()
            if not bool(torch.isfinite(values).all()):
                raise ConfigError(f"Condition {name!r} given to {own} has NaN or infinite values.")
            levels = torch.unique(values)
            if not raw.is_floating_point() and len(levels) == 2:  # categorical: -1 / +1
                values = torch.where(values == levels[1], 1.0, -1.0).to(torch.float64)
            std = values.std(unbiased=False)
            if float(std) <= 1e-12 * max(1.0, float(values.abs().max())):
                raise ConfigError(f"Condition {name!r} given to {own} takes a single value across the trials; "
                                  "it cannot be regressed on. Drop it from 'variables' or vary it.")
            columns.append((values - values.mean()) / std)
        X = torch.stack(columns, dim=1)
        if int(torch.linalg.matrix_rank(X)) < X.shape[1]:
            listed = ", ".join(map(repr, self.variables))
            raise ConfigError(f"The variables {listed} given to {own} are linearly dependent across the trials "
                              "(one is a combination of the others); their effects cannot be told apart.")
        return X

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        states: torch.Tensor,
        conditions: Mapping[str, torch.Tensor],
        dt: float,
        lengths: torch.Tensor | None = None,
    ) -> RegressionAxes:
        """Find the axes from single-trial ``states`` and the trials' ``conditions``. Returns self.

        Args:
            states: single-trial trajectories (not condition averages: the regression needs the
                trial-to-trial variation of the variables).
            conditions: per-trial task variables, e.g. ``batch.conditions``.
            dt: the time step in ms (for smoothing and ``time_window``).
            lengths: number of valid steps of each trial, None if all are valid.

        Shape:
            - states: (batch, time, N); conditions[key]: (batch,) or (batch, m); lengths: (batch,)
        """
        own = "RegressionAxes.fit"
        dt = check_float(own, "dt", dt, low=0, low_inclusive=False)
        x = _as_states(own, states, allow_2d=False).to(torch.float64)
        B, T, N = x.shape
        V = len(self.variables)
        if not isinstance(conditions, Mapping):
            raise ConfigError(f"The 'conditions' parameter of {own} must be a mapping of condition names to "
                              f"per-trial tensors (e.g. batch.conditions). Got {type(conditions).__name__} instead.")
        if B < V + 2:
            raise ShapeError(f"{own} needs more trials than regressors: at least {V + 2} for {V} variables. "
                             f"Got {B} trials.")
        if self.n_pcs is not None and self.n_pcs > N:
            raise ConfigError(f"The 'n_pcs' parameter of RegressionAxes must be an int <= {N} (hidden_size of "
                              f"these states). Got {self.n_pcs} instead.")
        if V > N:
            raise ConfigError(f"RegressionAxes needs at most hidden_size ({N}) variables to orthogonalise. "
                              f"Got {V}.")
        valid = _valid_mask(own, lengths, B, T, x.device)
        X = self._regressors(conditions, B).to(x.device)
        times = dt * torch.arange(1, T + 1, dtype=torch.float64)

        # 1. preprocess: smooth, then centre (and scale) each unit over valid steps
        if self.smoothing_ms > 0:
            x = gaussian_smooth(x, self.smoothing_ms, dt, valid.sum(1))
        x = torch.where(valid[..., None], x, 0.0)  # padding (possibly NaN) never enters a sum
        w = valid.to(torch.float64)
        n_valid = w.sum()
        mean = (x * w[..., None]).sum((0, 1)) / n_valid
        if self.zscore:
            var = (((x - mean) ** 2) * w[..., None]).sum((0, 1)) / n_valid
            scale = torch.sqrt(var)
            scale = torch.where(scale > 1e-12 * scale.max().clamp_min(1e-300), scale, torch.ones_like(scale))
        else:
            scale = x.new_ones(N)
        z = (x - mean) / scale

        # 2. regress each unit at each step on [1, variables], across the valid trials
        design = torch.cat([X.new_ones(B, 1), X], dim=1)  # (B, V + 1)
        gram = torch.einsum("bt,bi,bj->tij", w, design, design)  # (T, V+1, V+1)
        rhs = torch.einsum("bt,bi,btn->tin", w, design, z)  # (T, V+1, N)
        coef = torch.linalg.pinv(gram, hermitian=True) @ rhs
        estimable = (w.sum(0) > V + 1) & (torch.linalg.matrix_rank(gram, hermitian=True) == V + 1)
        coef = torch.where(estimable[:, None, None], coef, torch.full_like(coef, math.nan))
        beta = coef[:, 1:, :].permute(1, 0, 2).contiguous()  # (V, T, N)

        # 3. de-noise with the leading PCs of the condition averages
        _, groups = torch.unique(X.cpu(), dim=0, return_inverse=True)
        groups = groups.to(x.device)
        G = int(groups.max()) + 1
        means, counts = _group_average(z, valid, groups, G)
        averages = means[counts > 0]  # (samples, N)
        if self.n_pcs is not None:
            if averages.shape[0] < self.n_pcs:
                raise ConfigError(f"The 'n_pcs' parameter of RegressionAxes must be an int <= "
                                  f"{averages.shape[0]} (the number of condition-averaged time steps). "
                                  f"Got {self.n_pcs} instead.")
            pca = PCA(n_components=self.n_pcs).fit(averages)
            denoise = pca.components_.T @ pca.components_
        else:
            pca, denoise = None, torch.eye(N, dtype=torch.float64, device=x.device)
        beta_denoised = beta @ denoise

        # 4. one vector per variable from the time window
        in_window = torch.ones(T, dtype=torch.bool)
        if self.time_window is not None:
            t0, t1 = self.time_window
            eps = 1e-9 * dt
            in_window = (times >= t0 - eps) & (times <= t1 + eps)
        usable = (in_window & estimable.cpu()).to(x.device)
        if not bool(usable.any()):
            raise ConfigError(f"The 'time_window' parameter of RegressionAxes must contain at least one step "
                              f"with estimable coefficients (steps at {times[0]:g} ... {times[-1]:g} ms). "
                              f"Got {self.time_window!r} instead.")
        if self.reduce == "max_norm":
            norms = torch.linalg.vector_norm(beta_denoised, dim=2)  # (V, T)
            norms = torch.where(usable, norms, torch.full_like(norms, -math.inf))
            steps = norms.argmax(dim=1)
            raw_axes = beta_denoised[torch.arange(V), steps]
        else:
            steps = torch.full((V,), -1, dtype=torch.long)
            raw_axes = beta_denoised[:, usable].mean(dim=1)

        # 5. orthogonalise in the given order, keeping each vector's sign
        q, r = torch.linalg.qr(raw_axes.T)
        diag = torch.diagonal(r)
        tiny = diag.abs() <= 1e-10 * torch.linalg.vector_norm(raw_axes, dim=1).max().clamp_min(1e-300)
        if bool(tiny.any()):
            which = ", ".join(repr(self.variables[i]) for i in torch.nonzero(tiny).flatten().tolist())
            raise ConfigError(f"RegressionAxes could not orthogonalise: the vector of {which} is (nearly) a "
                              "combination of the vectors before it. Check that the variables vary "
                              "independently across trials.")
        axes = (q * torch.sign(diag)).T.contiguous()

        projected = (averages - averages.mean(0)) @ axes.T
        total = float(((averages - averages.mean(0)) ** 2).sum(1).mean())
        variance = (projected**2).mean(0)

        self.variables_ = self.variables
        self.axes_ = axes
        self.raw_axes_ = raw_axes
        self.beta_ = beta
        self.beta_denoised_ = beta_denoised
        self.intercept_ = coef[:, 0, :].clone()
        self.axis_steps_ = steps.cpu()
        self.times_ = times
        self.unit_mean_ = mean
        self.unit_scale_ = scale
        self.denoise_ = denoise
        self.pca_ = pca
        self.explained_variance_ = variance
        self.explained_variance_ratio_ = variance / total if total > 0 else torch.zeros_like(variance)
        self.hidden_size_ = N
        return self

    # ------------------------------------------------------------------ transform
    def transform(self, states: torch.Tensor) -> torch.Tensor:
        """Projections of ``states`` on the axes, after the fitted centring (and scaling) of each unit.

        Only the centring and scaling are applied, not the smoothing (smooth first with :func:`gaussian_smooth`
        if wanted); condition averages (:func:`condition_average`) are the usual input.

        Shape:
            - states: (..., N) -> (..., n_variables), in the floating dtype of ``states``
        """
        _check_fitted(self, "axes_")
        if not isinstance(states, torch.Tensor) or states.ndim < 1 or states.shape[-1] != self.hidden_size_:
            shape = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__
            raise ShapeError(f"The 'states' parameter of RegressionAxes.transform must have shape "
                             f"(..., {self.hidden_size_}). Got {shape} instead.")
        x = states.detach()
        dtype = x.dtype if x.is_floating_point() else torch.float64
        dev = x.device
        z = (x.to(torch.float64) - self.unit_mean_.to(dev)) / self.unit_scale_.to(dev)
        return (z @ self.axes_.to(dev).T).to(dtype)
