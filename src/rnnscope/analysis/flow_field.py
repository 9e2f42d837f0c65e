"""Flow fields and phase portraits: the velocity of a network on a 2-D plane of its state space.

A plane is an origin ``o`` (N,) and two basis vectors, the rows of ``B`` (2, N). The grid point
``(a, c)`` is the state ``x = o + a B[0] + c B[1]``; its in-plane velocity ``(U, V)`` is the
least-squares coordinate vector of ``F(x)`` in the basis, ``(U, V) = pinv(B^T) F(x)`` (for
orthonormal rows simply ``B F(x)``), where ``F`` is the vector field ``dx/dt`` (per ms) in continuous
time and the map minus the identity, ``x(t+1) - x(t)`` (per step), in discrete time.

For a plane through a larger network this is a *projection*: states off the plane move too, and the
projected field shows where a state placed on the plane would head at first. Two cases are exact:

- a network with two units and the identity basis;
- :func:`latent_flow_field` for a low-rank network without random bulk (a low-rank
  :class:`~rnnscope.models.RateRNN`, or any model that gives its ``low_rank_factors``).
  With ``J = M N^T / N_units`` (M, N of shape (N_units, K)) and a constant drive ``v = I u + b``,
  a state ``x = M kappa + v`` stays on the affine plane ``v + span(M)``::

      tau dx/dt = -M kappa - v + M N^T phi(x) / N_units + v = M (-kappa + N^T phi(x) / N_units)

  so ``tau dkappa/dt = -kappa + N^T phi(M kappa + v) / N_units`` exactly (discrete time:
  ``kappa(t+1) = N^T phi(M kappa + v) / N_units``). For rank one, the second coordinate is the
  component ``w`` along one input column ``I_k`` (Dubreuil, Valente et al. 2022): with
  ``x = m kappa + I_k w + c``, ``c`` the drive of the other inputs and the bias,
  ``tau dw/dt = -w + u_k`` and ``tau dkappa/dt = -kappa + n^T phi(x) / N_units``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_int
from ..dynamics import Trajectory
from ..errors import ConfigError, ShapeError
from ..models._base import AbstractRNN
from ._results_io import load_result, save_result

__all__ = ["FlowField", "Nullclines", "flow_field", "flow_field_from_pca", "latent_flow_field", "nullclines"]

_ARRAYS = ("X", "Y", "U", "V", "speed", "state_speed", "basis", "origin", "inputs")


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class FlowField:
    """The velocity of a network on a grid of a 2-D plane of its state space.

    The grid point ``(X[i, j], Y[i, j])`` is the state ``origin + X[i, j] basis[0] + Y[i, j] basis[1]``
    (``X`` varies along columns, ``Y`` along rows: matplotlib's ``meshgrid`` convention, ready for
    ``streamplot``, ``pcolormesh`` and ``contour``).

    Attributes:
        X, Y: grid coordinates on the plane, float64.
        U, V: in-plane velocity at each grid point, in plane coordinates: per ms in continuous time,
            per step (``x(t+1) - x(t)``) in discrete time.
        speed: ``sqrt(U^2 + V^2)``, the in-plane speed.
        state_speed: ``|F(x)|``, the speed of the full state (off-plane motion included); on an exact
            plane (:func:`latent_flow_field`) it is the in-plane velocity measured in state space.
        basis: the plane's basis vectors as rows (linearly independent, not necessarily orthonormal).
        origin: the state at plane coordinates (0, 0).
        inputs: the constant input the field was computed at.
        labels: names of the two coordinates (``"PC1"``, ``"kappa1"``, ...).
        time: ``"continuous"`` or ``"discrete"``.
        dt: the model's time step in ms.

    Shape:
        - X, Y, U, V, speed, state_speed: (resolution, resolution)
        - basis: (2, hidden_size); origin: (hidden_size,); inputs: (input_size,)
    """

    X: torch.Tensor
    Y: torch.Tensor
    U: torch.Tensor
    V: torch.Tensor
    speed: torch.Tensor
    state_speed: torch.Tensor
    basis: torch.Tensor
    origin: torch.Tensor
    inputs: torch.Tensor
    labels: tuple[str, str] = ("axis 1", "axis 2")
    time: str = "continuous"
    dt: float = 1.0

    def __post_init__(self) -> None:
        own = "FlowField"
        if self.time not in ("continuous", "discrete"):
            raise ConfigError(f"The 'time' parameter of {own} must be one of 'continuous', 'discrete'. "
                              f"Got {self.time!r} instead.")
        if self.X.ndim != 2:
            raise ShapeError(f"The 'X' parameter of {own} must have shape (resolution, resolution). "
                             f"Got {tuple(self.X.shape)} instead.")
        grid = tuple(self.X.shape)
        for name in ("Y", "U", "V", "speed", "state_speed"):
            if tuple(getattr(self, name).shape) != grid:
                raise ShapeError(f"The {name!r} parameter of {own} must have the shape of 'X', {grid}. "
                                 f"Got {tuple(getattr(self, name).shape)} instead.")
        if self.basis.ndim != 2 or self.basis.shape[0] != 2:
            raise ShapeError(f"The 'basis' parameter of {own} must have shape (2, hidden_size). "
                             f"Got {tuple(self.basis.shape)} instead.")
        if tuple(self.origin.shape) != (self.basis.shape[1],):
            raise ShapeError(f"The 'origin' parameter of {own} must have shape ({self.basis.shape[1]},) "
                             f"(hidden_size). Got {tuple(self.origin.shape)} instead.")
        if self.inputs.ndim != 1:
            raise ShapeError(f"The 'inputs' parameter of {own} must have shape (input_size,). "
                             f"Got {tuple(self.inputs.shape)} instead.")
        labels = tuple(self.labels)
        if len(labels) != 2 or not all(isinstance(s, str) for s in labels):
            raise ConfigError(f"The 'labels' parameter of {own} must be two strings. Got {self.labels!r} instead.")
        object.__setattr__(self, "labels", labels)

    @property
    def hidden_size(self) -> int:
        return int(self.basis.shape[1])

    @property
    def resolution(self) -> tuple[int, int]:
        """Number of grid points along (y, x), i.e. ``X.shape``."""
        return tuple(self.X.shape)  # type: ignore[return-value]

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(xmin, xmax, ymin, ymax)`` of the grid."""
        return (float(self.X[0, 0]), float(self.X[0, -1]), float(self.Y[0, 0]), float(self.Y[-1, 0]))

    def project(self, states: torch.Tensor) -> torch.Tensor:
        """Plane coordinates of states: ``pinv(basis^T) (x - origin)`` (the orthogonal projection
        onto the plane, in the plane's basis). Use it for fixed points and trajectories.

        Shape: (..., hidden_size) -> (..., 2), float64.
        """
        x = _as_tensor("FlowField.project", "states", states)
        if x.ndim < 1 or x.shape[-1] != self.hidden_size:
            raise ShapeError(f"The 'states' parameter of FlowField.project must have shape (..., "
                             f"{self.hidden_size}) (hidden_size). Got {tuple(x.shape)} instead.")
        P = torch.linalg.pinv(self.basis.T)
        return (x.to(self.origin) - self.origin) @ P.T

    def grid_states(self) -> torch.Tensor:
        """The state at every grid point. Shape: (resolution, resolution, hidden_size)."""
        return _plane_states(self.origin, self.basis, self.X, self.Y)

    def __repr__(self) -> str:
        x0, x1, y0, y1 = self.extent
        return (f"FlowField(resolution={self.resolution}, labels={self.labels}, hidden_size={self.hidden_size}, "
                f"time={self.time!r}, extent=({x0:g}, {x1:g}, {y0:g}, {y1:g}))")

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (arrays named like the attributes, plus ``meta``, a JSON string with
        ``labels``, ``time`` and ``dt``). Returns the path written."""
        return save_result(path, "FlowField", {name: getattr(self, name) for name in _ARRAYS},
                           {"labels": list(self.labels), "time": self.time, "dt": self.dt})

    @classmethod
    def load(cls, path: str | Path) -> FlowField:
        """Read a file written by :meth:`save`."""
        kw, meta = load_result(path, "FlowField", _ARRAYS)
        return cls(**kw, labels=tuple(meta["labels"]), time=meta["time"], dt=float(meta["dt"]))


@dataclass(frozen=True)
class Nullclines:
    """Zero-level curves of the two in-plane velocity components.

    Attributes:
        x_nullcline: curves where ``U = 0`` (the first coordinate is momentarily still).
        y_nullcline: curves where ``V = 0``.

    Each curve is a polyline of plane coordinates, float64, shape (points, 2). For a two-variable
    system (a 2-unit network on the identity basis, or :func:`latent_flow_field`) these are the
    nullclines and their crossings are the fixed points; for a plane through a larger network they
    are where the *projected* velocity vanishes on the plane.
    """

    x_nullcline: tuple[torch.Tensor, ...]
    y_nullcline: tuple[torch.Tensor, ...]


# ---------------------------------------------------------------------------------------------- helpers
def _as_tensor(owner: str, name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            raise ConfigError(f"The {name!r} parameter of {owner} must be a tensor or an array of numbers. "
                              f"Got {type(value).__name__} instead.") from None
    return t.to(torch.float64)


def _check_model(owner: str, model: Any) -> AbstractRNN:
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {owner} must be an AbstractRNN. "
                          f"Got {type(model).__name__} instead.")
    return model


def _check_basis(owner: str, basis: Any, N: int, name: str = "basis") -> torch.Tensor:
    B = _as_tensor(owner, name, basis)
    if tuple(B.shape) != (2, N):
        raise ShapeError(f"The {name!r} parameter of {owner} must have shape (2, {N}) (two basis vectors of "
                         f"length hidden_size as rows). Got {tuple(B.shape)} instead.")
    if not torch.isfinite(B).all():
        raise ConfigError(f"The {name!r} parameter of {owner} must be finite. Got NaN or inf values.")
    s = torch.linalg.svdvals(B)
    if float(s[0]) == 0 or float(s[1]) <= 1e-10 * float(s[0]):
        raise ConfigError(f"The {name!r} parameter of {owner} must have two linearly independent rows. "
                          f"Got rows with singular values {float(s[0]):.3g}, {float(s[1]):.3g} instead.")
    return B


def _check_vector(owner: str, name: str, value: Any, size: int, what: str) -> torch.Tensor:
    v = _as_tensor(owner, name, value)
    if tuple(v.shape) != (size,):
        raise ShapeError(f"The {name!r} parameter of {owner} must have shape ({size},) ({what}). "
                         f"Got {tuple(v.shape)} instead.")
    if not torch.isfinite(v).all():
        raise ConfigError(f"The {name!r} parameter of {owner} must be finite. Got NaN or inf values.")
    return v


def _check_labels(owner: str, labels: Any) -> tuple[str, str]:
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) != 2 \
            or not all(isinstance(s, str) for s in labels):
        raise ConfigError(f"The 'labels' parameter of {owner} must be a pair of strings. Got {labels!r} instead.")
    return (labels[0], labels[1])


def _extent(owner: str, extent: Any, states: Any, project) -> tuple[float, float, float, float]:
    """``(xmin, xmax, ymin, ymax)`` from ``extent`` or from the bounding box of projected ``states``."""
    if extent is None and states is None:
        raise ConfigError(f"{owner} needs the 'extent' of the grid or 'states' to fit it around. "
                          f"Got extent=None and states=None.")
    if extent is not None and states is not None:
        raise ConfigError(f"{owner} takes either 'extent' or 'states', not both.")
    if extent is not None:
        constraint = "a float > 0 (the square [-a, a]^2) or four floats (xmin, xmax, ymin, ymax) with min < max"
        if isinstance(extent, (int, float)) and not isinstance(extent, bool):
            a = float(extent)
            if not (np.isfinite(a) and a > 0):
                raise ConfigError(f"The 'extent' parameter of {owner} must be {constraint}. Got {extent!r} instead.")
            return (-a, a, -a, a)
        try:
            x0, x1, y0, y1 = (float(v) for v in extent)
        except (TypeError, ValueError):
            raise ConfigError(f"The 'extent' parameter of {owner} must be {constraint}. "
                              f"Got {extent!r} instead.") from None
        if not all(np.isfinite([x0, x1, y0, y1])) or not (x0 < x1 and y0 < y1):
            raise ConfigError(f"The 'extent' parameter of {owner} must be {constraint}. Got {extent!r} instead.")
        return (x0, x1, y0, y1)
    if isinstance(states, Trajectory):
        states = states.states
    states = _as_tensor(owner, "states", states)
    xy = project(states).reshape(-1, 2)
    if xy.shape[0] == 0 or not torch.isfinite(xy).all():
        raise ConfigError(f"The 'states' parameter of {owner} must be non-empty and finite. "
                          f"Got shape {tuple(states.shape)}.")
    lo, hi = xy.min(0).values, xy.max(0).values
    width = hi - lo
    pad = torch.where(width > 0, 0.1 * width, torch.ones_like(width))
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def _grid(extent: tuple[float, float, float, float], resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    x0, x1, y0, y1 = extent
    xs = torch.linspace(x0, x1, resolution, dtype=torch.float64)
    ys = torch.linspace(y0, y1, resolution, dtype=torch.float64)
    return torch.meshgrid(xs, ys, indexing="xy")


def _plane_states(origin: torch.Tensor, basis: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return origin + X[..., None] * basis[0] + Y[..., None] * basis[1]


def _model64(model: AbstractRNN) -> AbstractRNN:
    return model.for_analysis().to("cpu")


def _check_inputs(owner: str, model: AbstractRNN, inputs: Any) -> torch.Tensor:
    if inputs is None:
        return torch.zeros(model.input_size, dtype=torch.float64)
    return _check_vector(owner, "inputs", inputs, model.input_size, "input_size")


def _velocity(model64: AbstractRNN, states: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``F(x)`` on a batch of states, rows at a time to bound memory. Shape: (R, C, N) -> (R, C, N)."""
    R, C, N = states.shape
    rows = max(1, (1 << 22) // max(1, C * N))
    field = model64.at_input(u)
    return torch.cat([field.residual(states[i:i + rows]) for i in range(0, R, rows)], dim=0)


def _assemble(X, Y, U, V, state_speed, basis, origin, u, labels, model) -> FlowField:
    return FlowField(X=X, Y=Y, U=U, V=V, speed=torch.hypot(U, V), state_speed=state_speed, basis=basis,
                     origin=origin, inputs=u, labels=labels, time=model.time, dt=float(model.dt))


# ---------------------------------------------------------------------------------------------- public
def flow_field(
    model: AbstractRNN,
    basis: torch.Tensor,
    *,
    origin: torch.Tensor | None = None,
    inputs: torch.Tensor | None = None,
    extent: float | Sequence[float] | None = None,
    states: torch.Tensor | None = None,
    resolution: int = 25,
    labels: Sequence[str] = ("axis 1", "axis 2"),
) -> FlowField:
    """The velocity of ``model`` on a grid of the plane ``origin + span(basis)``.

    See the module docstring for the definition. The field is computed in float64 on a copy of the
    model, without noise, at the constant input ``inputs``.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        basis: two basis vectors as rows, e.g. the top two principal axes or two (orthogonalised)
            regression axes (two rows of ``RegressionAxes.axes_``; fitted with ``zscore=True`` those
            are directions in z-scored units, not in state space). Rows need only be linearly
            independent; orthonormal rows make the plane coordinates Euclidean.
        origin: the state at plane coordinates (0, 0); for a plane through data take the data mean.
            None: the zero state.
        inputs: the constant input; None for zero input.
        extent: the grid: ``a`` for the square ``[-a, a]^2``, or ``(xmin, xmax, ymin, ymax)``.
        states: instead of ``extent``, states (..., hidden_size) or a
            :class:`~rnnscope.dynamics.Trajectory` whose projection the grid covers (their bounding
            box, padded by 10% on each side).
        resolution: grid points along each axis (>= 2).
        labels: names of the two coordinates, for plots.

    Returns:
        A :class:`FlowField`.

    Shape:
        - basis: (2, hidden_size); origin: (hidden_size,); inputs: (input_size,)
        - states: (..., hidden_size)
    """
    own = "flow_field"
    model = _check_model(own, model)
    N = model.hidden_size
    B = _check_basis(own, basis, N)
    if origin is None:
        o = torch.zeros(N, dtype=torch.float64)
    else:
        o = _check_vector(own, "origin", origin, N, "hidden_size")
    u = _check_inputs(own, model, inputs)
    resolution = check_int(own, "resolution", resolution, low=2)
    labels = _check_labels(own, labels)
    P = torch.linalg.pinv(B.T)  # (2, N): plane coordinates of a state-space vector

    def project(x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != N:
            raise ShapeError(f"The 'states' parameter of {own} must have shape (..., {N}) (hidden_size). "
                             f"Got {tuple(x.shape)} instead.")
        return (x.to(torch.float64) - o) @ P.T

    box = _extent(own, extent, states, project)
    X, Y = _grid(box, resolution)
    m64 = _model64(model)
    with torch.no_grad():
        F = _velocity(m64, _plane_states(o, B, X, Y), u)
        UV = F @ P.T
    return _assemble(X, Y, UV[..., 0].contiguous(), UV[..., 1].contiguous(), F.norm(dim=-1), B, o, u, labels, model)


def flow_field_from_pca(
    model: AbstractRNN,
    pca_or_basis: Any,
    *,
    components: tuple[int, int] = (0, 1),
    origin: torch.Tensor | None = None,
    inputs: torch.Tensor | None = None,
    extent: float | Sequence[float] | None = None,
    states: torch.Tensor | None = None,
    resolution: int = 25,
) -> FlowField:
    """The flow field on the plane of two principal axes.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        pca_or_basis: a fitted PCA exposing ``components_`` (k, hidden_size) and ``mean_``
            (hidden_size,) -- rnnscope's PCA estimator or scikit-learn's -- or a tensor of axes as
            rows (k, hidden_size).
        components: which two axes span the plane (0-based rows of the components).
        origin: the state at (0, 0); None: the PCA's ``mean_`` (the zero state for a bare tensor).
        inputs, extent, states, resolution: as in :func:`flow_field`.

    Returns:
        A :class:`FlowField` labelled ``"PC<i+1>"``.
    """
    own = "flow_field_from_pca"
    model = _check_model(own, model)
    N = model.hidden_size
    mean = None
    if isinstance(pca_or_basis, (torch.Tensor, np.ndarray, list, tuple)):
        axes = _as_tensor(own, "pca_or_basis", pca_or_basis)
    else:
        try:
            axes, mean = pca_or_basis.components_, pca_or_basis.mean_
        except AttributeError:
            raise ConfigError(f"The 'pca_or_basis' parameter of {own} must be a fitted PCA (with "
                              f"'components_' and 'mean_') or a tensor of axes (k, {N}). "
                              f"Got {type(pca_or_basis).__name__} instead.") from None
        axes = _as_tensor(own, "pca_or_basis.components_", axes)
        mean = _check_vector(own, "pca_or_basis.mean_", mean, N, "hidden_size")
    if axes.ndim != 2 or axes.shape[1] != N or axes.shape[0] < 2:
        raise ShapeError(f"The axes of 'pca_or_basis' in {own} must have shape (k >= 2, {N}) (hidden_size). "
                         f"Got {tuple(axes.shape)} instead.")
    k = axes.shape[0]
    try:
        i, j = (check_int(own, "components", c, low=0, high=k - 1) for c in components)
    except (TypeError, ValueError):
        raise ConfigError(f"The 'components' parameter of {own} must be two distinct ints in [0, {k - 1}]. "
                          f"Got {components!r} instead.") from None
    if i == j:
        raise ConfigError(f"The 'components' parameter of {own} must be two distinct ints in [0, {k - 1}]. "
                          f"Got {components!r} instead.")
    if origin is None:
        origin = mean
    return flow_field(model, axes[[i, j]], origin=origin, inputs=inputs, extent=extent, states=states,
                      resolution=resolution, labels=(f"PC{i + 1}", f"PC{j + 1}"))


def latent_flow_field(
    model: AbstractRNN,
    inputs: torch.Tensor | None = None,
    *,
    input_channel: int | None = None,
    extent: float | Sequence[float] | None = None,
    states: torch.Tensor | None = None,
    resolution: int = 25,
) -> FlowField:
    """The exact 2-D flow of a low-rank network in its latent coordinates.

    Rank two: coordinates ``(kappa1, kappa2)`` on the plane ``x = m1 kappa1 + m2 kappa2 + I u + b``.
    Rank one: ``(kappa, w)`` on ``x = m kappa + I_k w + c``, with ``I_k`` the column of the input
    weights of ``input_channel`` and ``c`` the drive of the other inputs plus the bias; ``w`` relaxes
    to the input ``u_k``. The reduced dynamics (module docstring) is exact: the result equals
    :func:`flow_field` on the same plane (``basis`` = the m vectors, resp. ``m`` and ``I_k``, not
    orthonormal), computed in O(N K) per grid point.

    Args:
        model: a low-rank network (its :meth:`~rnnscope.models.AbstractRNN.low_rank_factors` given,
            rank 1 or 2, without random bulk), e.g. a RateRNN with ``rank`` 1 or 2 and ``bulk_g = 0``.
        inputs: the constant input (input_size,); None for zero input.
        input_channel: rank one only: the input whose direction is the second coordinate.
        extent, states, resolution: as in :func:`flow_field` (``states`` are projected on the plane).

    Returns:
        A :class:`FlowField` labelled ``("kappa1", "kappa2")`` or ``("kappa", "v<k>")``.
    """
    own = "latent_flow_field"
    model = _check_model(own, model)
    factors = model.low_rank_factors()
    if factors is None:
        raise ConfigError(f"The 'model' parameter of {own} must be a low-rank network (rank 1 or 2; its "
                          f"low_rank_factors() are None). Got {type(model).__name__} instead.")
    if factors.bulk is not None:
        raise ConfigError(f"The 'model' parameter of {own} must have no random bulk (bulk_g = 0): the reduced "
                          f"dynamics is exact only then. Got bulk_g={factors.bulk_g:g} instead.")
    K = factors.rank
    if K == 2 and input_channel is not None:
        raise ConfigError(f"The 'input_channel' parameter of {own} applies to rank-one networks only (a rank-two "
                          f"network already has two latent coordinates). Got {input_channel!r} instead.")
    if K == 1 and input_channel is None:
        raise ConfigError(f"The 'input_channel' parameter of {own} must name the input (0 to "
                          f"{model.input_size - 1}) spanning the second coordinate of a rank-one network. "
                          f"Got None instead.")
    if K > 2:
        raise ConfigError(f"The 'model' parameter of {own} must have rank 1 or 2 (a plane). Got rank {K} instead.")
    if input_channel is not None:
        if model.input_size == 0:
            raise ConfigError(f"The 'input_channel' parameter of {own} needs a model with inputs. "
                              f"Got input_size=0.")
        input_channel = check_int(own, "input_channel", input_channel, low=0, high=model.input_size - 1)
    u = _check_inputs(own, model, inputs)
    resolution = check_int(own, "resolution", resolution, low=2)
    m64 = _model64(model)
    f64 = m64.low_rank_factors()
    N = model.hidden_size
    with torch.no_grad():
        M, Nn = f64.m, f64.n
        if K == 2:
            B = M.T.clone()
            o = m64.at_input(u).drive
            labels = ("kappa1", "kappa2")
        else:
            B = torch.stack([M[:, 0], f64.input_weight[:, input_channel]])
            u_rest = u.clone()
            u_rest[input_channel] = 0.0
            o = m64.at_input(u_rest).drive
            labels = ("kappa", f"v{input_channel}")
        B = _check_basis(own, B, N, name="latent basis (m vectors, resp. m and the input column)")
        P = torch.linalg.pinv(B.T)

        def project(x: torch.Tensor) -> torch.Tensor:
            if x.ndim < 1 or x.shape[-1] != N:
                raise ShapeError(f"The 'states' parameter of {own} must have shape (..., {N}) (hidden_size). "
                                 f"Got {tuple(x.shape)} instead.")
            return (x.to(torch.float64) - o) @ P.T

        box = _extent(own, extent, states, project)
        X, Y = _grid(box, resolution)
        x = _plane_states(o, B, X, Y)
        target = f64.phi(x) @ Nn / N  # (R, C, K): N^T phi(x) / N_units
        if K == 2:
            U, V = target[..., 0] - X, target[..., 1] - Y
        else:
            U, V = target[..., 0] - X, u[input_channel] - Y
        if model.time == "continuous":
            U, V = U / model.time_constant, V / model.time_constant
        # F = U b0 + V b1 exactly, so |F| in state space follows from the Gram matrix of the basis
        G = B @ B.T
        state_speed = (U * U * G[0, 0] + 2 * U * V * G[0, 1] + V * V * G[1, 1]).clamp_min(0).sqrt()
    return _assemble(X, Y, U.contiguous(), V.contiguous(), state_speed, B, o, u, labels, model)


def nullclines(flow: FlowField) -> Nullclines:
    """The zero-level curves of ``U`` and ``V`` on the grid (marching squares with linear
    interpolation, by ``contourpy``, matplotlib's contouring engine).

    Returns:
        A :class:`Nullclines`; curves are polylines of plane coordinates, (points, 2) float64.
    """
    if not isinstance(flow, FlowField):
        raise ConfigError(f"The 'flow' parameter of nullclines must be a FlowField. Got {type(flow).__name__} instead.")
    import contourpy

    X = flow.X.detach().cpu().numpy()
    Y = flow.Y.detach().cpu().numpy()

    def zero_lines(Z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        gen = contourpy.contour_generator(X, Y, Z.detach().cpu().numpy(), line_type=contourpy.LineType.Separate)
        return tuple(torch.from_numpy(np.asarray(line, dtype=np.float64)) for line in gen.lines(0.0)
                     if len(line) >= 2)

    return Nullclines(x_nullcline=zero_lines(flow.U), y_nullcline=zero_lines(flow.V))
