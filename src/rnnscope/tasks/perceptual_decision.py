"""Perceptual decision making: random-dots motion discrimination (Shadlen & Newsome 2001).

Trial: fixation, then noisy evidence whose mean is the signed motion coherence, an optional delay,
then the decision period, when the fixation cue goes off and the network must report the sign of
the coherence (+1 or -1) on its single output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_float, check_range
from ..errors import ConfigError
from ._base import AbstractTask, Timeline, TrialBatch, check_lasts_a_step, choice, uniform

__all__ = ["PerceptualDecision", "decision_scores"]


def _check_levels(owner: str, name: str, value) -> tuple[float, ...]:
    try:
        levels = tuple(float(v) for v in value)
    except TypeError:
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be a non-empty list of numbers >= 0. Got {value!r} instead."
        ) from None
    if not levels or any(not math.isfinite(v) or v < 0 for v in levels):
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be a non-empty list of numbers >= 0. Got {value!r} instead."
        )
    return levels


def decision_scores(
    outputs: torch.Tensor, batch: TrialBatch, coherence: torch.Tensor, levels: tuple[float, ...]
) -> dict[str, float]:
    """Accuracy of the sign of the mean output over the decision period.

    ``performance`` is the accuracy over all trials; ``accuracy_above_middle`` over trials whose
    absolute coherence is at least the middle of ``levels``; ``accuracy_<level>`` per level.
    """
    dec = batch.period_mask("decision").float()
    mean_out = (outputs[..., 0] * dec).sum(1) / dec.sum(1).clamp_min(1)
    correct = (torch.sign(mean_out) == batch.conditions["choice"]).float()
    mags = sorted(set(levels))
    middle = mags[len(mags) // 2]
    strong = coherence.abs() >= middle - 1e-9
    scores = {
        "performance": float(correct.mean()),
        "accuracy": float(correct.mean()),
        "accuracy_above_middle": float(correct[strong].mean()) if bool(strong.any()) else float("nan"),
    }
    for level in mags:
        sel = (coherence.abs() - level).abs() < 1e-9
        if bool(sel.any()):
            scores[f"accuracy_{level:g}"] = float(correct[sel].mean())
    return scores


def validate_decision_fields(task) -> None:
    """Validate and normalise the fields shared by the decision tasks (dt, the four periods,
    coherences, stimulus_noise) of a frozen dataclass ``task``, in place."""
    owner = type(task).__name__
    object.__setattr__(task, "dt", check_float(owner, "dt", task.dt, low=0, low_inclusive=False))
    for period in ("fixation", "stimulus", "delay", "decision"):
        object.__setattr__(task, period, check_range(owner, period, getattr(task, period)))
    for period in ("stimulus", "decision"):
        check_lasts_a_step(task, period)
    object.__setattr__(task, "coherences", _check_levels(owner, "coherences", task.coherences))
    object.__setattr__(task, "stimulus_noise", check_float(owner, "stimulus_noise", task.stimulus_noise, low=0))


@dataclass(frozen=True)
class PerceptualDecision(AbstractTask):
    """Random-dots discrimination.

    Args:
        dt: time step in ms.
        fixation: fixation period in ms (number, or [min, max] drawn per trial).
        stimulus: stimulus period in ms (number or [min, max]).
        delay: delay between stimulus and decision in ms (number or [min, max]; 0 for none).
        decision: decision period in ms.
        coherences: absolute motion coherences in percent; each trial draws one and a random sign.
        stimulus_noise: white-noise density of the evidence: the per-step standard deviation is
            ``stimulus_noise / sqrt(dt / 1 ms)``, so the evidence integrated over a period has the same
            signal-to-noise ratio at any ``dt``.

    Inputs: ``fixation`` (1 until the decision period), ``stimulus`` (coherence / 100 + noise during
    the stimulus). Output: ``choice``, target +1 or -1 (the sign of the coherence) during the
    decision period, unscored elsewhere. Conditions: ``coherence`` (signed, %), ``choice`` (+-1),
    ``stimulus_duration`` and ``delay`` (ms).
    """

    name: ClassVar[str] = "perceptual_decision"
    summary: ClassVar[str] = "random-dots discrimination: report the sign of a noisy evidence stream"
    default_criterion: ClassVar[float] = 0.9

    dt: float = 20.0
    fixation: float | tuple[float, float] = 100.0
    stimulus: float | tuple[float, float] = 800.0
    delay: float | tuple[float, float] = 0.0
    decision: float | tuple[float, float] = 100.0
    coherences: tuple[float, ...] = (3.2, 6.4, 12.8, 25.6, 51.2)
    stimulus_noise: float = 1.0

    def __post_init__(self) -> None:
        validate_decision_fields(self)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("fixation", "stimulus")

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("choice",)

    analysis_variables: ClassVar[tuple[str, ...]] = ("choice", "coherence")

    def analysis_inputs(self) -> dict[str, torch.Tensor]:
        """Zero-coherence evidence with the fixation cue on (integration), and the decision period."""
        return {"fixation, zero coherence": torch.tensor([1.0, 0.0]), "decision": torch.tensor([0.0, 0.0])}

    def analysis_mask(self, batch: TrialBatch, name: str) -> torch.Tensor | None:
        """Stimulus periods for the integration input, decision periods for the decision input."""
        return batch.period_mask("stimulus" if name.startswith("fixation") else "decision")

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        g, B = generator, batch_size
        durations = {p: uniform(g, B, getattr(self, p)) for p in ("fixation", "stimulus", "delay", "decision")}
        tl = Timeline(durations, self.dt)
        sign = torch.where(torch.rand(B, generator=g) < 0.5, -1.0, 1.0).double()
        coherence = sign * choice(g, B, self.coherences)
        T = tl.n_steps
        stim = tl.mask("stimulus").float()
        noise = torch.randn(B, T, generator=g) * (self.stimulus_noise / math.sqrt(self.dt))
        inputs = torch.zeros(B, T, 2)
        inputs[..., 0] = (tl.valid() & ~tl.mask("decision")).float()
        inputs[..., 1] = stim * ((coherence[:, None] / 100.0).float() + noise)
        dec = tl.mask("decision").float()
        targets = (dec * sign[:, None].float())[..., None]
        return TrialBatch(
            inputs=inputs,
            targets=targets,
            mask=dec[..., None].clone(),
            conditions={
                "coherence": coherence,
                "choice": sign,
                "stimulus_duration": durations["stimulus"],
                "delay": durations["delay"],
            },
            periods=tl.periods,
            lengths=tl.lengths,
            dt=self.dt,
        )

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        outputs = self._check_outputs(outputs, batch)
        return decision_scores(outputs, batch, batch.conditions["coherence"], self.coherences)
