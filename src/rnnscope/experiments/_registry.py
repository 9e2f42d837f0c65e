"""The registry of paper reproductions behind ``rnnscope reproduce NAME``.

A reproduction is a function ``fn(out, *, quick, seed, progress) -> Reproduction`` registered under a
name with :func:`register`. It composes the library's pieces (models, simulate, analyses, theory),
writes its figures under ``out``, and returns the numbers it measured next to the reference they are
compared with, as :class:`Check` rows, so that the command, the docs and the tests read the same
result. ``quick=True`` is the short version the test suite runs; ``quick=False`` the full one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._validation import check_seed
from ..errors import ConfigError
from ..training import atomic_write_text, strict_json

__all__ = ["Check", "Reproduction", "register", "available", "run", "summary_of"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One measured number against its reference.

    Attributes:
        name: what is measured, e.g. ``"Delta0 at g = 2"``.
        value: the measured value.
        reference: the value it is compared with (theory, a paper, an independent implementation).
        tolerance: the allowed difference, absolute unless ``relative``.
        relative: compare ``|value - reference| <= tolerance * |reference|``.
        passed: whether it is within tolerance.
        source: where the reference comes from.
    """

    name: str
    value: float
    reference: float
    tolerance: float
    relative: bool = False
    source: str = ""

    @property
    def passed(self) -> bool:
        if not (math.isfinite(self.value) and math.isfinite(self.reference)):
            return False
        bound = self.tolerance * abs(self.reference) if self.relative else self.tolerance
        return abs(self.value - self.reference) <= bound

    def line(self) -> str:
        tol = f"{self.tolerance:.0%}" if self.relative else f"{self.tolerance:g}"
        verdict = "ok" if self.passed else "FAILED"
        src = f"  [{self.source}]" if self.source else ""
        return f"{verdict:>6}  {self.name}: {self.value:.4g} vs {self.reference:.4g} (tolerance {tol}){src}"


@dataclass
class Reproduction:
    """What a reproduction measured: checks against references, other numbers, and its figures."""

    name: str
    checks: list[Check] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "checks": [{**asdict(c), "passed": c.passed} for c in self.checks],
            "numbers": self.numbers,
            "figures": [str(p) for p in self.figures],
        }

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), strict_json(self.to_dict(), indent=2, default=float))


@dataclass(frozen=True)
class _Entry:
    fn: Callable[..., Reproduction]
    summary: str
    reference: str


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, *, summary: str, reference: str) -> Callable:
    """Decorator: register ``fn(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction``."""

    def deco(fn: Callable[..., Reproduction]) -> Callable[..., Reproduction]:
        if name in _REGISTRY:
            raise ConfigError(f"A reproduction named {name!r} is already registered.")
        _REGISTRY[name] = _Entry(fn, summary, reference)
        return fn

    return deco


def _load_all() -> None:
    from . import _catalogue  # noqa: F401  (imports every reproduction module)


def available() -> list[str]:
    """Names of the registered reproductions, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def summary_of(name: str) -> tuple[str, str]:
    """(one-line summary, paper reference) of a reproduction."""
    _load_all()
    entry = _get(name)
    return entry.summary, entry.reference


def _get(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise ConfigError(f"Unknown reproduction {name!r}. Expected one of: {', '.join(sorted(_REGISTRY))}.")
    return _REGISTRY[name]


def run(name: str, out: str | Path, *, quick: bool = False, seed: int = 0, progress: bool | None = None) -> Reproduction:
    """Run reproduction ``name``, writing figures and ``result.json`` under ``out``.

    Args:
        name: one of :func:`available`.
        out: output folder (created).
        quick: the short version (what the tests run) instead of the full one.
        seed: seed of every random draw.
        progress: progress bars (None: when the output is a terminal).
    """
    _load_all()
    entry = _get(name)
    seed = check_seed("run", "seed", seed)
    out = Path(out)
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if progress is None:
        import sys

        progress = sys.stderr.isatty()
    _LOG.info("reproducing %s (%s version) -> %s", name, "short" if quick else "full", out)
    try:
        result = entry.fn(out, quick=bool(quick), seed=seed, progress=bool(progress))
    except BaseException:  # a refused setting or an interruption leaves no empty folder behind
        if made and not any(out.iterdir()):
            out.rmdir()
        raise
    result.save(out / "result.json")
    return result
