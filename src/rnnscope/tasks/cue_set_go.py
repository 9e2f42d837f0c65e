"""Cue-Set-Go: produce an interval set by a tonic context input (Wang, Narain et al. 2018).

A context input, on for the whole trial, tells the network which interval to produce; after a Set cue
it must produce that interval. Wang, Narain et al. (2018) found that the networks trained so control
the speed of one shared trajectory through the level of the context input (temporal scaling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_float, check_range
from ._base import AbstractTask, Timeline, TrialBatch, check_lasts_a_step, uniform
from .measure_set_go import produce_epochs, produced_intervals, ramp_trials, timing_scores

__all__ = ["CueSetGo"]


@dataclass(frozen=True)
class CueSetGo(AbstractTask):
    """Cue-Set-Go with a ramp-to-threshold output: the interval is given by a tonic input's level.

    Trial: ``fixation`` (the context input already on), a ``wait`` before Set, the Set cue, then the
    network ramps its output from 0 at Set to 1 at Go = Set + ``ts`` and keeps ramping for
    ``post_go * ts``. The interval ``ts`` is drawn uniformly in ``sample_interval`` per trial (whole
    steps). The context input's level is ``context_scale * ts / 1000 ms`` (the interval in seconds,
    scaled) on every valid step.

    Args:
        dt: time step in ms.
        fixation: time before the wait in ms (number or [min, max]).
        wait: time from the end of fixation to Set in ms (number or [min, max]).
        sample_interval: [min, max] of the interval to produce, ms (a single number fixes it).
        cue_duration: length of the Set pulse in ms.
        context_scale: level of the context input per second of interval.
        post_go: the scored window after Go, as a fraction of the interval.

    Inputs: ``context`` (tonic), ``set`` (a pulse). Output: ``ramp``, as in Measure-Set-Go. Periods:
    ``fixation``, ``wait``, ``produce`` (Set to Go), ``post``. Conditions: ``sample_interval`` and
    ``target_interval`` (equal, ms), ``context`` (the input level).
    """

    name: ClassVar[str] = "cue_set_go"
    summary: ClassVar[str] = "Cue-Set-Go: produce the interval a tonic context input indicates"
    default_criterion: ClassVar[float] = 0.95
    recommended: ClassVar[dict] = {"training": {"learning_rate": 1e-2, "steps": 3000}}

    dt: float = 20.0
    fixation: float | tuple[float, float] = 200.0
    wait: float | tuple[float, float] = (300.0, 600.0)
    sample_interval: float | tuple[float, float] = (500.0, 1000.0)
    cue_duration: float = 40.0
    context_scale: float = 1.0
    post_go: float = 0.3

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "dt", check_float(owner, "dt", self.dt, low=0, low_inclusive=False))
        for name in ("fixation", "wait", "sample_interval"):
            object.__setattr__(self, name, check_range(owner, name, getattr(self, name)))
        object.__setattr__(self, "cue_duration",
                           check_float(owner, "cue_duration", self.cue_duration, low=0, low_inclusive=False))
        check_lasts_a_step(self, "cue_duration")
        object.__setattr__(self, "context_scale",
                           check_float(owner, "context_scale", self.context_scale, low=0, low_inclusive=False))
        object.__setattr__(self, "post_go", check_float(owner, "post_go", self.post_go, low=0, low_inclusive=False))

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("context", "set")

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("ramp",)

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        g, B, dt = generator, batch_size, self.dt
        fixation = uniform(g, B, self.fixation)
        wait = uniform(g, B, self.wait)
        ts = torch.clamp(torch.round(uniform(g, B, self.sample_interval) / dt), min=1) * dt
        tl = Timeline({"fixation": fixation, "wait": wait, **produce_epochs(ts, self.post_go, dt)}, dt)
        context = self.context_scale * ts / 1000.0
        inputs = torch.zeros(B, tl.n_steps, 2)
        inputs[..., 0] = tl.valid().float() * context.float()[:, None]
        return ramp_trials(tl, inputs, ts, self.cue_duration,
                           {"sample_interval": ts, "target_interval": ts.clone(), "context": context})

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        outputs = self._check_outputs(outputs, batch)
        produced = produced_intervals(outputs, batch, threshold=1.0)
        return timing_scores(produced, batch.conditions["sample_interval"], batch.conditions["target_interval"])

