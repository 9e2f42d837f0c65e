"""Linearisation of a model around states: Jacobian, eigenmodes, time constants, selection vectors.

Around a state ``x*`` the vector field is ``f(x* + dx) ~ f(x*) + A dx`` with ``A`` the analytic
Jacobian of :meth:`~rnnscope.models.AbstractRNN.vector_field` (of the flow in continuous time, of the
map in discrete time). Writing ``A = R diag(lambda) L^H`` with right eigenvectors R (columns) and left
eigenvectors L normalised so that ``L^H R = I``, a small perturbation decays along each right
eigenvector with the time constant of its eigenvalue, and the left eigenvector of a mode says which
inputs excite it: for the slowest mode of a trained integrator it is the *selection vector* of Mante,
Sussillo, Shenoy & Newsome (2013), which projects on the input that is integrated.

Modes are sorted from the slowest: decreasing real part (continuous time) or modulus (discrete time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import check_float, check_int
from ..errors import ConfigError, ShapeError
from ..models._base import AbstractRNN
from ..numerics import left_eigenvectors, sorted_eig
from ._fixed_points_result import FixedPoints

__all__ = ["Linearisation", "linearise", "LineAttractorReport", "line_attractor_report"]


def _rates(eigenvalues: torch.Tensor, time: str, dt: float) -> torch.Tensor:
    """Growth rate of each mode per ms: Re(lambda) (continuous) or log|lambda| / dt (discrete)."""
    if time == "discrete":
        return torch.log(eigenvalues.abs()) / dt
    return eigenvalues.real


# ---------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class Linearisation:
    """The linearised dynamics around a batch of states.

    Attributes:
        states: the states linearised around.
        inputs: the constant input at each state.
        jacobian: the analytic Jacobian of the vector field (flow or map), float64.
        eigenvalues: complex, sorted from the slowest mode (see the module docstring).
        right_eigenvectors: unit right eigenvectors, as columns, in the same order.
        left_eigenvectors: left eigenvectors, as columns, with ``L^H R = I``.
        input_directions: the direction each input pushes the state in: column k is the change of
            the vector field for a unit input on channel k at each state (``d f / d u``; for a
            continuous-time rate network ``I / tau``, the columns of its input weights over tau).
        time: ``"continuous"`` or ``"discrete"``.
        dt: time step in ms (time constants of discrete-time modes).

    Shape:
        - states: (..., N); inputs: (..., input_size); jacobian: (..., N, N)
        - eigenvalues: (..., N); right_eigenvectors, left_eigenvectors: (..., N, N)
        - input_directions: (..., N, input_size)
    """

    states: torch.Tensor
    inputs: torch.Tensor
    jacobian: torch.Tensor
    eigenvalues: torch.Tensor
    right_eigenvectors: torch.Tensor
    left_eigenvectors: torch.Tensor
    input_directions: torch.Tensor
    time: str
    dt: float

    @property
    def hidden_size(self) -> int:
        return int(self.states.shape[-1])

    @property
    def time_constants(self) -> torch.Tensor:
        """Time constant of each mode in ms: ``-1 / Re(lambda)`` (continuous) or
        ``-dt / log|lambda|`` (discrete). Negative for growing modes, inf for neutral ones.

        Shape: (..., N)
        """
        return -1.0 / _rates(self.eigenvalues, self.time, self.dt)

    def _mode(self, mode: int) -> int:
        mode = check_int("Linearisation", "mode", mode, low=0, high=self.hidden_size - 1)
        return mode

    def selection_vector(self, mode: int = 0) -> torch.Tensor:
        """The left eigenvector of a mode (default: the slowest), normalised so that ``l^H r = 1``.

        Real when the mode's eigenvalue is real at every state (the usual case for a slow mode of a
        trained network), complex otherwise.

        Shape: (..., N)
        """
        left = self.left_eigenvectors[..., :, self._mode(mode)]
        if bool((left.imag.abs() <= 1e-12 * left.abs().amax(-1, keepdim=True).clamp_min(1e-300)).all()):
            return left.real
        return left

    def input_overlaps(self, mode: int = 0) -> torch.Tensor:
        """``|l . b_k| / (|l| |b_k|)`` between the selection vector ``l`` of a mode and each input
        direction ``b_k``: 1 when input k drives the mode with nothing else, 0 when it cannot
        excite it. (The absolute value: an eigenvector's sign is arbitrary.) NaN for an input
        without effect.

        Shape: (..., input_size)
        """
        left = self.left_eigenvectors[..., :, self._mode(mode)]
        B = self.input_directions.to(left.dtype)
        dots = (left.conj().unsqueeze(-2) @ B).squeeze(-2).abs()
        norms = left.norm(dim=-1, keepdim=True) * self.input_directions.norm(dim=-2)
        return dots / norms


def linearise(model: AbstractRNN, state, inputs: torch.Tensor | None = None) -> Linearisation:
    """Linearise ``model`` around one or several states.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        state: states (..., hidden_size), or a :class:`~rnnscope.analysis.FixedPoints` (its states
            and inputs).
        inputs: the constant input, (input_size,) or (..., input_size) broadcastable to the states;
            None for zero input (or the inputs of a FixedPoints).

    Returns:
        A :class:`Linearisation`, in float64.
    """
    own = "linearise"
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {own} must be an AbstractRNN. Got {type(model).__name__} instead.")
    N, I = model.hidden_size, model.input_size
    if isinstance(state, FixedPoints):
        if inputs is None:
            inputs = state.inputs
        state = state.states
    if not isinstance(state, torch.Tensor):
        state = torch.as_tensor(state)
    if state.ndim == 0 or state.shape[-1] != N:
        raise ShapeError(f"The 'state' parameter of {own} must have shape (..., {N}). "
                         f"Got {tuple(state.shape)} instead.")
    device = next(iter(model.parameters()), torch.empty(0)).device
    x = state.detach().to(device=device, dtype=torch.float64)
    if inputs is None:
        u = x.new_zeros(*x.shape[:-1], I)
    else:
        u = torch.as_tensor(inputs).detach().to(device=device, dtype=torch.float64)
        if u.ndim == 0 or u.shape[-1] != I:
            raise ShapeError(f"The 'inputs' parameter of {own} must have shape ({I},) or (..., {I}). "
                             f"Got {tuple(u.shape)} instead.")
        try:
            u = u.expand(*x.shape[:-1], I)
        except RuntimeError:
            raise ShapeError(f"The 'inputs' parameter of {own} must broadcast to the states' leading shape "
                             f"{tuple(x.shape[:-1])}. Got {tuple(u.shape)} instead.") from None
    m64 = model.for_analysis()
    with torch.no_grad():
        jac = m64.jacobian(x, u)
        vals, right = sorted_eig(jac, model.time)
        left = left_eigenvectors(right)
    directions = _input_jacobian(m64, x, u)
    return Linearisation(
        states=x.cpu(), inputs=u.cpu(), jacobian=jac.cpu(), eigenvalues=vals.cpu(),
        right_eigenvectors=right.cpu(), left_eigenvectors=left.cpu(), input_directions=directions.cpu(),
        time=model.time, dt=float(model.dt),
    )


def _input_jacobian(model: AbstractRNN, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``d f(x, u) / d u`` at each state by autograd. Shape: (..., N), (..., I) -> (..., N, I)."""
    N, I = x.shape[-1], u.shape[-1]
    if I == 0:
        return x.new_zeros(*x.shape, 0)
    flat_x, flat_u = x.reshape(-1, N), u.reshape(-1, I)
    with torch.enable_grad():
        uu = flat_u.clone().requires_grad_(True)
        out = model.flow(flat_x, model.drive(uu))
        eye = torch.eye(N, dtype=out.dtype, device=out.device)
        (grads,) = torch.autograd.grad(out, uu, eye[:, None, :].expand(N, *out.shape), is_grads_batched=True)
    return grads.permute(1, 0, 2).reshape(*x.shape, I).detach()


# ---------------------------------------------------------------------------------------------- line attractors
@dataclass(frozen=True, eq=False)
class LineAttractorReport:
    """Whether a set of fixed or slow points looks like an approximate line attractor.

    A point passes when its slowest mode is near neutral and every other mode decays clearly
    faster: ``|r_0| <= tol |r_1|`` and ``r_1 < 0``, with ``r`` the growth rate of a mode per ms
    (``Re(lambda)`` in continuous time, ``log|lambda| / dt`` in discrete time, so "near zero" in
    continuous time is "near one" in discrete time).

    Attributes:
        slowest_eigenvalue: the eigenvalue of the slowest mode at each point.
        next_eigenvalue: the eigenvalue of the second slowest mode.
        gap: ``r_0 - r_1``, the separation of the two slowest rates per ms (>= 0).
        ok: whether each point passes.
        variance_explained: fraction of the variance of the points' states along their first
            principal axis (1 for points on a straight line; NaN for fewer than two points).
        tol: the tolerance used.

    Shape:
        - slowest_eigenvalue, next_eigenvalue, gap, ok: (n,)
    """

    slowest_eigenvalue: torch.Tensor
    next_eigenvalue: torch.Tensor
    gap: torch.Tensor
    ok: torch.Tensor
    variance_explained: float
    tol: float

    @property
    def passed(self) -> bool:
        """True when there is at least one point and every point passes."""
        return bool(self.ok.numel() > 0 and self.ok.all())

    def __len__(self) -> int:
        return int(self.ok.numel())


def line_attractor_report(points, tol: float = 0.1) -> LineAttractorReport:
    """Check that points have one near-neutral mode and all others stable (an approximate line
    attractor, as in Mante et al. 2013).

    Args:
        points: a :class:`~rnnscope.analysis.FixedPoints` (e.g. ``fps.fixed()``, or slow points) or a
            :class:`Linearisation` of a batch of states (n, N).
        tol: the slowest rate must be within ``tol`` times the second slowest rate of zero.

    Returns:
        A :class:`LineAttractorReport`.
    """
    own = "line_attractor_report"
    tol = check_float(own, "tol", tol, low=0, low_inclusive=False)
    if not isinstance(points, (FixedPoints, Linearisation)):
        raise ConfigError(f"The 'points' parameter of {own} must be a FixedPoints or a Linearisation. "
                          f"Got {type(points).__name__} instead.")
    vals = points.eigenvalues
    states = points.states
    if vals.ndim != 2 or states.ndim != 2:
        raise ShapeError(f"The 'points' parameter of {own} must hold a batch of states (n, N). "
                         f"Got states of shape {tuple(states.shape)} instead.")
    if vals.shape[-1] < 2:
        raise ShapeError(f"The 'points' parameter of {own} needs at least two modes (hidden_size >= 2). "
                         f"Got {vals.shape[-1]} instead.")
    rates = _rates(vals, points.time, points.dt)
    r0, r1 = rates[:, 0], rates[:, 1]
    ok = (r0.abs() <= tol * r1.abs()) & (r1 < 0)
    variance = math.nan
    if states.shape[0] >= 2:
        centred = states.to(torch.float64) - states.to(torch.float64).mean(0)
        s = torch.linalg.svdvals(centred) ** 2
        variance = float(s[0] / s.sum()) if float(s.sum()) > 0 else math.nan
    return LineAttractorReport(
        slowest_eigenvalue=vals[:, 0].clone(), next_eigenvalue=vals[:, 1].clone(), gap=r0 - r1, ok=ok,
        variance_explained=variance, tol=tol,
    )
