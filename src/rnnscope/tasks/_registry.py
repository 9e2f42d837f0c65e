"""The task registry: ``make(name, **params)`` and ``available()``."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from ..errors import ConfigError
from ._base import AbstractTask

# name -> (module, class). Modules are imported on first use.
_BUILTIN: dict[str, tuple[str, str]] = {
    "perceptual_decision": ("rnnscope.tasks.perceptual_decision", "PerceptualDecision"),
    "context_decision": ("rnnscope.tasks.context_decision", "ContextDecision"),
    "flipflop": ("rnnscope.tasks.flipflop", "FlipFlop"),
    "measure_set_go": ("rnnscope.tasks.measure_set_go", "MeasureSetGo"),
    "path_integration": ("rnnscope.tasks.path_integration", "PathIntegration"),
    "parity": ("rnnscope.tasks.formal_language", "Parity"),
    **{f"tomita{k}": ("rnnscope.tasks.formal_language", f"Tomita{k}") for k in range(1, 8)},
}
_USER: dict[str, type[AbstractTask]] = {}


def register(cls: type[AbstractTask]) -> type[AbstractTask]:
    """Register a user task class under ``cls.name`` so that ``make`` and the CLI find it."""
    if not (isinstance(cls, type) and issubclass(cls, AbstractTask)):
        raise ConfigError(f"register() takes an AbstractTask subclass. Got {cls!r} instead.")
    if cls.name in _BUILTIN:
        raise ConfigError(f"The task name {cls.name!r} is taken by a built-in task.")
    _USER[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of every registered task, sorted."""
    return sorted([*_BUILTIN, *_USER])


def task_class(name: str) -> type[AbstractTask]:
    """The class registered under ``name``."""
    if name in _USER:
        return _USER[name]
    if name not in _BUILTIN:
        raise ConfigError(
            f"Unknown task {name!r}. Available tasks: {', '.join(available())}."
        )
    module, cls = _BUILTIN[name]
    return getattr(importlib.import_module(module), cls)


def make(name: str, **params: Any) -> AbstractTask:
    """Build the task registered under ``name`` with the given parameters.

    >>> task = make("perceptual_decision", dt=20.0)
    >>> batch = task.sample(16, seed=0)
    """
    cls = task_class(name)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ConfigError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for task {name!r}. "
            f"Accepted parameters: {', '.join(sorted(fields))}."
        )
    return cls(**params)
