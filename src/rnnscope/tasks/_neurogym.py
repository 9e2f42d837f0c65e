"""``from_neurogym``: use any neurogym environment as an rnnscope task.

neurogym (https://github.com/neurogym/neurogym) describes trials one at a time as gymnasium
environments: ``env.new_trial()`` builds a trial and leaves its observations in ``env.ob``
(time, n_obs), its ground-truth actions in ``env.gt`` (time,) and its variables in ``env.trial``.
The adapter draws ``batch_size`` such trials, pads them to the longest one and returns a
:class:`TrialBatch` whose targets are the one-hot ground-truth actions (the outputs are action
logits, fitted with the cross-entropy loss).

neurogym is an optional dependency (``pip install rnnscope[neurogym]``); this module never imports
it, so the adapter also works with any object that follows the same protocol.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import check_bool, check_float
from ..errors import ConfigError
from ._base import AbstractTask, TrialBatch

__all__ = ["NeurogymTask", "from_neurogym"]

#: Methods and attributes of the neurogym trial protocol that the adapter uses.
_PROTOCOL = ("new_trial", "seed", "dt", "observation_space", "action_space")


def _neurogym_importable() -> bool:
    try:
        import neurogym  # noqa: F401
    except ImportError:
        return False
    return True


def _not_an_env(env: Any, reason: str) -> ConfigError:
    hint = " neurogym is an optional dependency: `pip install rnnscope[neurogym]`"
    hint += "." if _neurogym_importable() else " (it is not installed here)."
    return ConfigError(
        "from_neurogym needs a neurogym environment, e.g. neurogym.make('PerceptualDecisionMaking-v0', "
        f"dt=20): an object with new_trial(), seed(), dt, observation_space, action_space, and ob / gt "
        f"after each new trial. Got {type(env).__name__} instead ({reason}).{hint}"
    )


def _get(env: Any, name: str) -> Any:
    """Attribute ``name`` of the environment, looked up through gymnasium wrappers without warnings."""
    getter = getattr(env, "get_wrapper_attr", None)
    return getter(name) if callable(getter) else getattr(env, name)


def _base_env(env: Any) -> Any:
    """The innermost environment (``env.unwrapped`` for gymnasium), where neurogym keeps ob and gt."""
    return getattr(env, "unwrapped", env)


def _channel_names(space: Any, size: int, generic: str) -> tuple[str, ...]:
    """Names of the ``size`` channels of a neurogym space from its ``name`` dict, else generic ones.

    ``{"fixation": 0, "stimulus": [1, 2]}`` gives ``("fixation", "stimulus_0", "stimulus_1")``.
    Channels that the dict does not name get ``f"{generic}{i}"``; a dict that names a channel twice
    or one out of range is ignored.
    """
    names = [f"{generic}{i}" for i in range(size)]
    mapping = getattr(space, "name", None)
    if not isinstance(mapping, dict):
        return tuple(names)
    named: dict[int, str] = {}
    for key, value in mapping.items():
        if isinstance(value, numbers.Integral):
            indices, labels = [int(value)], [str(key)]
        else:
            try:
                indices = [int(v) for v in value]
            except (TypeError, ValueError):
                return tuple(names)
            labels = [f"{key}_{j}" for j in range(len(indices))]
        for index, label in zip(indices, labels):
            if not 0 <= index < size or index in named:
                return tuple(names)
            named[index] = label
    for index, label in named.items():
        names[index] = label
    return tuple(names) if len(set(names)) == size else tuple(f"{generic}{i}" for i in range(size))


def _scalar(value: Any) -> int | float | None:
    """``value`` as a Python number if it is a real scalar (int, float, bool, 0-d array), else None."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            return None
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


@dataclass(frozen=True)
class NeurogymTask(AbstractTask):
    """A neurogym environment seen as an rnnscope task. Build it with :func:`from_neurogym`.

    Args:
        env: the neurogym environment (a ``TrialEnv``, possibly wrapped). Its ``dt`` is the task's.
        decision_only: score only the steps whose ground-truth action is not 0 (the fixation action),
            i.e. the decision period; by default every step of the trial is scored, fixation
            included, as neurogym's own supervised datasets do. A trial without such a step (a
            no-go trial, say) is then scored on all its steps.

    ``sample(batch_size, seed=...)`` reseeds the environment (``env.seed``) with a seed drawn from
    the given generator, then draws ``batch_size`` trials with ``env.new_trial()``, so a seed
    always gives the same batch; the environment's own random state is changed by sampling.

    Inputs: the observations, named after the observation space's ``name`` dict when it has one.
    Outputs: one logit per action (named after the action space's ``name`` dict); targets are the
    one-hot ground-truth actions; the default loss is ``"cross_entropy"``. Padding after each trial
    carries no loss.

    Conditions: ``ground_truth`` (from ``env.trial["ground_truth"]``) and every other real scalar
    entry of ``env.trial`` present in every trial (long if integral, else float64).
    Periods: neurogym's periods (``start_ind`` / ``end_ind``) shared by every trial of the batch.
    """

    name: ClassVar[str] = "neurogym"
    summary: ClassVar[str] = "a neurogym environment adapted to rnnscope batches"
    default_loss: ClassVar[str] = "cross_entropy"
    default_criterion: ClassVar[float] = 0.9

    env: Any
    decision_only: bool = False

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for attr in _PROTOCOL:
            try:
                _get(self.env, attr)
            except AttributeError:
                raise _not_an_env(self.env, f"it has no {attr!r}") from None
        if not callable(_get(self.env, "new_trial")) or not callable(_get(self.env, "seed")):
            raise _not_an_env(self.env, "'new_trial' and 'seed' must be methods")
        check_float(f"{owner} (taken from the environment)", "dt", _get(self.env, "dt"), low=0, low_inclusive=False)
        object.__setattr__(self, "decision_only", check_bool(owner, "decision_only", self.decision_only))
        n = getattr(_get(self.env, "action_space"), "n", None)
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ConfigError(
                f"{owner} supports environments with a discrete action space (gymnasium Discrete). "
                f"Got action space {_get(self.env, 'action_space')!r} instead."
            )
        shape = getattr(_get(self.env, "observation_space"), "shape", None)
        if not shape or len(shape) != 1:
            raise ConfigError(
                f"{owner} supports environments whose observations are vectors (a 1-D observation "
                f"space). Got observation space shape {shape!r} instead."
            )
        self.input_names, self.output_names  # noqa: B018 -- resolve the channel names once, now

    @property
    def dt(self) -> float:  # type: ignore[override]
        """The environment's time step in ms."""
        return float(_get(self.env, "dt"))

    @cached_property
    def input_names(self) -> tuple[str, ...]:  # type: ignore[override]
        space = _get(self.env, "observation_space")
        return _channel_names(space, int(space.shape[0]), "input")

    @cached_property
    def output_names(self) -> tuple[str, ...]:  # type: ignore[override]
        space = _get(self.env, "action_space")
        return _channel_names(space, int(space.n), "action")

    def _draw_trial(self) -> tuple[np.ndarray, np.ndarray, dict, dict[str, tuple[int, int]]]:
        trial = _get(self.env, "new_trial")()
        base = _base_env(self.env)
        ob = np.asarray(base.ob, dtype=np.float32)
        gt = np.asarray(base.gt)
        if ob.ndim != 2 or ob.shape[1] != self.input_size or ob.shape[0] < 1:
            raise ConfigError(
                f"The environment's trial observations must have shape (time >= 1, {self.input_size}). "
                f"Got {ob.shape} instead."
            )
        if gt.shape != ob.shape[:1] or not np.issubdtype(gt.dtype, np.integer):
            raise ConfigError(
                f"The environment's ground truth must be one integer action per step, shape {ob.shape[:1]}. "
                f"Got shape {gt.shape} and dtype {gt.dtype} instead."
            )
        if gt.min() < 0 or gt.max() >= self.output_size:
            raise ConfigError(
                f"The environment's ground-truth actions must lie in [0, {self.output_size - 1}]. "
                f"Got values from {gt.min()} to {gt.max()} instead."
            )
        info = trial if isinstance(trial, dict) else (getattr(base, "trial", None) or {})
        starts, ends = getattr(base, "start_ind", {}), getattr(base, "end_ind", {})
        periods = {str(k): (int(starts[k]), int(ends[k])) for k in starts if k in ends}
        return ob, gt, info, periods

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        _get(self.env, "seed")(seed)
        trials = [self._draw_trial() for _ in range(batch_size)]
        lengths = torch.tensor([ob.shape[0] for ob, *_ in trials], dtype=torch.long)
        B, T = batch_size, int(lengths.max())
        inputs = torch.zeros(B, T, self.input_size)
        gt = torch.zeros(B, T, dtype=torch.long)
        for i, (ob, g, _, _) in enumerate(trials):
            inputs[i, : ob.shape[0]] = torch.from_numpy(ob)
            gt[i, : g.shape[0]] = torch.from_numpy(g.astype(np.int64))
        valid = torch.arange(T)[None, :] < lengths[:, None]
        targets = torch.nn.functional.one_hot(gt, self.output_size).float() * valid[..., None]
        scored = valid
        if self.decision_only:
            decision = valid & (gt != 0)
            scored = torch.where(decision.any(1, keepdim=True), decision, valid)
        mask = scored[..., None].float().expand(B, T, self.output_size).clone()
        return TrialBatch(
            inputs=inputs,
            targets=targets,
            mask=mask,
            conditions=self._conditions([info for *_, info, _ in trials]),
            periods=self._periods([p for *_, p in trials], lengths),
            lengths=lengths,
            dt=self.dt,
        )

    @staticmethod
    def _conditions(infos: list[dict]) -> dict[str, torch.Tensor]:
        conditions: dict[str, torch.Tensor] = {}
        for key in infos[0]:
            values = [_scalar(info[key]) if key in info else None for info in infos]
            if any(v is None for v in values):
                continue
            integral = all(isinstance(v, int) for v in values)
            conditions[str(key)] = torch.tensor(values, dtype=torch.long if integral else torch.float64)
        return conditions

    @staticmethod
    def _periods(periods: list[dict[str, tuple[int, int]]], lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = [k for k in periods[0] if all(k in p for p in periods)]
        out = {}
        for k in shared:
            bounds = torch.tensor([p[k] for p in periods], dtype=torch.long).reshape(-1, 2)
            bounds = torch.minimum(bounds.clamp_min(0), lengths[:, None])
            bounds[:, 0] = torch.minimum(bounds[:, 0], bounds[:, 1])
            out[k] = bounds
        return out

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """Accuracy of the most likely action, ``argmax(outputs) == ground truth``.

        Returns ``performance``: the accuracy on each trial's decision steps (those whose
        ground-truth action is not 0; all its steps for a trial without one), averaged over trials;
        and ``accuracy_all_steps``: the accuracy over every step of each trial, averaged over trials.
        """
        outputs = self._check_outputs(outputs, batch)
        gt = batch.targets.argmax(-1)
        valid = torch.arange(batch.n_steps, device=gt.device)[None, :] < batch.lengths.to(gt.device)[:, None]
        correct = (outputs.argmax(-1) == gt) & valid
        decision = valid & (gt != 0)
        scored = torch.where(decision.any(1, keepdim=True), decision, valid)
        per_trial = (correct & scored).sum(1) / scored.sum(1)
        all_steps = correct.sum(1) / valid.sum(1)
        return {
            "performance": float(per_trial.float().mean()),
            "accuracy_all_steps": float(all_steps.float().mean()),
        }


def from_neurogym(env: Any, *, decision_only: bool = False) -> NeurogymTask:
    """Adapt a neurogym environment into an rnnscope task.

    >>> import neurogym
    >>> task = from_neurogym(neurogym.make("PerceptualDecisionMaking-v0", dt=20))
    >>> batch = task.sample(32, seed=0)

    Args:
        env: a neurogym ``TrialEnv`` (possibly wrapped), or any object with the same protocol:
            ``new_trial()``, ``seed(s)``, ``dt``, ``observation_space`` (1-D, optionally with a
            ``name`` dict), a discrete ``action_space`` (``n``, optionally ``name``), and ``ob`` /
            ``gt`` (and ``trial``) on the environment (or ``env.unwrapped``) after each new trial.
        decision_only: score only the steps whose ground-truth action is not 0 (see
            :class:`NeurogymTask`).

    Raises:
        ConfigError: ``env`` does not follow the protocol (with a hint to ``pip install
            rnnscope[neurogym]`` when neurogym is missing), has a non-discrete action space or
            non-vector observations.
    """
    return NeurogymTask(env=env, decision_only=decision_only)
