"""The task contract: trials in, batches out.

A task is a frozen, validated description of an experiment (durations in ms, ``dt`` in ms, noise
levels, ...). ``task.sample(batch_size, seed=...)`` draws a vectorised :class:`TrialBatch`; the task
owns no random state, so the same seed always gives the same batch. ``task.evaluate(outputs, batch)``
scores a network's outputs on that batch with the task's own performance measure: a dict whose
``"performance"`` entry lies in [0, 1], 1 being perfect.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from .._validation import check_int, check_seed
from ..errors import ConfigError, ShapeError

__all__ = ["TrialBatch", "AbstractTask", "Timeline"]


@dataclass(frozen=True)
class TrialBatch:
    """A batch of trials, every tensor with the batch first and time second.

    Attributes:
        inputs: network inputs, float32.
        targets: desired outputs, float32.
        mask: loss weights, same shape as ``targets``; 0 where the output is not scored
            (padding after a short trial, periods without a target).
        conditions: per-trial task variables (coherence, context, choice, interval, ...),
            each a tensor whose first axis is the batch.
        periods: for each period name, a (batch, 2) long tensor of [start, end) step indices.
        lengths: number of valid (unpadded) time steps of each trial.
        dt: the time step in ms.

    Shape:
        - inputs: (batch, time, input_size)
        - targets, mask: (batch, time, output_size)
        - conditions[key]: (batch, ...)
        - periods[name]: (batch, 2)
        - lengths: (batch,)
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    conditions: Mapping[str, torch.Tensor]
    periods: Mapping[str, torch.Tensor]
    lengths: torch.Tensor
    dt: float

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def times(self) -> torch.Tensor:
        """Time of each step in ms, shape (time,): the end of each step, ``dt * (t + 1)``."""
        return self.dt * torch.arange(1, self.n_steps + 1, dtype=torch.float64)

    def period_mask(self, name: str) -> torch.Tensor:
        """Boolean (batch, time) mask of the steps inside period ``name``."""
        if name not in self.periods:
            raise ConfigError(
                f"Unknown period {name!r}; this batch has periods {', '.join(map(repr, self.periods))}."
            )
        t = torch.arange(self.n_steps, device=self.inputs.device)
        bounds = self.periods[name]
        return (t >= bounds[:, :1]) & (t < bounds[:, 1:])

    def to(self, device: torch.device | str) -> TrialBatch:
        """The same batch with every tensor moved to ``device``."""
        return TrialBatch(
            inputs=self.inputs.to(device),
            targets=self.targets.to(device),
            mask=self.mask.to(device),
            conditions={k: v.to(device) for k, v in self.conditions.items()},
            periods={k: v.to(device) for k, v in self.periods.items()},
            lengths=self.lengths.to(device),
            dt=self.dt,
        )

    def __len__(self) -> int:
        return self.batch_size


class Timeline:
    """Period boundaries of a batch of trials built from per-trial durations in ms.

    Durations are rounded to whole steps of ``dt``. Periods follow each other in the given order.

    Shape:
        - durations[name]: (batch,) in ms
    """

    def __init__(self, durations: Mapping[str, torch.Tensor], dt: float):
        self.dt = float(dt)
        self.names = list(durations)
        steps = torch.stack([torch.round(durations[n] / dt).long() for n in self.names], dim=1)
        ends = torch.cumsum(steps, dim=1)
        starts = ends - steps
        self.periods = {n: torch.stack([starts[:, i], ends[:, i]], dim=1) for i, n in enumerate(self.names)}
        self.lengths = ends[:, -1]
        self.n_steps = int(self.lengths.max())
        self._t = torch.arange(self.n_steps)

    def mask(self, name: str) -> torch.Tensor:
        """Boolean (batch, time) mask of the steps in period ``name``."""
        b = self.periods[name]
        return (self._t >= b[:, :1]) & (self._t < b[:, 1:])

    def valid(self) -> torch.Tensor:
        """Boolean (batch, time) mask of the steps before each trial's end."""
        return self._t < self.lengths[:, None]

    def start(self, name: str) -> torch.Tensor:
        return self.periods[name][:, 0]

    def end(self, name: str) -> torch.Tensor:
        return self.periods[name][:, 1]


def make_generator(seed: int | None, generator: torch.Generator | None, owner: str) -> torch.Generator:
    """A CPU generator from ``seed`` or the given ``generator`` (not both)."""
    if seed is not None and generator is not None:
        raise ConfigError(f"{owner} takes either 'seed' or 'generator', not both.")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ConfigError(
                f"The 'generator' parameter of {owner} must be a torch.Generator. Got {generator!r} instead."
            )
        return generator
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(check_seed(owner, "seed", seed))
    return g


def check_lasts_a_step(task: Any, name: str) -> None:
    """Refuse a period ``name`` of a task (ms; a number or a ``(min, max)`` range) shorter than one time
    step, blaming what the user changed: ``dt`` when the period still has its default, else the period
    (``--dt 1000`` is a step too long, not a pulse too short)."""
    owner, dt = type(task).__name__, float(task.dt)
    shortest = _shortest(getattr(task, name))
    if shortest >= dt:
        return
    defaults = {f.name: f.default for f in dataclasses.fields(task)}
    default = defaults.get(name, dataclasses.MISSING)
    if default is not dataclasses.MISSING and _shortest(default) == shortest and defaults.get("dt") != dt:
        raise ConfigError(f"The 'dt' parameter of {owner} must be a float <= {shortest:g} (the {name!r} period, "
                          f"which must last at least one step). Got {dt:g} instead.")
    raise ConfigError(f"The {name!r} parameter of {owner} must be a float >= {dt:g} to last at least one step of dt. "
                      f"Got {getattr(task, name)!r} instead.")


def _shortest(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float(min(value))


def uniform(generator: torch.Generator, batch_size: int, bounds: Sequence[float]) -> torch.Tensor:
    """Per-trial values uniform in ``[bounds[0], bounds[1]]`` (float64, shape (batch,))."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(batch_size, generator=generator, dtype=torch.float64)


def choice(generator: torch.Generator, batch_size: int, values: Sequence[float]) -> torch.Tensor:
    """Per-trial values drawn uniformly from ``values`` (float64, shape (batch,))."""
    v = torch.as_tensor(list(values), dtype=torch.float64)
    idx = torch.randint(len(v), (batch_size,), generator=generator)
    return v[idx]


class AbstractTask(abc.ABC):
    """A cognitive task: a trial generator plus its performance measure.

    Concrete tasks are frozen dataclasses whose fields are the task's parameters (durations in ms,
    ``dt`` in ms, ...); they validate them in ``__post_init__`` and implement :meth:`_sample` and
    :meth:`evaluate`.
    """

    #: Registry name, e.g. ``"perceptual_decision"``.
    name: ClassVar[str]
    #: One short line describing the task, shown by ``rnnscope tasks``.
    summary: ClassVar[str]
    #: The loss that fits the targets: ``"mse"`` or ``"cross_entropy"``.
    default_loss: ClassVar[str] = "mse"
    #: Performance at which training stops by default.
    default_criterion: ClassVar[float] = 0.95

    #: Settings that train this task to criterion with the defaults of ``rnnscope train``:
    #: ``{"model": {...RateRNN keywords...}, "training": {...TrainingConfig fields...}}``.
    recommended: ClassVar[dict[str, dict[str, Any]]] = {}

    dt: float

    @property
    @abc.abstractmethod
    def input_names(self) -> tuple[str, ...]:
        """Name of each input channel, in order."""

    @property
    @abc.abstractmethod
    def output_names(self) -> tuple[str, ...]:
        """Name of each output channel, in order."""

    @property
    def input_size(self) -> int:
        return len(self.input_names)

    @property
    def output_size(self) -> int:
        return len(self.output_names)

    def analysis_inputs(self) -> dict[str, torch.Tensor]:
        """Constant inputs under which the network's dynamics are worth analysing.

        ``rnnscope analyse`` looks for fixed points under each of them (e.g. one per context of the
        context-dependent decision task). Default: the zero input. Shape of each: (input_size,).
        """
        return {"zero input": torch.zeros(self.input_size)}

    def analysis_mask(self, batch: TrialBatch, name: str) -> torch.Tensor | None:
        """The steps of ``batch`` whose dynamics the analysis input ``name`` describes.

        ``rnnscope analyse`` searches for slow points (an approximate line attractor, Mante et al.
        2013) among the states visited at these steps, under that input: e.g. the stimulus periods
        of the trials of one context. Default None: no such search.

        Shape: returns (batch, time) bool, or None.
        """
        return None

    #: Conditions whose regression axes (targeted dimensionality reduction) describe the task,
    #: in the order they are orthogonalised; empty for tasks where PCA is the natural view.
    analysis_variables: ClassVar[tuple[str, ...]] = ()

    #: The name of each value of a condition coded by integers, for legends and reports:
    #: ``{"context": ("motion", "colour")}`` names codes 0 and 1. Conditions not listed show their values.
    condition_names: ClassVar[dict[str, tuple[str, ...]]] = {}

    def params(self) -> dict[str, Any]:
        """The task's parameters as plain Python values (what ``make(name, **params)`` takes)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def sample(
        self, batch_size: int, *, seed: int | None = None, generator: torch.Generator | None = None
    ) -> TrialBatch:
        """Draw ``batch_size`` trials.

        Args:
            batch_size: number of trials.
            seed: makes the batch reproducible; without a seed (and generator) fresh entropy is used.
            generator: a ``torch.Generator`` to draw from instead of a seed.

        Returns:
            A :class:`TrialBatch` on the CPU.
        """
        owner = f"{type(self).__name__}.sample"
        batch_size = check_int(owner, "batch_size", batch_size, low=1)
        gen = make_generator(seed, generator, owner)
        return self._sample(batch_size, gen)

    @abc.abstractmethod
    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        """Draw trials with ``generator``; inputs are already validated."""

    @abc.abstractmethod
    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """Score ``outputs`` (batch, time, output_size) on ``batch``.

        Returns a dict of floats; ``"performance"`` is in [0, 1] with 1 perfect.
        """

    def _check_outputs(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        if not isinstance(outputs, torch.Tensor):
            raise ShapeError(f"'outputs' must be a torch.Tensor. Got {type(outputs).__name__} instead.")
        if tuple(outputs.shape) != tuple(batch.targets.shape):
            raise ShapeError(
                f"'outputs' must have the shape of the batch's targets {tuple(batch.targets.shape)} "
                f"(batch, time, output_size). Got {tuple(outputs.shape)} instead."
            )
        return outputs.detach().to(batch.targets.device, torch.float32)

    def __str__(self) -> str:
        return f"{self.name}: {self.summary}"
