"""N-bit flip-flop: remember the sign of the last pulse on each channel (Sussillo & Barak 2013).

Each input channel receives sparse brief pulses of sign +1 or -1; the matching output must hold the
sign of the most recent pulse on that channel until the next one. A network solving it for ``n``
bits needs ``2**n`` stable fixed points, which makes it the standard test bed for fixed-point
analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_float, check_int
from ..errors import ConfigError
from ._base import AbstractTask, Timeline, TrialBatch, check_lasts_a_step

__all__ = ["FlipFlop", "flipflop_scores"]


def flipflop_scores(outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
    """Masked regression scores of ``outputs`` against the held bit values of ``batch``.

    ``mse`` is the masked mean squared error; ``performance`` is ``1 - mse / (masked mean of
    target**2)`` clipped to [0, 1] (a fraction of variance explained around 0, so zero outputs score
    0 and the targets 1); ``bit_accuracy`` is the fraction of scored steps where the sign of the
    output equals the target.

    Shape:
        - outputs: (batch, time, n_bits), like ``batch.targets``
    """
    m = batch.mask
    t = batch.targets
    weight = m.sum().clamp_min(1e-12)
    mse = float(((outputs - t) ** 2 * m).sum() / weight)
    power = float((t**2 * m).sum() / weight)
    performance = min(max(1.0 - mse / power, 0.0), 1.0) if power > 0 else 0.0
    bit_accuracy = float(((torch.sign(outputs) == t).float() * m).sum() / weight)
    return {"performance": performance, "mse": mse, "bit_accuracy": bit_accuracy}


@dataclass(frozen=True)
class FlipFlop(AbstractTask):
    """N-bit flip-flop memory.

    Time is cut into consecutive slots of ``pulse_duration``; in each slot each channel carries a
    pulse with probability ``pulse_rate * slot / 1000`` (``slot`` being ``pulse_duration`` rounded to
    whole steps of ``dt``), of sign +1 or -1 with equal probability, so pulses on one channel never
    overlap. Steps after the last whole slot carry no pulse. A channel that drew no pulse at all in a
    trial gets one in a uniformly drawn slot, so every output is scored in every trial.

    Args:
        dt: time step in ms.
        n_bits: number of independent bits (input and output channels).
        duration: trial length in ms (the same for every trial).
        pulse_duration: length of a pulse and of a slot in ms; at least one step.
        pulse_rate: expected number of pulses per second on each channel.
        pulse_amplitude: input value during a pulse (times its sign).

    Inputs: ``bit0``, ``bit1``, ... (``+-pulse_amplitude`` during a pulse, 0 elsewhere). Outputs:
    ``bit0``, ``bit1``, ...: target the sign of the channel's most recent pulse, from the first step
    of that pulse on; before a channel's first pulse the target is 0 and unscored (mask 0 on that
    output only). Conditions: ``n_pulses`` (long) and ``final_state`` (+-1, the held value at the
    last step). One period, ``trial``, spans the whole trial.

    Shape:
        - inputs: (batch, time, n_bits)
        - targets, mask: (batch, time, n_bits)
        - conditions["n_pulses"], conditions["final_state"]: (batch, n_bits)
    """

    name: ClassVar[str] = "flipflop"
    summary: ClassVar[str] = "N-bit flip-flop: hold the sign of the last pulse on each channel"
    default_criterion: ClassVar[float] = 0.95
    default_loss: ClassVar[str] = "mse"
    # 64 units reach 0.95 in ~450 steps (~9 s on 2 cores) at this learning rate; 1e-3 needs ~2500.
    recommended: ClassVar[dict] = {"training": {"learning_rate": 1e-2, "steps": 3000}}

    dt: float = 10.0  # ms
    n_bits: int = 3
    duration: float = 1000.0  # ms, fixed trial length
    pulse_duration: float = 30.0  # ms, also the slot length
    pulse_rate: float = 2.0  # expected pulses per second per bit
    pulse_amplitude: float = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        dt = check_float(owner, "dt", self.dt, low=0, low_inclusive=False)
        object.__setattr__(self, "dt", dt)
        object.__setattr__(self, "n_bits", check_int(owner, "n_bits", self.n_bits, low=1))
        pulse = check_float(owner, "pulse_duration", self.pulse_duration, low=0, low_inclusive=False)
        object.__setattr__(self, "pulse_duration", pulse)
        check_lasts_a_step(self, "pulse_duration")
        object.__setattr__(self, "duration", check_float(owner, "duration", self.duration, low=pulse))
        rate = check_float(owner, "pulse_rate", self.pulse_rate, low=0, low_inclusive=False)
        object.__setattr__(self, "pulse_rate", rate)
        amplitude = check_float(owner, "pulse_amplitude", self.pulse_amplitude, low=0, low_inclusive=False)
        object.__setattr__(self, "pulse_amplitude", amplitude)
        if self.pulse_probability > 1.0:
            slot = self.pulse_steps * self.dt
            raise ConfigError(
                f"The 'pulse_rate' parameter of {owner} must be a float <= {1000.0 / slot:g} (at most one pulse "
                f"per {slot:g} ms slot). Got {self.pulse_rate!r} instead."
            )

    @property
    def n_steps(self) -> int:
        """Number of time steps of every trial."""
        return int(round(self.duration / self.dt))

    @property
    def pulse_steps(self) -> int:
        """Length of a pulse (and of a slot) in steps."""
        return int(round(self.pulse_duration / self.dt))

    @property
    def n_slots(self) -> int:
        """Number of whole pulse slots in a trial."""
        return self.n_steps // self.pulse_steps

    @property
    def pulse_probability(self) -> float:
        """Probability that a slot of a channel carries a pulse."""
        return self.pulse_rate * self.pulse_steps * self.dt / 1000.0

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f"bit{i}" for i in range(self.n_bits))

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(f"bit{i}" for i in range(self.n_bits))

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        g, B, N = generator, batch_size, self.n_bits
        S, k = self.n_slots, self.pulse_steps
        tl = Timeline({"trial": torch.full((B,), self.n_steps * self.dt, dtype=torch.float64)}, self.dt)
        T = tl.n_steps

        # Which slots carry a pulse, and its sign; (batch, slot, bit).
        occupied = torch.rand(B, S, N, generator=g) < self.pulse_probability
        sign = torch.where(torch.rand(B, S, N, generator=g) < 0.5, -1.0, 1.0)
        # A silent channel gets one pulse in a random slot (drawn for every channel, used where silent).
        forced = torch.randint(S, (B, 1, N), generator=g)
        silent = ~occupied.any(dim=1, keepdim=True)
        occupied.scatter_(1, forced, occupied.gather(1, forced) | silent)

        # Index of the most recent pulse slot at or before each slot (-1 before the first pulse).
        slot_index = torch.arange(S)[None, :, None].expand(B, S, N)
        last = torch.where(occupied, slot_index, -1).cummax(dim=1).values
        seen = last >= 0
        state = torch.gather(sign, 1, last.clamp_min(0)) * seen

        # Slots -> steps; steps after the last whole slot keep the last slot's state but get no pulse.
        t = torch.arange(T)
        step_slot = (t // k).clamp_max(S - 1)
        in_slot = (t < S * k).float()[None, :, None]
        inputs = (occupied * sign)[:, step_slot, :] * in_slot * self.pulse_amplitude
        targets = state[:, step_slot, :]
        mask = seen[:, step_slot, :].float()
        return TrialBatch(
            inputs=inputs.float().contiguous(),
            targets=targets.float().contiguous(),
            mask=mask.contiguous(),
            conditions={"n_pulses": occupied.sum(dim=1), "final_state": state[:, -1, :].clone()},
            periods=tl.periods,
            lengths=tl.lengths,
            dt=self.dt,
        )

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        outputs = self._check_outputs(outputs, batch)
        return flipflop_scores(outputs, batch)
