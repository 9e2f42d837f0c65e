"""Context-dependent decision making (Mante, Sussillo, Shenoy & Newsome 2013).

Trial: fixation, then two noisy evidence streams at once, motion and colour, each with its own
signed coherence, an optional delay, then the decision period. A context cue, on from the start of
the trial until the decision period, says which stream matters: the network must report the sign of
the cued stream's coherence (+1 or -1) and ignore the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from ._base import AbstractTask, Timeline, TrialBatch, choice, uniform
from .perceptual_decision import decision_scores, validate_decision_fields

__all__ = ["ContextDecision"]

#: Index of each context in the ``context`` condition.
_CONTEXTS = ("motion", "colour")


@dataclass(frozen=True)
class ContextDecision(AbstractTask):
    """Context-dependent integration of motion or colour evidence.

    Args:
        dt: time step in ms.
        fixation: fixation period in ms (number, or [min, max] drawn per trial).
        stimulus: stimulus period in ms (number or [min, max]).
        delay: delay between stimulus and decision in ms (number or [min, max]; 0 for none).
        decision: decision period in ms.
        coherences: absolute coherences in percent. Motion and colour coherences are drawn
            independently, each from this list and with its own random sign.
        stimulus_noise: white-noise density of each evidence stream, as in
            :class:`~rnnscope.tasks.perceptual_decision.PerceptualDecision`: the per-step standard
            deviation is ``stimulus_noise / sqrt(dt / 1 ms)``; the two streams get independent noise.

    Inputs: ``fixation`` (1 until the decision period), ``motion`` and ``colour`` (coherence / 100 +
    noise during the stimulus), ``context_motion`` and ``context_colour`` (one-hot context cue, on
    from the start of the trial to the end of the delay). Output: ``choice``, target +1 or -1 (the
    sign of the cued stream's coherence) during the decision period, unscored elsewhere.

    Conditions: ``context`` (long: 0 motion, 1 colour), ``coherence_motion`` and
    ``coherence_colour`` (signed, %), ``coherence`` (the cued one, signed, %), ``choice`` (+-1),
    ``choice_motion`` and ``choice_colour`` (the choice each stream alone would give, +-1),
    ``stimulus_duration`` and ``delay`` (ms).
    """

    name: ClassVar[str] = "context_decision"
    summary: ClassVar[str] = "context-dependent decision: report the sign of the cued one of two evidence streams"
    default_criterion: ClassVar[float] = 0.9
    recommended: ClassVar[dict] = {"training": {"learning_rate": 1e-2, "steps": 3000}}

    dt: float = 20.0
    fixation: float | tuple[float, float] = 100.0
    stimulus: float | tuple[float, float] = 800.0
    delay: float | tuple[float, float] = 0.0
    decision: float | tuple[float, float] = 100.0
    coherences: tuple[float, ...] = (6.4, 12.8, 25.6, 51.2)
    stimulus_noise: float = 1.0

    def __post_init__(self) -> None:
        validate_decision_fields(self)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("fixation", "motion", "colour", "context_motion", "context_colour")

    analysis_variables: ClassVar[tuple[str, ...]] = ("choice", "coherence_motion", "coherence_colour", "context")
    condition_names: ClassVar[dict[str, tuple[str, ...]]] = {"context": _CONTEXTS}

    def analysis_inputs(self) -> dict[str, torch.Tensor]:
        """Zero-coherence stimulus with the fixation and context cues on, one per context (Mante et al.)."""
        return {
            "motion context": torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0]),
            "colour context": torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0]),
        }

    def analysis_mask(self, batch: TrialBatch, name: str) -> torch.Tensor | None:
        """The stimulus periods of the trials of the context ``name`` names."""
        k = 0 if name.startswith("motion") else 1
        return batch.period_mask("stimulus") & (batch.conditions["context"] == k)[:, None]

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("choice",)

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        g, B = generator, batch_size
        durations = {p: uniform(g, B, getattr(self, p)) for p in ("fixation", "stimulus", "delay", "decision")}
        tl = Timeline(durations, self.dt)
        # Per stream (motion, colour): a random sign and a level, drawn independently.
        signs = torch.where(torch.rand(B, 2, generator=g) < 0.5, -1.0, 1.0).double()
        levels = torch.stack([choice(g, B, self.coherences), choice(g, B, self.coherences)], dim=1)
        coherence = signs * levels  # (B, 2): motion, colour
        context = torch.randint(2, (B,), generator=g)
        cued = torch.arange(B)
        relevant = coherence[cued, context]
        sign = signs[cued, context]

        T = tl.n_steps
        stim = tl.mask("stimulus").float()
        noise = torch.randn(B, T, 2, generator=g) * (self.stimulus_noise / math.sqrt(self.dt))
        before_decision = (tl.valid() & ~tl.mask("decision")).float()
        inputs = torch.zeros(B, T, 5)
        inputs[..., 0] = before_decision
        inputs[..., 1:3] = stim[..., None] * ((coherence[:, None, :] / 100.0).float() + noise)
        inputs[..., 3:5] = before_decision[..., None] * torch.nn.functional.one_hot(context, 2).float()[:, None, :]
        dec = tl.mask("decision").float()
        targets = (dec * sign[:, None].float())[..., None]
        return TrialBatch(
            inputs=inputs,
            targets=targets,
            mask=dec[..., None].clone(),
            conditions={
                "context": context,
                "coherence_motion": coherence[:, 0].clone(),
                "coherence_colour": coherence[:, 1].clone(),
                "coherence": relevant,
                "choice": sign,
                "choice_motion": signs[:, 0].clone(),
                "choice_colour": signs[:, 1].clone(),
                "stimulus_duration": durations["stimulus"],
                "delay": durations["delay"],
            },
            periods=tl.periods,
            lengths=tl.lengths,
            dt=self.dt,
        )

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """Accuracy of the sign of the mean decision-period output.

        Returns ``performance`` (= ``accuracy``, over all trials), ``accuracy_above_middle`` (trials
        whose cued absolute coherence is at least the middle level), ``accuracy_<level>`` per cued
        level, and ``accuracy_context_motion`` / ``accuracy_context_colour`` per context (NaN for a
        context absent from the batch).
        """
        outputs = self._check_outputs(outputs, batch)
        scores = decision_scores(outputs, batch, batch.conditions["coherence"], self.coherences)
        dec = batch.period_mask("decision").float()
        mean_out = (outputs[..., 0] * dec).sum(1) / dec.sum(1).clamp_min(1)
        correct = (torch.sign(mean_out) == batch.conditions["choice"]).float()
        context = batch.conditions["context"]
        for index, name in enumerate(_CONTEXTS):
            sel = context == index
            scores[f"accuracy_context_{name}"] = float(correct[sel].mean()) if bool(sel.any()) else float("nan")
        return scores
