"""Argument checks shared by every public constructor.

Each check raises :class:`~rnnscope.errors.ConfigError` with one uniform message naming the
owner, the argument, the constraint and the value received, e.g.
``The 'tau' parameter of RateRNN must be a float > 0. Got -1 instead.``
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .errors import ConfigError


def _fail(owner: str, name: str, constraint: str, value: Any) -> ConfigError:
    return ConfigError(f"The {name!r} parameter of {owner} must be {constraint}. Got {value!r} instead.")


def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float inside the given bounds, or raise ConfigError."""
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inclusive else '>'} {low:g}")
    if high is not None:
        parts.append(f"{'<=' if high_inclusive else '<'} {high:g}")
    constraint = "a float" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(owner, name, constraint, value)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(owner, name, constraint, value)
    if low is not None and (value < low or (not low_inclusive and value == low)):
        raise _fail(owner, name, constraint, value)
    if high is not None and (value > high or (not high_inclusive and value == high)):
        raise _fail(owner, name, constraint, value)
    return value


def check_int(owner: str, name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int inside ``[low, high]``, or raise ConfigError."""
    parts = []
    if low is not None:
        parts.append(f">= {low}")
    if high is not None:
        parts.append(f"<= {high}")
    constraint = "an int" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, int):
        # accept integral numpy / torch scalars
        try:
            import numbers

            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise _fail(owner, name, constraint, value) from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(owner, name, constraint, value)
    return int(value)


def check_choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, or raise ConfigError listing them."""
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise _fail(owner, name, f"one of {listed}", value)
    return value


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool, or raise ConfigError."""
    if not isinstance(value, bool):
        raise _fail(owner, name, "a bool (True or False)", value)
    return value


def check_range(owner: str, name: str, value: Any, *, low: float = 0.0) -> tuple[float, float]:
    """Return a ``(min, max)`` pair of floats with ``low <= min <= max``, or raise ConfigError.

    A single number is accepted and means a fixed value ``(v, v)``.
    """
    constraint = f"a number or a pair (min, max) with {low:g} <= min <= max"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _fail(owner, name, constraint, value) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < low or hi < lo:
        raise _fail(owner, name, constraint, value)
    return lo, hi
