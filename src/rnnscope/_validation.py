"""Argument checks shared by every public constructor.

Each check raises :class:`~rnnscope.errors.ConfigError` with one uniform message naming the
owner, the argument, the constraint and the value received, e.g.
``The 'tau' parameter of RateRNN must be a float > 0. Got -1 instead.``
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from .errors import ConfigError

#: The largest seed accepted: seeds are 63-bit (torch and numpy take them as signed 64-bit integers).
MAX_SEED = 2**63 - 1


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
    if not _is_number(value, numbers.Real):  # Python, numpy and 0-d torch numbers alike
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
    if not _is_number(value, numbers.Integral):
        raise _fail(owner, name, constraint, value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(owner, name, constraint, value)
    return value


def _is_number(value: Any, kind: type) -> bool:
    """Whether ``value`` is a number of ``kind`` (Python, numpy or a 0-d torch tensor), bools excluded."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or value.dtype == torch.bool or value.is_complex():
            return False
        return kind is numbers.Real or not value.is_floating_point()
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


def check_seed(owner: str, name: str, value: Any) -> int:
    """Return ``value`` as a seed: an int in ``[0, 2**63 - 1]``, or raise ConfigError."""
    return check_int(owner, name, value, low=0, high=MAX_SEED)


def check_dtype(owner: str, name: str, value: Any) -> torch.dtype | None:
    """Return ``value`` if it is None or a floating-point torch dtype, or raise ConfigError."""
    if value is not None and (not isinstance(value, torch.dtype) or not value.is_floating_point):
        raise _fail(owner, name, "a floating-point torch dtype (torch.float32 or torch.float64) or None", value)
    return value


def check_device(owner: str, name: str, value: Any) -> torch.device:
    """Return ``value`` as a ``torch.device`` that this machine has, or raise ConfigError.

    ``"banana"`` is not a device; ``"cuda"`` on a machine without a GPU is one that is not available.
    """
    constraint = "a device of this machine, such as 'cpu' or 'cuda'"
    if not isinstance(value, (str, torch.device)):
        raise _fail(owner, name, constraint, value)
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise _fail(owner, name, constraint, value) from None
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError):  # torch asserts when it was built without that backend
        raise ConfigError(f"The {name!r} parameter of {owner} must be {constraint}. Got {str(value)!r} instead: "
                          f"{device} is not available on this machine; {_device_advice(device)}") from None
    return device


def _device_advice(device: torch.device) -> str:
    """What to do about a device that torch cannot use here: a CPU-only build of torch (what a plain
    ``pip install`` gives on many systems) needs a CUDA build; a CUDA build needs a visible GPU."""
    if device.type == "cuda" and torch.version.cuda is None:
        return (f"this torch ({torch.__version__}) is a CPU-only build. For a GPU, install a CUDA build of torch "
                f"(pip install torch --index-url https://download.pytorch.org/whl/cu126, the cuXYZ of your driver: "
                f"see https://pytorch.org/get-started/locally), or use 'cpu'.")
    if device.type == "cuda":
        return (f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: check the NVIDIA driver and "
                f"CUDA_VISIBLE_DEVICES, or use 'cpu'.")
    return "use 'cpu'."


def check_finite(owner: str, name: str, tensors: Mapping[str, torch.Tensor], what: str = "values") -> None:
    """Raise ConfigError naming the entries of ``tensors`` (e.g. a model's ``state_dict()``) that hold
    NaN or infinite values."""
    bad = [key for key, t in tensors.items()
           if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        listed = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ConfigError(f"The {name!r} parameter of {owner} must hold finite {what}. Got NaN or infinite values "
                          f"in {listed} instead.")


def check_memory(owner: str, name: str, value: Any, n_bytes: int, what: str,
                 device: torch.device | str | None = None) -> None:
    """Raise ConfigError when ``n_bytes`` (the memory that ``what`` needs, which argument ``name``
    sets) exceed the memory of ``device`` (physical memory for the CPU): checked before allocating,
    so an impossible size is named instead of failing inside the allocator."""
    total = _memory_bytes(torch.device("cpu" if device is None else device))
    if total is not None and n_bytes > total:
        raise ConfigError(f"The {name!r} parameter of {owner} must fit in memory: {what} would need "
                          f"{n_bytes / 2**30:.3g} GiB, more than the {total / 2**30:.3g} GiB of this machine. "
                          f"Got {value!r} instead.")


def _memory_bytes(device: torch.device) -> int | None:
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        if device.type == "cpu":
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError, RuntimeError, AssertionError):
        return None  # a platform without these numbers: the allocator will tell
    return None


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
    if _is_number(value, numbers.Real):
        value = (value, value)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _fail(owner, name, constraint, value) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < low or hi < lo:
        raise _fail(owner, name, constraint, value)
    return lo, hi
