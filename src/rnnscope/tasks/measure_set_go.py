"""Measure-Set-Go: interval reproduction (Jazayeri & Shadlen 2010; Wang, Narain et al. 2018).

Two brief cues, Ready and Set, delimit a sample interval ``ts``; the network must then produce the
interval ``tp = gain * ts`` after Set. The output is trained to ramp linearly from 0 at Set to a fixed
threshold of 1 exactly at Go (``Set + tp``), the "ramp to threshold" read-out of Wang, Narain et al.
(2018); the produced interval is the time from Set at which the output first reaches the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_float, check_range
from ..errors import ConfigError, ShapeError
from ._base import AbstractTask, Timeline, TrialBatch, check_lasts_a_step, uniform

__all__ = ["MeasureSetGo", "produced_intervals", "timing_scores"]


def produced_intervals(outputs: torch.Tensor, batch: TrialBatch, threshold: float = 1.0) -> torch.Tensor:
    """Time from Set (ms) at which ``outputs`` first reaches ``threshold``, per trial.

    Set is the start of each trial's ``produce`` period, at time ``start * dt``; the value of step
    ``t`` is taken at the end of that step, ``(t + 1) * dt`` (as :attr:`TrialBatch.times`). The
    crossing is the first valid step at or after Set whose output is ``>= threshold``, refined by
    linear interpolation with the step before it (which is the step just before Set at the earliest,
    so an output already at threshold when Set comes gives 0). Trials whose output never reaches
    the threshold within their valid steps give NaN.

    Shape:
        - outputs: (batch, time, 1) like ``batch.targets``, or (batch, time)
        - returns: (batch,) float64, in ms
    """
    if not isinstance(outputs, torch.Tensor):
        raise ShapeError(f"'outputs' must be a torch.Tensor. Got {type(outputs).__name__} instead.")
    B, T = batch.batch_size, batch.n_steps
    if outputs.dim() == 3 and outputs.shape[2] == 1:
        outputs = outputs[..., 0]
    if tuple(outputs.shape) != (B, T):
        raise ShapeError(
            f"'outputs' must have shape {(B, T, 1)} (batch, time, 1) or {(B, T)}. Got {tuple(outputs.shape)} instead."
        )
    out = outputs.detach().to(torch.float64).cpu()
    set_step = batch.periods["produce"][:, 0].cpu()
    lengths = batch.lengths.cpu()
    t = torch.arange(T)
    window = (t[None, :] >= set_step[:, None]) & (t[None, :] < lengths[:, None])
    above = (out >= threshold) & window
    crossed = above.any(dim=1)
    first = above.to(torch.uint8).argmax(dim=1)  # first True (argmax returns the first maximum)
    after = out.gather(1, first[:, None])[:, 0]
    before = out.gather(1, (first - 1).clamp_min(0)[:, None])[:, 0]
    rise = after - before
    frac = torch.where(rise > 0, (threshold - before) / torch.where(rise > 0, rise, 1.0), 0.0).clamp(0.0, 1.0)
    # The step before `first` ends at first * dt; the crossing lies frac of a step later.
    produced = (first - set_step).to(torch.float64) * batch.dt + frac * batch.dt
    return torch.where(crossed, produced, torch.full_like(produced, math.nan))


def produce_epochs(target: torch.Tensor, post_go: float, dt: float) -> dict[str, torch.Tensor]:
    """Durations (ms) of the ``produce`` epoch (Set to the target time, in whole steps) and of the
    ``post`` epoch after it, long enough (Set + (1 + post_go) * target) that a ramp reaching 1 at the
    target time always crosses 1 inside the trial.

    Shape: target (batch,) -> each (batch,).
    """
    produce_steps = torch.round(target / dt)
    end_steps = torch.ceil((1.0 + post_go) * target / dt - 1e-9)
    return {"produce": produce_steps * dt, "post": (end_steps - produce_steps) * dt}


def ramp_trials(tl: Timeline, inputs: torch.Tensor, target: torch.Tensor, cue_duration: float,
                conditions: dict[str, torch.Tensor]) -> TrialBatch:
    """The trials of a timing task whose Set cue opens the ``produce`` epoch: writes the Set pulse
    (``cue_duration`` ms) into the last input channel and returns the batch whose target is the
    ramp from 0 at Set to 1 at ``target`` ms after it (step t read at its end, (t + 1) * dt), scored
    on every valid step.

    Shape: inputs (batch, time, n_inputs), target (batch,).
    """
    dt = tl.dt
    t = torch.arange(tl.n_steps)[None, :]
    valid = tl.valid()
    set_ = tl.start("produce")[:, None]
    inputs[..., -1] = cue_pulse(tl, "produce", cue_duration)
    ramp = ((t + 1 - set_).clamp_min(0) * dt / target[:, None]) * valid
    return TrialBatch(
        inputs=inputs,
        targets=ramp.float()[..., None].contiguous(),
        mask=valid.float()[..., None].contiguous(),
        conditions=conditions,
        periods=tl.periods,
        lengths=tl.lengths,
        dt=dt,
    )


def cue_pulse(tl: Timeline, epoch: str, cue_duration: float) -> torch.Tensor:
    """A pulse of ``cue_duration`` ms (rounded to whole steps) at the start of ``epoch``, 0 on padding.

    Shape: (batch, time), float.
    """
    t = torch.arange(tl.n_steps)[None, :]
    start = tl.start(epoch)[:, None]
    cue = int(round(cue_duration / tl.dt))
    return ((t >= start) & (t < start + cue) & tl.valid()).float()


def timing_scores(produced: torch.Tensor, sample: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Scores of produced intervals against the sample and target intervals (all in ms).

    ``relative_error`` is the mean over trials of ``|produced - target| / target`` capped at 1, a
    trial that never responded (NaN) counting as 1; ``performance`` is ``1 - relative_error``
    clipped to [0, 1]; ``correlation`` is the Pearson correlation of produced and sample intervals
    over the trials that responded (0 when fewer than two did or either has no variance);
    ``fraction_responded`` is the fraction of trials that reached the threshold.

    Shape:
        - produced, sample, target: (batch,)
    """
    produced, sample, target = (x.detach().to(torch.float64).cpu() for x in (produced, sample, target))
    responded = ~torch.isnan(produced)
    error = torch.where(responded, (produced - target).abs() / target, torch.ones_like(target)).clamp_max(1.0)
    relative_error = float(error.mean())
    correlation = 0.0
    if int(responded.sum()) >= 2:
        p, s = produced[responded], sample[responded]
        p, s = p - p.mean(), s - s.mean()
        norm = float(p.norm() * s.norm())
        if norm > 0:
            correlation = min(max(float((p * s).sum()) / norm, -1.0), 1.0)
    return {
        "performance": min(max(1.0 - relative_error, 0.0), 1.0),
        "relative_error": relative_error,
        "correlation": correlation,
        "fraction_responded": float(responded.double().mean()),
    }


@dataclass(frozen=True)
class MeasureSetGo(AbstractTask):
    """Ready-Set-Go interval reproduction with a ramp-to-threshold output.

    Trial: fixation; Ready cue; the sample interval ``ts`` (drawn uniformly per trial, then rounded
    to whole steps); Set cue; the network ramps its output to 1 at Go = Set + ``gain * ts`` and keeps
    ramping with the same slope for ``post_go * gain * ts`` (rounded up to whole steps), after which
    the trial ends. Trials are padded to the longest one.

    Args:
        dt: time step in ms.
        fixation: time before Ready in ms (number, or [min, max] drawn per trial).
        sample_interval: [min, max] of the Ready-Set interval in ms, drawn uniformly per trial (a
            single number fixes it).
        cue_duration: length of the Ready and Set pulses in ms; at least one step and at most the
            shortest sample interval.
        gain: produced interval / sample interval (1 reproduces, 1.5 scales up).
        post_go: length of the scored window after Go, as a fraction of the produced interval.

    Inputs: ``ready`` and ``set``, each 1 for ``cue_duration`` from Ready and from Set. Output:
    ``ramp``: 0 from the trial start until Set, then ``(time since Set) / (gain * ts)``, reaching 1
    at Go; scored on every valid step, unscored padding. Periods: ``fixation``, ``measure`` (Ready
    to Set), ``produce`` (Set to Go), ``post`` (Go to the end). Conditions: ``sample_interval``, the
    Ready-Set interval as presented (a whole number of steps, in ms) and ``target_interval`` =
    ``gain * sample_interval`` (ms).

    Shape:
        - inputs: (batch, time, 2)
        - targets, mask: (batch, time, 1)
        - conditions["sample_interval"], conditions["target_interval"]: (batch,)
    """

    name: ClassVar[str] = "measure_set_go"
    summary: ClassVar[str] = "Ready-Set-Go: reproduce a measured interval by ramping to a threshold"
    default_criterion: ClassVar[float] = 0.95
    default_loss: ClassVar[str] = "mse"
    recommended: ClassVar[dict] = {"training": {"learning_rate": 1e-2, "steps": 3000}}

    dt: float = 20.0  # ms
    fixation: float | tuple[float, float] = 200.0  # ms before Ready
    sample_interval: float | tuple[float, float] = (500.0, 1000.0)  # ms, Ready to Set
    cue_duration: float = 40.0  # ms, Ready and Set pulses
    gain: float = 1.0  # produced / sample interval
    post_go: float = 0.3  # scored window after Go, fraction of the produced interval

    def __post_init__(self) -> None:
        owner = type(self).__name__
        dt = check_float(owner, "dt", self.dt, low=0, low_inclusive=False)
        object.__setattr__(self, "dt", dt)
        object.__setattr__(self, "fixation", check_range(owner, "fixation", self.fixation))
        cue = check_float(owner, "cue_duration", self.cue_duration, low=0, low_inclusive=False)
        object.__setattr__(self, "cue_duration", cue)
        check_lasts_a_step(self, "cue_duration")
        sample = check_range(owner, "sample_interval", self.sample_interval)
        if sample[0] < cue:
            raise ConfigError(
                f"The 'sample_interval' parameter of {owner} must be at least 'cue_duration' "
                f"({cue:g} ms), so that the Ready cue ends by Set. Got {self.sample_interval!r} instead."
            )
        object.__setattr__(self, "sample_interval", sample)
        object.__setattr__(self, "gain", check_float(owner, "gain", self.gain, low=0, low_inclusive=False))
        object.__setattr__(self, "post_go", check_float(owner, "post_go", self.post_go, low=0, low_inclusive=False))

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("ready", "set")

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("ramp",)

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        g, B, dt = generator, batch_size, self.dt
        fixation = uniform(g, B, self.fixation)
        sample = torch.round(uniform(g, B, self.sample_interval) / dt) * dt  # as presented: whole steps
        target = self.gain * sample
        durations = {"fixation": fixation, "measure": sample, **produce_epochs(target, self.post_go, dt)}
        tl = Timeline(durations, dt)
        inputs = torch.zeros(B, tl.n_steps, 2)
        inputs[..., 0] = cue_pulse(tl, "measure", self.cue_duration)
        return ramp_trials(tl, inputs, target, self.cue_duration,
                           {"sample_interval": sample, "target_interval": target})

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        outputs = self._check_outputs(outputs, batch)
        produced = produced_intervals(outputs, batch, threshold=1.0)
        return timing_scores(produced, batch.conditions["sample_interval"], batch.conditions["target_interval"])
