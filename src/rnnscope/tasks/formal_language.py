"""Formal languages: accept or reject a binary string read one symbol at a time.

The network reads a string of ``0`` and ``1`` given as input pulses (one pulse per symbol on the
channel of that symbol), then an end cue, and must answer during a response period: +1 if the string
belongs to the language, -1 if not. These are the classic tests of what a recurrent network can
compute (Giles et al. 1992; Omlin & Giles 1996; Weiss, Goldberg & Yahav 2018): a network that solves
one implements a finite automaton (Doya's theorem: any finite automaton can be emulated), which
:func:`rnnscope.analysis.extract_automaton` recovers.

The languages (Tomita 1982, as used by the papers above; sizes of the minimal automata, dead state
included, in brackets):

========  ======================================================================  ====
parity    an odd number of 1s                                                       2
tomita1   1*                                                                        2
tomita2   (10)*                                                                     3
tomita3   no odd-length run of 1s followed later by an odd-length run of 0s         5
tomita4   no 000                                                                    4
tomita5   an even number of 0s and an even number of 1s                             4
tomita6   (#0 - #1) mod 3 = 0                                                       3
tomita7   0*1*0*1*                                                                  5
========  ======================================================================  ====

Strings of every length from ``min_length`` to ``max_length`` (the empty string included by default)
are drawn with **balanced classes**: each trial is a member with probability 1/2; its length is
drawn uniformly among the lengths that have strings of its class, and the string uniformly among
those. (Drawn uniformly from all strings, T1 and T2 would almost never give a member.)
"""

from __future__ import annotations

import abc
import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_float, check_int
from ..errors import ConfigError
from ._base import AbstractTask, Timeline, TrialBatch

__all__ = ["FormalLanguage", "all_strings", "LANGUAGES"]

#: Largest ``max_length`` a language task enumerates (2^21 strings).
_MAX_LENGTH = 20


def all_strings(alphabet: Sequence[str], max_length: int, min_length: int = 0) -> list[str]:
    """Every string over ``alphabet`` of length ``min_length`` to ``max_length``, shortest first,
    then in lexicographic order of the alphabet."""
    out = []
    for n in range(min_length, max_length + 1):
        out.extend("".join(p) for p in itertools.product(alphabet, repeat=n))
    return out


@functools.lru_cache(maxsize=64)
def _by_class(language: type[FormalLanguage], min_length: int, max_length: int) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """(rejected, accepted) strings of each length: ``out[label][n - min_length]``."""
    out: tuple[list, list] = ([], [])
    for n in range(min_length, max_length + 1):
        words = all_strings(language.alphabet, n, n)
        for label in (0, 1):
            out[label].append(tuple(w for w in words if language.accepts(w) == bool(label)))
    return tuple(tuple(part) for part in out)


@dataclass(frozen=True)
class FormalLanguage(AbstractTask):
    """Accept or reject binary strings of a formal language (abstract: one subclass per language).

    Args:
        dt: time step in ms.
        max_length, min_length: the range of string lengths (``min_length = 0``: the empty string too).
        symbol_duration: how long each symbol's pulse lasts, ms (at least one step).
        cue_duration: the end cue, ms.
        response_duration: the response period, ms; the output is scored there only.
        amplitude: the value of a pulse.

    Inputs: ``0``, ``1`` (one pulse per symbol on its channel), ``end`` (the cue). Output: ``accept``,
    target +1 for a member and -1 otherwise during the response period (mask 1 there only). The
    decision is the sign of the mean output over the response period. Periods: ``stimulus``,
    ``cue``, ``response``. Conditions: ``accept`` (long, 1 for a member), ``length`` (long),
    ``symbols`` (long, (batch, max_length), -1 after the string's end).

    Shape:
        - inputs: (batch, time, 3); targets, mask: (batch, time, 1)
    """

    alphabet: ClassVar[tuple[str, ...]] = ("0", "1")
    #: the number of states of the language's minimal automaton, dead state included
    minimal_states: ClassVar[int]
    default_loss: ClassVar[str] = "mse"
    default_criterion: ClassVar[float] = 0.99
    recommended: ClassVar[dict] = {"model": {"hidden_size": 32, "time": "discrete"},
                                   "training": {"learning_rate": 1e-2, "steps": 3000}}

    dt: float = 10.0
    max_length: int = 10
    min_length: int = 0
    symbol_duration: float = 10.0
    cue_duration: float = 10.0
    response_duration: float = 20.0
    amplitude: float = 1.0

    def __post_init__(self) -> None:
        own = type(self).__name__
        dt = check_float(own, "dt", self.dt, low=0, low_inclusive=False)
        object.__setattr__(self, "dt", dt)
        object.__setattr__(self, "max_length", check_int(own, "max_length", self.max_length, low=1, high=_MAX_LENGTH))
        object.__setattr__(self, "min_length", check_int(own, "min_length", self.min_length, low=0,
                                                         high=self.max_length))
        for name in ("symbol_duration", "cue_duration", "response_duration"):
            object.__setattr__(self, name, check_float(own, name, getattr(self, name), low=dt))
        object.__setattr__(self, "amplitude", check_float(own, "amplitude", self.amplitude, low=0,
                                                          low_inclusive=False))
        counts = [sum(map(len, part)) for part in _by_class(type(self), self.min_length, self.max_length)]
        if min(counts) == 0:
            raise ConfigError(f"{own} with lengths {self.min_length}..{self.max_length} has no "
                              f"{'member' if counts[1] == 0 else 'non-member'} string: widen the 'max_length' "
                              f"parameter. Got max_length={self.max_length!r}.")

    @staticmethod
    @abc.abstractmethod
    def accepts(string: str) -> bool:
        """Whether ``string`` (of ``"0"`` and ``"1"``) belongs to the language: the exact oracle."""

    # ------------------------------------------------------------------ layout
    @property
    def input_names(self) -> tuple[str, ...]:
        return (*self.alphabet, "end")

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("accept",)

    @property
    def symbol_steps(self) -> int:
        return int(round(self.symbol_duration / self.dt))

    def symbol_end_step(self, n: int) -> int:
        """The step index at which the ``n``-th symbol (1-based) has been read: the state there is
        the network's state after the prefix of length ``n`` (-1 for the empty prefix: the initial
        state)."""
        return n * self.symbol_steps - 1

    def trials(self, strings: Sequence[str]) -> TrialBatch:
        """The trials of the given strings, in order (their targets from :meth:`accepts`).

        Shape: inputs (len(strings), time, 3), time the longest trial.
        """
        own = f"{type(self).__name__}.trials"
        strings = list(strings)
        if not strings:
            raise ConfigError(f"The 'strings' parameter of {own} must hold at least one string. Got none.")
        bad = [s for s in strings if not isinstance(s, str) or set(s) - set(self.alphabet)]
        if bad:
            raise ConfigError(f"The 'strings' parameter of {own} must hold strings of {', '.join(self.alphabet)}. "
                              f"Got {bad[0]!r}.")
        B = len(strings)
        k = self.symbol_steps
        lengths = torch.tensor([len(s) for s in strings], dtype=torch.long)
        f64 = torch.float64
        tl = Timeline({"stimulus": (lengths * k * self.dt).to(f64),
                       "cue": torch.full((B,), self.cue_duration, dtype=f64),
                       "response": torch.full((B,), self.response_duration, dtype=f64)}, self.dt)
        T = tl.n_steps
        width = max(1, int(lengths.max()))
        symbols = torch.full((B, width), -1, dtype=torch.long)
        for i, s in enumerate(strings):
            if s:
                symbols[i, : len(s)] = torch.tensor([self.alphabet.index(c) for c in s])
        t = torch.arange(T)
        position = (t // k)[None, :].expand(B, T)  # the symbol read at step t
        in_string = position < lengths[:, None]
        code = symbols.gather(1, position.clamp_max(width - 1)).clamp_min(0)
        inputs = torch.zeros(B, T, 3)
        inputs[..., :2] = torch.nn.functional.one_hot(code, 2).float() * in_string[..., None]
        inputs[..., 2] = tl.mask("cue").float()
        accept = torch.tensor([self.accepts(s) for s in strings], dtype=torch.long)
        response = tl.mask("response").float()[..., None]
        targets = response * (2.0 * accept.float() - 1.0)[:, None, None]
        return TrialBatch(inputs=(inputs * self.amplitude).contiguous(), targets=targets.contiguous(),
                          mask=response.contiguous(), conditions={"accept": accept, "length": lengths,
                                                                  "symbols": symbols},
                          periods=tl.periods, lengths=tl.lengths, dt=self.dt)

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        classes = _by_class(type(self), self.min_length, self.max_length)
        labels = (torch.rand(batch_size, generator=generator) < 0.5).long().tolist()
        strings = []
        for label in labels:
            lengths = [i for i, words in enumerate(classes[label]) if words]
            words = classes[label][lengths[int(torch.randint(len(lengths), (1,), generator=generator))]]
            strings.append(words[int(torch.randint(len(words), (1,), generator=generator))])
        batch = self.trials(strings)
        if batch.conditions["symbols"].shape[1] < self.max_length:  # one width for every batch
            pad = self.max_length - batch.conditions["symbols"].shape[1]
            symbols = torch.nn.functional.pad(batch.conditions["symbols"], (0, pad), value=-1)
            batch = TrialBatch(batch.inputs, batch.targets, batch.mask, {**batch.conditions, "symbols": symbols},
                               batch.periods, batch.lengths, batch.dt)
        return batch

    # ------------------------------------------------------------------ scoring
    def decisions(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """Whether the network accepts each trial's string: the mean output over the response period
        is positive. Shape: outputs (batch, time, 1) -> (batch,) bool."""
        outputs = self._check_outputs(outputs, batch)
        m = batch.mask[..., 0]
        mean = (outputs[..., 0] * m).sum(1) / m.sum(1).clamp_min(1.0)
        return mean > 0

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """``performance``: the fraction of strings classified right; ``mse`` over the response."""
        outputs = self._check_outputs(outputs, batch)
        right = self.decisions(outputs, batch) == batch.conditions["accept"].bool()
        m = batch.mask
        mse = float(((outputs - batch.targets) ** 2 * m).sum() / m.sum().clamp_min(1.0))
        return {"performance": float(right.float().mean()), "mse": mse}


# ---------------------------------------------------------------------------------------------- languages
def _runs(string: str) -> list[tuple[str, int]]:
    return [(m.group(0)[0], len(m.group(0))) for m in re.finditer(r"0+|1+", string)]


@dataclass(frozen=True)
class Parity(FormalLanguage):
    name: ClassVar[str] = "parity"
    summary: ClassVar[str] = "parity: accept binary strings with an odd number of 1s"
    minimal_states: ClassVar[int] = 2

    @staticmethod
    def accepts(string: str) -> bool:
        return string.count("1") % 2 == 1


@dataclass(frozen=True)
class Tomita1(FormalLanguage):
    name: ClassVar[str] = "tomita1"
    summary: ClassVar[str] = "Tomita 1: accept 1*"
    minimal_states: ClassVar[int] = 2

    @staticmethod
    def accepts(string: str) -> bool:
        return "0" not in string


@dataclass(frozen=True)
class Tomita2(FormalLanguage):
    name: ClassVar[str] = "tomita2"
    summary: ClassVar[str] = "Tomita 2: accept (10)*"
    minimal_states: ClassVar[int] = 3

    @staticmethod
    def accepts(string: str) -> bool:
        return string == "10" * (len(string) // 2)


@dataclass(frozen=True)
class Tomita3(FormalLanguage):
    name: ClassVar[str] = "tomita3"
    summary: ClassVar[str] = "Tomita 3: reject an odd run of 1s followed later by an odd run of 0s"
    minimal_states: ClassVar[int] = 5

    @staticmethod
    def accepts(string: str) -> bool:
        odd_ones = False
        for symbol, n in _runs(string):
            if symbol == "1" and n % 2 == 1:
                odd_ones = True
            elif symbol == "0" and n % 2 == 1 and odd_ones:
                return False
        return True


@dataclass(frozen=True)
class Tomita4(FormalLanguage):
    name: ClassVar[str] = "tomita4"
    summary: ClassVar[str] = "Tomita 4: accept strings without 000"
    minimal_states: ClassVar[int] = 4

    @staticmethod
    def accepts(string: str) -> bool:
        return "000" not in string


@dataclass(frozen=True)
class Tomita5(FormalLanguage):
    name: ClassVar[str] = "tomita5"
    summary: ClassVar[str] = "Tomita 5: accept an even number of 0s and an even number of 1s"
    minimal_states: ClassVar[int] = 4

    @staticmethod
    def accepts(string: str) -> bool:
        return string.count("0") % 2 == 0 and string.count("1") % 2 == 0


@dataclass(frozen=True)
class Tomita6(FormalLanguage):
    name: ClassVar[str] = "tomita6"
    summary: ClassVar[str] = "Tomita 6: accept (#0 - #1) mod 3 = 0"
    minimal_states: ClassVar[int] = 3

    @staticmethod
    def accepts(string: str) -> bool:
        return (string.count("0") - string.count("1")) % 3 == 0


@dataclass(frozen=True)
class Tomita7(FormalLanguage):
    name: ClassVar[str] = "tomita7"
    summary: ClassVar[str] = "Tomita 7: accept 0*1*0*1*"
    minimal_states: ClassVar[int] = 5

    @staticmethod
    def accepts(string: str) -> bool:
        return re.fullmatch(r"0*1*0*1*", string) is not None


#: The registered language tasks, by name.
LANGUAGES: dict[str, type[FormalLanguage]] = {cls.name: cls for cls in (
    Parity, Tomita1, Tomita2, Tomita3, Tomita4, Tomita5, Tomita6, Tomita7)}
