"""Perturbations: silence or clamp units, push the state along a direction, and re-score the task.

An intervention is a function ``intervention(t, x) -> x`` that :func:`rnnscope.dynamics.simulate`
applies to the state (batch, hidden_size) after each step ``t`` (noise included) and before the state
is stored; the next step starts from the intervened state. The first step starts from the
unperturbed initial state. Builders:

- :func:`silence`: hold units at ``x = 0``. For ``tanh``, ``relu`` and ``linear`` units this is the
  state whose rate is 0, so a silenced unit sends nothing to the others or to the readout. For a
  nonlinearity with ``phi(0) != 0`` (``sigmoid``: 0.5, ``softplus``: log 2) silencing still clamps
  the *state* to 0, the common convention; :func:`clamp` holds any other value.
- :func:`clamp`: hold units at given values.
- :func:`pulse`: add ``amplitude * direction / |direction|`` to the state at every step of a window
  (one step by default: a kick of length ``amplitude``).
- :func:`combine`: apply several in order.

Units are chosen by indices or by a boolean mask (hidden_size,). Each intervention acts during a
window: ``start`` and ``duration`` in steps (``unit="step"``) or ms (``unit="ms"``), counted from the
start of the trial or, with ``period=``, from the start of that task period in each trial (then
``duration=None`` means the whole period; without a period it means to the end of the trial). Windows
in ms or tied to a period need the trials: :meth:`Intervention.bind` resolves them for a
:class:`~rnnscope.tasks.TrialBatch`; :func:`perturbation_effect` does it for you.

:func:`perturbation_effect` simulates the same trials (same inputs, same noise) with and without an
intervention, scores both with the task's own ``evaluate`` and reports the change in performance and
how far the perturbed states move from the unperturbed ones: a causal test of a mechanism.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..dynamics import Trajectory, simulate
from ..errors import ConfigError, ShapeError
from ..models._base import AbstractRNN
from ..tasks._base import AbstractTask, TrialBatch

__all__ = [
    "Intervention",
    "PerturbationResult",
    "silence",
    "clamp",
    "pulse",
    "combine",
    "perturbation_effect",
]

_NEVER = torch.iinfo(torch.int64).max


# ---------------------------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class _Window:
    """When an intervention acts: steps ``onset <= t < stop`` (ints, or (batch,) tensors once bound)."""

    start: float = 0.0
    duration: float | None = None
    unit: str = "step"
    period: str | None = None
    onset: int | torch.Tensor | None = None
    stop: int | torch.Tensor | None = None

    @classmethod
    def make(cls, owner: str, start: Any, duration: Any, unit: Any, period: Any) -> _Window:
        unit = check_choice(owner, "unit", unit, ("step", "ms"))
        if period is not None and not isinstance(period, str):
            raise ConfigError(f"The 'period' parameter of {owner} must be a period name (str) or None. "
                              f"Got {period!r} instead.")
        if unit == "step":
            start = check_int(owner, "start", start, low=0)
            if duration is not None:
                duration = check_int(owner, "duration", duration, low=1)
        else:
            start = check_float(owner, "start", start, low=0)
            if duration is not None:
                duration = check_float(owner, "duration", duration, low=0, low_inclusive=False)
        w = cls(start=start, duration=duration, unit=unit, period=period)
        if unit == "step" and period is None:  # resolvable now
            stop = _NEVER if duration is None else int(start) + int(duration)
            w = dataclasses.replace(w, onset=int(start), stop=stop)
        return w

    @property
    def bound(self) -> bool:
        return self.onset is not None

    def bind(self, batch: TrialBatch) -> _Window:
        if self.unit == "step" and self.period is None:
            return self

        def steps(value: float) -> int:
            return int(value) if self.unit == "step" else int(round(value / batch.dt))

        B = batch.batch_size
        if self.period is None:
            base = torch.zeros(B, dtype=torch.long)
            end = torch.full((B,), _NEVER, dtype=torch.long)
        else:
            bounds = batch.periods.get(self.period)
            if bounds is None:
                raise ConfigError(f"Unknown period {self.period!r}; this batch has periods "
                                  f"{', '.join(map(repr, batch.periods))}.")
            base, end = bounds[:, 0].long().cpu(), bounds[:, 1].long().cpu()
        onset = base + steps(self.start)
        if self.duration is None:
            stop = end
        else:
            stop = onset + max(1, steps(self.duration))
        return dataclasses.replace(self, onset=onset, stop=stop)

    def active(self, owner: str, t: int, x: torch.Tensor) -> torch.Tensor | bool:
        """Whether step ``t`` lies in the window: a bool, or a (batch, 1) mask once bound to trials."""
        if not self.bound:
            where = f"period={self.period!r}" if self.period is not None else f"unit={self.unit!r}"
            raise ConfigError(f"{owner} has a window in ms or tied to a task period ({where}); bind it to the "
                              f"trials first with .bind(batch) (perturbation_effect does this), or give "
                              f"start and duration in steps.")
        if isinstance(self.onset, int):
            return self.onset <= t < self.stop
        if self.onset.shape[0] != x.shape[0]:
            raise ShapeError(f"{owner} was bound to {self.onset.shape[0]} trials but the state has batch size "
                             f"{x.shape[0]} (shape {tuple(x.shape)}).")
        on = (self.onset <= t) & (t < self.stop)
        return on.to(x.device)[:, None]

    def describe(self) -> str:
        u = "ms" if self.unit == "ms" else "steps"
        d = ("the whole period" if self.period is not None else "the rest of the trial") \
            if self.duration is None else f"{self.duration:g} {u}"
        where = f" into {self.period!r}" if self.period is not None else ""
        return f"from {self.start:g} {u}{where}, for {d}"


def _units(owner: str, units: Any) -> torch.Tensor:
    """Indices (k,) or a boolean mask (hidden_size,) as a tensor (validated against N when used)."""
    try:
        t = units.detach().cpu() if isinstance(units, torch.Tensor) else torch.as_tensor(np.asarray(units))
    except (TypeError, ValueError):
        t = None
    if t is not None and t.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    if t is None or t.ndim > 1 or not (t.dtype == torch.bool or not (t.is_floating_point() or t.is_complex())):
        raise ConfigError(f"The 'units' parameter of {owner} must be unit indices (a list or 1-D integer "
                          f"tensor) or a boolean mask of shape (hidden_size,). Got {units!r} instead.")
    t = t.reshape(-1)
    return t if t.dtype == torch.bool else t.long()


def _unit_mask(owner: str, units: torch.Tensor, N: int) -> torch.Tensor:
    if units.dtype == torch.bool:
        if units.shape != (N,):
            raise ShapeError(f"The 'units' mask of {owner} must have shape ({N},) (hidden_size). "
                             f"Got {tuple(units.shape)} instead.")
        return units
    if units.numel() and (int(units.min()) < -N or int(units.max()) >= N):
        raise ConfigError(f"The 'units' parameter of {owner} must hold indices in [0, {N - 1}] (hidden_size "
                          f"{N}). Got indices from {int(units.min())} to {int(units.max())} instead.")
    mask = torch.zeros(N, dtype=torch.bool)
    mask[units] = True
    return mask


# ---------------------------------------------------------------------------------------------- interventions
class Intervention(abc.ABC):
    """A change to the state during a simulation: ``intervention(t, x) -> x``.

    Pass one to ``simulate(..., intervention=...)``; build them with :func:`silence`, :func:`clamp`,
    :func:`pulse` and :func:`combine`.
    """

    @abc.abstractmethod
    def __call__(self, t: int, x: torch.Tensor) -> torch.Tensor:
        """The state after the intervention at step ``t``. Shape: (batch, hidden_size) preserved."""

    @abc.abstractmethod
    def bind(self, batch: TrialBatch) -> Intervention:
        """This intervention with its window resolved for the trials of ``batch`` (ms to steps, period
        starts per trial). Interventions timed in steps from the trial start return themselves."""

    @abc.abstractmethod
    def check(self, hidden_size: int) -> None:
        """Raise ShapeError/ConfigError if the intervention does not fit a network of this size."""


@dataclass(frozen=True, eq=False)
class _Clamp(Intervention):
    units: torch.Tensor
    values: torch.Tensor
    window: _Window
    name: str = "clamp"

    def _targets(self, N: int) -> tuple[torch.Tensor, torch.Tensor]:
        owner = f"{self.name}()"
        mask = _unit_mask(owner, self.units, N)
        k = int(mask.sum())
        target = torch.zeros(N, dtype=torch.float64)
        if self.values.numel() == 1:
            target[mask] = float(self.values.reshape(()))
        elif self.values.shape == (k,):
            if self.units.dtype == torch.bool:
                target[mask] = self.values
            else:
                target[self.units] = self.values
        else:
            raise ShapeError(f"The 'values' parameter of {owner} must be one number or one per selected unit, "
                             f"shape ({k},). Got {tuple(self.values.shape)} instead.")
        return mask, target

    def check(self, hidden_size: int) -> None:
        self._targets(hidden_size)

    def bind(self, batch: TrialBatch) -> _Clamp:
        return dataclasses.replace(self, window=self.window.bind(batch))

    def __call__(self, t: int, x: torch.Tensor) -> torch.Tensor:
        on = self.window.active(f"{self.name}()", t, x)
        if on is False:
            return x
        mask, target = self._targets(x.shape[-1])
        mask, target = mask.to(x.device), target.to(x.device, x.dtype)
        where = mask if on is True else on & mask
        return torch.where(where, target, x)

    def __repr__(self) -> str:
        return f"{self.name}(units={_show_units(self.units)}, {self.window.describe()})"


@dataclass(frozen=True, eq=False)
class _Pulse(Intervention):
    direction: torch.Tensor
    amplitude: float
    window: _Window

    def check(self, hidden_size: int) -> None:
        if self.direction.shape != (hidden_size,):
            raise ShapeError(f"The 'direction' parameter of pulse must have shape ({hidden_size},) (hidden_size). "
                             f"Got {tuple(self.direction.shape)} instead.")

    def bind(self, batch: TrialBatch) -> _Pulse:
        return dataclasses.replace(self, window=self.window.bind(batch))

    def __call__(self, t: int, x: torch.Tensor) -> torch.Tensor:
        on = self.window.active("pulse()", t, x)
        if on is False:
            return x
        self.check(x.shape[-1])
        kick = (self.amplitude * self.direction).to(x.device, x.dtype)
        return x + kick if on is True else x + on.to(x.dtype) * kick

    def __repr__(self) -> str:
        return f"pulse(amplitude={self.amplitude:g}, {self.window.describe()})"


@dataclass(frozen=True, eq=False)
class _Combined(Intervention):
    parts: tuple[Intervention, ...]

    def check(self, hidden_size: int) -> None:
        for p in self.parts:
            if isinstance(p, Intervention):
                p.check(hidden_size)

    def bind(self, batch: TrialBatch) -> _Combined:
        return _Combined(tuple(p.bind(batch) if isinstance(p, Intervention) else p for p in self.parts))

    def __call__(self, t: int, x: torch.Tensor) -> torch.Tensor:
        for p in self.parts:
            x = p(t, x)
        return x

    def __repr__(self) -> str:
        return f"combine({', '.join(map(repr, self.parts))})"


def _show_units(units: torch.Tensor) -> str:
    idx = torch.nonzero(units).flatten() if units.dtype == torch.bool else units
    shown = idx[:8].tolist()
    return str(shown)[:-1] + (", ...]" if idx.numel() > 8 else "]")


# ---------------------------------------------------------------------------------------------- builders
def silence(
    units: Sequence[int] | torch.Tensor,
    *,
    start: float = 0,
    duration: float | None = None,
    unit: str = "step",
    period: str | None = None,
) -> Intervention:
    """Hold ``units`` at ``x = 0`` (rate 0 for tanh, relu and linear units; see the module docstring).

    Args:
        units: unit indices, or a boolean mask (hidden_size,).
        start, duration, unit, period: the window (module docstring); default: the whole trial.
    """
    own = "silence"
    w = _Window.make(own, start, duration, unit, period)
    return _Clamp(units=_units(own, units), values=torch.zeros(1, dtype=torch.float64), window=w, name=own)


def clamp(
    units: Sequence[int] | torch.Tensor,
    values: float | Sequence[float] | torch.Tensor,
    *,
    start: float = 0,
    duration: float | None = None,
    unit: str = "step",
    period: str | None = None,
) -> Intervention:
    """Hold the states of ``units`` at ``values``.

    Args:
        units: unit indices, or a boolean mask (hidden_size,).
        values: one number for all, or one per selected unit (in the order of the indices; for a
            mask, in increasing unit order).
        start, duration, unit, period: the window (module docstring); default: the whole trial.

    Shape:
        - values: () or (number of selected units,)
    """
    own = "clamp"
    v = torch.as_tensor(values.detach().cpu() if isinstance(values, torch.Tensor) else np.asarray(values, float),
                        dtype=torch.float64).reshape(-1)
    if v.numel() == 0 or not torch.isfinite(v).all():
        raise ConfigError(f"The 'values' parameter of {own} must be finite numbers (one, or one per unit). "
                          f"Got {values!r} instead.")
    w = _Window.make(own, start, duration, unit, period)
    return _Clamp(units=_units(own, units), values=v, window=w, name=own)


def pulse(
    direction: Sequence[float] | torch.Tensor,
    amplitude: float,
    *,
    start: float = 0,
    duration: float | None = 1,
    unit: str = "step",
    period: str | None = None,
    normalise: bool = True,
) -> Intervention:
    """Add ``amplitude * direction / |direction|`` to the state at every step of a window.

    With the default one-step window this is a kick of length ``amplitude`` along ``direction``; a
    longer window adds the kick at each of its steps.

    Args:
        direction: a state-space direction (hidden_size,), e.g. a readout or regression axis.
        amplitude: the kick per step (negative: the opposite way).
        start, duration, unit, period: the window (module docstring); default: the first step.
        normalise: scale ``direction`` to unit length (False: use it as given).

    Shape:
        - direction: (hidden_size,)
    """
    own = "pulse"
    d = torch.as_tensor(direction.detach().cpu() if isinstance(direction, torch.Tensor)
                        else np.asarray(direction, float), dtype=torch.float64)
    if d.ndim != 1 or not torch.isfinite(d).all():
        raise ShapeError(f"The 'direction' parameter of {own} must be a finite vector of shape (hidden_size,). "
                         f"Got shape {tuple(d.shape)} instead.")
    amplitude = check_float(own, "amplitude", amplitude)
    check_bool(own, "normalise", normalise)
    if normalise:
        norm = float(d.norm())
        if norm == 0:
            raise ConfigError(f"The 'direction' parameter of {own} must be non-zero to be normalised. Got a zero "
                              f"vector.")
        d = d / norm
    w = _Window.make(own, start, duration, unit, period)
    return _Pulse(direction=d, amplitude=amplitude, window=w)


def combine(*interventions: Intervention) -> Intervention:
    """Apply ``interventions`` one after the other at every step (later ones win on shared units)."""
    if not interventions:
        raise ConfigError("combine needs at least one intervention. Got none.")
    for i, p in enumerate(interventions):
        if not callable(p):
            raise ConfigError(f"The arguments of combine must be interventions (callables t, x -> x). "
                              f"Got {type(p).__name__} at position {i} instead.")
    return _Combined(tuple(interventions))


# ---------------------------------------------------------------------------------------------- effect
@dataclass(frozen=True, eq=False)
class PerturbationResult:
    """The same trials simulated with and without an intervention.

    Attributes:
        baseline_scores: ``task.evaluate`` of the unperturbed outputs.
        perturbed_scores: ``task.evaluate`` of the perturbed outputs.
        performance_change: ``perturbed_scores["performance"] - baseline_scores["performance"]``.
        divergence: distance between perturbed and unperturbed states at each step,
            ``|x_pert - x_base|`` averaged over the trials still running at that step.
        baseline, perturbed: the two simulations.
        batch: the trials.

    Shape:
        - divergence: (time,)
    """

    baseline_scores: dict[str, float]
    perturbed_scores: dict[str, float]
    performance_change: float
    divergence: torch.Tensor
    baseline: Trajectory
    perturbed: Trajectory
    batch: TrialBatch

    @property
    def baseline_performance(self) -> float:
        return float(self.baseline_scores["performance"])

    @property
    def perturbed_performance(self) -> float:
        return float(self.perturbed_scores["performance"])

    def __repr__(self) -> str:
        return (f"PerturbationResult(performance {self.baseline_performance:.3f} -> "
                f"{self.perturbed_performance:.3f} ({self.performance_change:+.3f}), "
                f"trials={self.batch.batch_size}, max divergence={float(self.divergence.max()):.3g})")


def perturbation_effect(
    model: AbstractRNN,
    task: AbstractTask,
    intervention: Intervention,
    *,
    n_trials: int = 256,
    seed: int = 0,
    noise: bool = False,
    batch: TrialBatch | None = None,
) -> PerturbationResult:
    """Score ``task`` with and without ``intervention`` on the same trials.

    Both simulations get the same inputs and, with ``noise=True``, the same noise (one seed), so
    every difference is caused by the intervention.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        task: the task whose ``evaluate`` scores the outputs.
        intervention: from :func:`silence`, :func:`clamp`, :func:`pulse`, :func:`combine`, or any
            callable ``(t, x) -> x``.
        n_trials: number of trials drawn with ``task.sample(n_trials, seed=seed)``.
        seed: seed of the trials and of the simulation noise.
        noise: simulate with the model's process and input noise.
        batch: trials to use instead of drawing ``n_trials``.

    Returns:
        A :class:`PerturbationResult`.
    """
    own = "perturbation_effect"
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {own} must be an AbstractRNN. Got {type(model).__name__} instead.")
    if not isinstance(task, AbstractTask):
        raise ConfigError(f"The 'task' parameter of {own} must be an AbstractTask. Got {type(task).__name__} instead.")
    if not callable(intervention):
        raise ConfigError(f"The 'intervention' parameter of {own} must be an intervention (a callable t, x -> x). "
                          f"Got {type(intervention).__name__} instead.")
    seed = check_seed(own, "seed", seed)
    check_bool(own, "noise", noise)
    if batch is None:
        n_trials = check_int(own, "n_trials", n_trials, low=1)
        batch = task.sample(n_trials, seed=seed)
    elif not isinstance(batch, TrialBatch):
        raise ConfigError(f"The 'batch' parameter of {own} must be a TrialBatch or None. "
                          f"Got {type(batch).__name__} instead.")
    if isinstance(intervention, Intervention):
        intervention.check(model.hidden_size)
        intervention = intervention.bind(batch)
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    inputs = batch.inputs.to(device=device, dtype=dtype)

    def run(hook) -> Trajectory:
        # both through the plain loop (an intervention needs it), so the same arithmetic: a no-op
        # intervention leaves the states bit-identical
        gen = torch.Generator().manual_seed(seed)
        return simulate(model, inputs, noise=noise, generator=gen, intervention=hook, fused=False)

    with torch.no_grad():
        base = run(None)
        pert = run(intervention)
    base_scores = dict(task.evaluate(base.outputs, batch))
    pert_scores = dict(task.evaluate(pert.outputs, batch))
    dist = (pert.states - base.states).norm(dim=-1).to(torch.float64).cpu()  # (B, T)
    valid = (torch.arange(dist.shape[1])[None, :] < batch.lengths.cpu()[:, None]).to(torch.float64)
    divergence = (dist * valid).sum(0) / valid.sum(0).clamp_min(1.0)
    change = float(pert_scores["performance"]) - float(base_scores["performance"])
    return PerturbationResult(baseline_scores=base_scores, perturbed_scores=pert_scores, performance_change=change,
                              divergence=divergence, baseline=base, perturbed=pert, batch=batch)
