"""Rule algebra: run a task with its rule inputs replaced by a combination of other rules' inputs
(Yang, Joglekar, Song, Newsome & Wang 2019: a network trained on many tasks performs Dly Anti when
given Anti + (Dly Go - Go) instead of the Dly Anti rule input).

:func:`rule_combination_effect` sets the rule channels of every step of each trial to the given
combination (channels named, e.g. ``{"rule_fdanti": 1, "rule_delaygo": 1, "rule_fdgo": -1}``), leaves
the other inputs as they were, simulates without noise and scores the outputs with the task's own
``evaluate``, next to the score with the original inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .._validation import check_int, check_seed
from ..dynamics import simulate
from ..errors import ConfigError
from ..models._base import AbstractRNN
from ..tasks._base import AbstractTask, TrialBatch

__all__ = ["RuleAlgebraResult", "replace_inputs", "rule_combination_effect"]


def replace_inputs(batch: TrialBatch, values: Mapping[int, float], channels: Sequence[int]) -> TrialBatch:
    """The same trials with the input ``channels`` set, on every step of each trial, to
    ``values.get(channel, 0)`` (padding stays 0)."""
    inputs = batch.inputs.clone()
    valid = (torch.arange(batch.n_steps)[None, :] < batch.lengths[:, None]).to(inputs.dtype)
    for c in channels:
        inputs[..., c] = float(values.get(c, 0.0)) * valid
    return dataclasses.replace(batch, inputs=inputs)


@dataclass(frozen=True)
class RuleAlgebraResult:
    """A task scored with its own rule input and with a combination of rule inputs.

    Attributes:
        combination: channel name -> weight of the replacing input.
        original_scores: ``task.evaluate`` with the original inputs.
        combined_scores: with the rule channels replaced.
    """

    combination: dict[str, float]
    original_scores: dict[str, float]
    combined_scores: dict[str, float]

    @property
    def original_performance(self) -> float:
        return float(self.original_scores["performance"])

    @property
    def combined_performance(self) -> float:
        return float(self.combined_scores["performance"])


def rule_combination_effect(
    model: AbstractRNN,
    task: AbstractTask,
    combination: Mapping[str, float],
    *,
    prefix: str = "rule_",
    n_trials: int = 256,
    seed: int = 0,
) -> RuleAlgebraResult:
    """Score ``task`` with every input channel whose name starts with ``prefix`` replaced by
    ``combination`` (channel name -> weight; the others 0), noise off.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN` fitting the task.
        task: the task (its ``input_names`` name the channels).
        combination: e.g. ``{"rule_fdanti": 1.0, "rule_delaygo": 1.0, "rule_fdgo": -1.0}``.
        prefix: the channels replaced.
        n_trials, seed: the trials, ``task.sample(n_trials, seed=seed)``.
    """
    own = "rule_combination_effect"
    names = list(task.input_names)
    channels = [i for i, n in enumerate(names) if n.startswith(prefix)]
    if not channels:
        raise ConfigError(f"The task {task.name!r} has no input channel starting with {prefix!r}.")
    unknown = sorted(set(combination) - {names[i] for i in channels})
    if unknown:
        raise ConfigError(f"The 'combination' parameter of {own} names unknown rule channels "
                          f"{', '.join(map(repr, unknown))}; the task's are {', '.join(names[i] for i in channels)}.")
    batch = task.sample(check_int(own, "n_trials", n_trials, low=1), seed=check_seed(own, "seed", seed))
    values = {names.index(k): float(v) for k, v in combination.items()}
    replaced = replace_inputs(batch, values, channels)
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")

    def score(b: TrialBatch) -> dict[str, float]:
        with torch.no_grad():
            out = simulate(model, b.inputs.to(device=device, dtype=dtype), noise=False).outputs
        return dict(task.evaluate(out.cpu(), b))

    return RuleAlgebraResult(combination={k: float(v) for k, v in combination.items()},
                             original_scores=score(batch), combined_scores=score(replaced))
