"""The result of a fixed-point search: :class:`FixedPoints`, a batch of fixed and slow points with
their linearisation, saveable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import ConfigError, ShapeError
from ._results_io import load_result, save_result

__all__ = ["FixedPoints"]

_ARRAYS = ("states", "q", "inputs", "eigenvalues", "eigenvectors", "n_unstable", "is_slow")


class FixedPoints:
    """A batch of fixed (and slow) points with their linearisation.

    Attributes:
        states: the points, float64.
        q: ``|F(x)|^2 / 2`` at each point (F the flow, or map minus identity).
        inputs: the constant input of each point.
        eigenvalues: eigenvalues of the Jacobian of the vector field (the flow in continuous time,
            the map in discrete time), complex, sorted by decreasing real part (continuous) or modulus
            (discrete).
        eigenvectors: the matching right eigenvectors, as columns (unit norm, largest entry real
            and positive). A search computes them when they are first read: classifying the points
            needs only the eigenvalues, which take about 2/3 of the time of a full decomposition.
        n_unstable: number of unstable directions (real part > 0, resp. modulus > 1).
        is_slow: True for slow points (the search stopped with ``q`` above its tolerance).
        time: ``"continuous"`` or ``"discrete"``.
        dt: the model's time step in ms (time constants of discrete-time modes need it).

    The object is immutable.

    Shape:
        - states: (n, hidden_size); q: (n,); inputs: (n, input_size)
        - eigenvalues: (n, hidden_size); eigenvectors: (n, hidden_size, hidden_size)
        - n_unstable, is_slow: (n,)
    """

    __slots__ = ("states", "q", "inputs", "eigenvalues", "_eigenvectors", "_vectors_of", "n_unstable", "is_slow",
                 "time", "dt")

    def __init__(self, states: torch.Tensor, q: torch.Tensor, inputs: torch.Tensor, eigenvalues: torch.Tensor,
                 eigenvectors: torch.Tensor, n_unstable: torch.Tensor, is_slow: torch.Tensor,
                 time: str = "continuous", dt: float = 1.0) -> None:
        self._init(states, q, inputs, eigenvalues, eigenvectors, None, n_unstable, is_slow, time, dt)

    @classmethod
    def _deferred(cls, states: torch.Tensor, q: torch.Tensor, inputs: torch.Tensor, eigenvalues: torch.Tensor,
                  vectors_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], n_unstable: torch.Tensor,
                  is_slow: torch.Tensor, time: str, dt: float) -> FixedPoints:
        """Points whose eigenvectors ``vectors_of(states, eigenvalues)`` computes when first read."""
        out = cls.__new__(cls)
        out._init(states, q, inputs, eigenvalues, None, vectors_of, n_unstable, is_slow, time, dt)
        return out

    def _init(self, states, q, inputs, eigenvalues, eigenvectors, vectors_of, n_unstable, is_slow, time, dt) -> None:
        values = dict(states=states, q=q, inputs=inputs, eigenvalues=eigenvalues, _eigenvectors=eigenvectors,
                      _vectors_of=vectors_of, n_unstable=n_unstable, is_slow=is_slow, time=time, dt=dt)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        if self.time not in ("continuous", "discrete"):
            raise ConfigError(f"The 'time' parameter of FixedPoints must be one of 'continuous', 'discrete'. "
                              f"Got {self.time!r} instead.")
        if self.states.ndim != 2:
            raise ShapeError(f"The 'states' parameter of FixedPoints must have shape (n, hidden_size). "
                             f"Got {tuple(self.states.shape)} instead.")
        n, N = self.states.shape
        expected = {"q": "(n,)", "inputs": "(n, input_size)", "eigenvalues": "(n, hidden_size)",
                    "eigenvectors": "(n, hidden_size, hidden_size)", "n_unstable": "(n,)", "is_slow": "(n,)"}
        shapes = {"q": (n,), "eigenvalues": (n, N), "eigenvectors": (n, N, N), "n_unstable": (n,), "is_slow": (n,)}
        for name, shown in expected.items():
            value = self._eigenvectors if name == "eigenvectors" else getattr(self, name)
            if value is None:  # eigenvectors still to compute
                continue
            shape = tuple(value.shape)
            bad = (len(shape) != 2 or shape[0] != n) if name == "inputs" else shape != shapes[name]
            if bad:
                raise ShapeError(f"The {name!r} parameter of FixedPoints must have shape {shown} with "
                                 f"n = {n}, hidden_size = {N}. Got {shape} instead.")

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"FixedPoints is immutable: cannot set {name!r}.")

    @property
    def eigenvectors(self) -> torch.Tensor:
        """The right eigenvectors (see the class); computed on first use after a search."""
        if self._eigenvectors is None:
            object.__setattr__(self, "_eigenvectors", self._vectors_of(self.states, self.eigenvalues))
            object.__setattr__(self, "_vectors_of", None)
        return self._eigenvectors

    # ------------------------------------------------------------------ sizes and subsets
    def __len__(self) -> int:
        return int(self.states.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.states.shape[1])

    @property
    def input_size(self) -> int:
        return int(self.inputs.shape[1])

    def __getitem__(self, index: int | slice | torch.Tensor) -> FixedPoints:
        """The subset selected by an index, a slice, a boolean mask or an index tensor."""
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        if self._eigenvectors is None:
            kw = {name: getattr(self, name)[index] for name in _ARRAYS if name != "eigenvectors"}
            return FixedPoints._deferred(**kw, vectors_of=self._vectors_of, time=self.time, dt=self.dt)
        kw = {name: getattr(self, name)[index] for name in _ARRAYS}
        return FixedPoints(**kw, time=self.time, dt=self.dt)

    def fixed(self) -> FixedPoints:
        """The true fixed points (``q`` at or below the search tolerance)."""
        return self[~self.is_slow]

    def slow(self) -> FixedPoints:
        """The slow points (local minima of ``q`` above the tolerance)."""
        return self[self.is_slow]

    def stable(self) -> FixedPoints:
        """Fixed points without unstable directions."""
        return self[~self.is_slow & (self.n_unstable == 0)]

    def saddles(self) -> FixedPoints:
        """Fixed points with some, but not all, directions unstable."""
        return self[~self.is_slow & (self.n_unstable > 0) & (self.n_unstable < self.hidden_size)]

    def unstable(self) -> FixedPoints:
        """Fixed points whose every direction is unstable (repellers)."""
        return self[~self.is_slow & (self.n_unstable == self.hidden_size)]

    def by_n_unstable(self) -> dict[int, int]:
        """Number of true fixed points with k unstable directions, ``{k: count}``, k ascending."""
        values, counts = torch.unique(self.n_unstable[~self.is_slow], return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts)}

    @property
    def stability(self) -> list[str]:
        """A label per point: ``"stable"``, ``"saddle-k"`` (k unstable directions), ``"unstable"``, or
        ``"slow"``."""
        out = []
        for slow, k in zip(self.is_slow.tolist(), self.n_unstable.tolist()):
            if slow:
                out.append("slow")
            elif k == 0:
                out.append("stable")
            elif k == self.hidden_size:
                out.append("unstable")
            else:
                out.append(f"saddle-{k}")
        return out

    def __repr__(self) -> str:
        return (f"FixedPoints(n={len(self)}, hidden_size={self.hidden_size}, time={self.time!r}, "
                f"fixed={int((~self.is_slow).sum())}, slow={int(self.is_slow.sum())}, "
                f"by_n_unstable={self.by_n_unstable()})")

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write a ``.npz`` file (numpy arrays named like the attributes, plus ``meta``, a JSON
        string with ``time`` and ``dt``). Returns the path written."""
        return save_result(path, "FixedPoints", {name: getattr(self, name) for name in _ARRAYS},
                           {"time": self.time, "dt": self.dt})

    @classmethod
    def load(cls, path: str | Path) -> FixedPoints:
        """Read a file written by :meth:`save`."""
        kw, meta = load_result(path, "FixedPoints", _ARRAYS)
        return cls(**kw, time=meta["time"], dt=float(meta["dt"]))
