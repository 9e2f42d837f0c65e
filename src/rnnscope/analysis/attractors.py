"""Which kind of attractor does a network settle on? Fixed point, limit cycle, torus, chaos.

:func:`classify_attractor` runs the network from a state past a transient and weighs three kinds
of evidence, each computed by the library's own analyses:

1. **divergence**: the state leaves every bound during the transient (``"diverging"``);
2. **a stable fixed point** at the end of the transient: the speed ``|f(x)|`` is tiny and the
   trust-region Newton search (:func:`~rnnscope.analysis.find_fixed_points`) started there lands on
   a point nearby with no unstable direction (``"fixed point"``);
3. **the largest Lyapunov exponents** (:func:`~rnnscope.analysis.lyapunov_spectrum`, of the map the
   network is simulated with) and **a periodic orbit** (:func:`~rnnscope.analysis.find_periodic_orbit`,
   shooting on the ODE) started there: a positive largest exponent (above ``zero_tol`` and three
   standard errors) is ``"chaotic"``; a stable orbit through the state is a ``"limit cycle"``; two
   exponents at zero without a closed orbit is a torus, ``"quasi-periodic"``.

A zero exponent belongs to every bounded trajectory of an autonomous flow that is not a fixed point
(the direction along the flow); a limit cycle has one, a torus two. The thresholds are explicit
(``zero_tol``, per time scale of the model) and returned with the result, so every label can be
checked against its evidence. Continuous time: the transient is integrated accurately
(:func:`rnnscope.numerics.integrate`); discrete time: the map is iterated.

:func:`scan_attractors` repeats the classification along a parameter (continuing from the previous
attractor), for bifurcation diagrams: the Hopf point of a 2-unit network, the transition to chaos of
a random network.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._threads import few_threads
from .._validation import check_bool, check_float, check_int
from ..errors import ConfigError, RnnscopeError
from ..models import AbstractRNN
from ..numerics import integrate
from ._checks import check_state
from ._results_io import load_result, save_result
from .fixed_points import find_fixed_points
from .lyapunov import lyapunov_spectrum
from .periodic_orbits import (
    PeriodicOrbit,
    _check_input,
    _check_model,
    _Field,
    find_periodic_orbit,
    iterate_map,
    time_scale,
)

__all__ = ["KINDS", "Attractor", "classify_attractor", "AttractorScan", "scan_attractors"]

#: The kinds :func:`classify_attractor` tells apart.
KINDS = ("fixed point", "limit cycle", "quasi-periodic", "chaotic", "diverging")

_OWNER = "classify_attractor"


# ---------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class Attractor:
    """The kind of attractor a network settles on, with the evidence.

    Attributes:
        kind: one of :data:`KINDS`.
        state: the state at the end of the transient (on the attractor, or the last finite state).
        trajectory: states sampled on the attractor at the end of the transient.
        exponents: the largest Lyapunov exponents (per ms in continuous time, per step in discrete
            time); empty for a diverging network.
        exponent_errors: their standard errors.
        zero_tol: an exponent within ``zero_tol`` of 0 counts as zero (same units).
        point: the stable fixed point (kind ``"fixed point"``), else None.
        point_eigenvalues: the eigenvalues of the Jacobian there, else None.
        orbit: the periodic orbit through the state, when one was found (stable or not), else None.
        evidence: one sentence that says why this kind was chosen.
        time: ``"continuous"`` or ``"discrete"``; dt: the model's step in ms.

    Shape:
        - state: (hidden_size,); trajectory: (n, hidden_size); exponents, exponent_errors: (k,)
        - point: (hidden_size,); point_eigenvalues: (hidden_size,)
    """

    kind: str
    state: torch.Tensor
    trajectory: torch.Tensor
    exponents: torch.Tensor
    exponent_errors: torch.Tensor
    zero_tol: float
    point: torch.Tensor | None
    point_eigenvalues: torch.Tensor | None
    orbit: PeriodicOrbit | None
    evidence: str
    time: str
    dt: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"The 'kind' parameter of Attractor must be one of {', '.join(map(repr, KINDS))}. "
                              f"Got {self.kind!r} instead.")

    @property
    def largest_exponent(self) -> float:
        return float(self.exponents[0]) if self.exponents.numel() else math.nan

    @property
    def amplitude(self) -> float:
        """The largest distance from the mean state: of the orbit's states for a limit cycle whose orbit
        was found, else of the sampled states (0 at a fixed point)."""
        if self.kind == "fixed point":
            return 0.0
        if self.kind == "limit cycle" and self.orbit is not None:
            return self.orbit.amplitude
        t = self.trajectory
        return float((t - t.mean(0)).norm(dim=-1).max()) if t.shape[0] else math.nan

    @property
    def period(self) -> float:
        """The period of the limit cycle in ms (NaN for other kinds)."""
        return self.orbit.period if self.kind == "limit cycle" and self.orbit is not None else math.nan

    def __repr__(self) -> str:
        return f"Attractor({self.kind!r}: {self.evidence})"

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file (the orbit's arrays under ``orbit_``); :meth:`load` reads it."""
        arrays = {"state": self.state, "trajectory": self.trajectory, "exponents": self.exponents,
                  "exponent_errors": self.exponent_errors}
        meta = {"kind": self.kind, "zero_tol": self.zero_tol, "evidence": self.evidence, "time": self.time,
                "dt": self.dt, "point": self.point is not None, "orbit": None}
        if self.point is not None:
            arrays.update(point=self.point, point_eigenvalues=self.point_eigenvalues)
        if self.orbit is not None:
            o = self.orbit
            arrays.update(orbit_states=o.states, orbit_times=o.times, orbit_floquet_multipliers=o.floquet_multipliers,
                          orbit_inputs=o.inputs)
            meta["orbit"] = {"period": o.period, "residual": o.residual, "time": o.time, "dt": o.dt,
                             "eigenvalue_tol": o.eigenvalue_tol}
        return save_result(path, "Attractor", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> Attractor:
        """Read a file written by :meth:`save`."""
        names = ("state", "trajectory", "exponents", "exponent_errors")
        arrays, meta = load_result(path, "Attractor", names)
        extra = {}
        if meta["point"]:
            extra, _ = load_result(path, "Attractor", ("point", "point_eigenvalues"))
        orbit = None
        if meta["orbit"] is not None:
            o, _ = load_result(path, "Attractor", ("orbit_states", "orbit_times", "orbit_floquet_multipliers",
                                                   "orbit_inputs"))
            orbit = PeriodicOrbit(states=o["orbit_states"], times=o["orbit_times"],
                                  floquet_multipliers=o["orbit_floquet_multipliers"], inputs=o["orbit_inputs"],
                                  **meta["orbit"])
        return cls(kind=meta["kind"], **arrays, zero_tol=float(meta["zero_tol"]), point=extra.get("point"),
                   point_eigenvalues=extra.get("point_eigenvalues"), orbit=orbit, evidence=meta["evidence"],
                   time=meta["time"], dt=float(meta["dt"]))


# ---------------------------------------------------------------------------------------------- transient
def _transient(model: AbstractRNN, u: torch.Tensor, x0: torch.Tensor, duration: float, n_samples: int,
               bound: float) -> tuple[torch.Tensor, bool]:
    """States sampled over the last part of the transient, and whether the state left ``bound``.

    Continuous: integrated accurately (rtol 1e-8), samples over the last fifth; discrete: iterated,
    the last ``n_samples`` states."""
    if model.time == "discrete":
        steps = max(1, int(round(duration / model.dt)))
        x = x0
        out = []
        chunk = 256
        done = 0
        while done < steps:
            path = iterate_map(model, u, x, min(chunk, steps - done))
            done += path.shape[0]
            bad = ~torch.isfinite(path).all(-1) | (path.norm(dim=-1) > bound)
            if bool(bad.any()):
                good = path[: int(torch.nonzero(bad)[0])]
                return (good[-n_samples:] if good.shape[0] else x[None]), True
            out.append(path)
            x = path[-1]
        path = torch.cat(out)
        return path[-n_samples:], False
    field = _Field(model, u)

    def escape(_t: float, y: np.ndarray) -> float:
        return float(np.linalg.norm(y) - bound)

    escape.terminal = True  # type: ignore[attr-defined]
    t_eval = np.linspace(0.8 * duration, duration, n_samples)
    try:
        sol = integrate(field.rhs(), x0.numpy(), duration, t_eval=t_eval, rtol=1e-8, atol=1e-10, events=[escape])
    except RnnscopeError:
        return x0[None], True
    if sol.t_events and len(sol.t_events[0]) > 0:
        return x0[None], True
    y = torch.from_numpy(sol.y)
    return y, not bool(torch.isfinite(y).all())


def _stable_point(model: AbstractRNN, u: torch.Tensor, x: torch.Tensor):
    """The fixed point the Newton search finds from ``x`` if it is stable and near ``x``, else None."""
    try:
        fps = find_fixed_points(model, u, x[None], outlier_scale=None, seed_midpoints=False, progress=False).fixed()
    except RnnscopeError:
        return None
    if len(fps) == 0:
        return None
    i = int((fps.states - x).norm(dim=-1).argmin())
    near = float((fps.states[i] - x).norm()) <= 1e-3 * (1.0 + float(x.norm()))
    return fps[i] if near and int(fps.n_unstable[i]) == 0 else None


def _fmt(values: torch.Tensor) -> str:
    return "[" + ", ".join(f"{float(v):.3g}" for v in values) + "]"


# ---------------------------------------------------------------------------------------------- classify
def classify_attractor(
    model: AbstractRNN,
    *,
    inputs: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    transient: float | None = None,
    n_exponents: int | None = None,
    lyapunov_steps: int | None = None,
    zero_tol: float | None = None,
    n_samples: int = 400,
    max_rounds: int = 4,
    seed: int = 0,
    progress: bool | None = None,
) -> Attractor:
    """The kind of attractor the network reaches from ``initial_state``, with the evidence.

    See the module docstring for the decision.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN`.
        inputs: the constant input, (input_size,); None for zero input.
        initial_state: where to start, (hidden_size,); None for the model's initial state plus a
            standard normal perturbation drawn from ``seed``.
        transient: how long to run before looking, in ms; None: 100 time scales
            (:func:`~rnnscope.analysis.time_scale`: tau, or ten steps); discrete time: 1000 steps.
        n_exponents: how many of the largest Lyapunov exponents; None: min(hidden_size, 3).
        lyapunov_steps: measured steps of the Lyapunov spectrum; None: enough for 200 time scales
            (at least 2000).
        zero_tol: exponents within this of 0 count as zero; None: 0.01 per time scale (per ms in
            continuous time), 0.01 per step in discrete time.
        n_samples: states kept on the attractor (:attr:`Attractor.trajectory`).
        max_rounds: a positive exponent measured next to an unstable fixed point means the state is
            still escaping from it, and one zero exponent without a closed orbit that it is still
            converging onto a cycle (both slow near a bifurcation); the transient is then repeated,
            at most this many times in all.
        seed: seeds the initial perturbation and the Lyapunov basis.
        progress: progress bars; None: when stderr is a terminal.

    Returns:
        An :class:`Attractor`.

    Shape:
        - inputs: (input_size,); initial_state: (hidden_size,)
    """
    m64 = _check_model(_OWNER, model)
    u = _check_input(_OWNER, m64, inputs)
    seed = check_int(_OWNER, "seed", seed, low=0)
    n_samples = check_int(_OWNER, "n_samples", n_samples, low=2)
    max_rounds = check_int(_OWNER, "max_rounds", max_rounds, low=1)
    N = m64.hidden_size
    scale = time_scale(m64)
    discrete = m64.time == "discrete"
    if initial_state is None:
        gen = torch.Generator().manual_seed(seed)
        x0 = m64.initial_state(1)[0].cpu() + torch.randn(N, generator=gen, dtype=torch.float64)
    else:
        x0 = check_state(_OWNER, m64, initial_state)
    if transient is None:
        transient = 1000 * m64.dt if discrete else 100.0 * scale
    transient = check_float(_OWNER, "transient", transient, low=0, low_inclusive=False)
    k = min(N, 3) if n_exponents is None else check_int(_OWNER, "n_exponents", n_exponents, low=1, high=N)
    if lyapunov_steps is None:
        lyapunov_steps = max(2000, int(math.ceil(200 * scale / m64.dt)))
    lyapunov_steps = check_int(_OWNER, "lyapunov_steps", lyapunov_steps, low=10)
    if zero_tol is None:
        zero_tol = 0.01 if discrete else 0.01 / scale
    zero_tol = check_float(_OWNER, "zero_tol", zero_tol, low=0, low_inclusive=False)
    if progress is not None:
        check_bool(_OWNER, "progress", progress)
    show = sys.stderr.isatty() if progress is None else progress
    unit = "per step" if discrete else "per ms"

    bound = 1e6 * (1.0 + float(x0.norm()))
    for round_ in range(1, max_rounds + 1):
        with torch.no_grad(), few_threads(N * N):
            samples, diverged = _transient(m64, u, x0, transient, n_samples, bound)
        x = x0 = samples[-1]
        if diverged:
            return _result("diverging", f"the state left |x| <= {bound:.3g} within {transient:g} ms", samples,
                           zero_tol, m64)
        residual = m64.at_input(u).residual(x[None])[0]
        if float(residual.norm()) * (1.0 if discrete else scale) <= 1e-3 * (1.0 + float(x.norm())):
            point = _stable_point(m64, u, x)
            if point is not None:
                lam = point.eigenvalues[0]
                lead = float(lam.abs().max() if discrete else lam.real.max())
                what = "largest |eigenvalue|" if discrete else "largest real part of the eigenvalues"
                return _result("fixed point", f"the trajectory settles on a stable fixed point ({what} {lead:.3g})",
                               samples, zero_tol, m64, point=point)
        spec = lyapunov_spectrum(m64, u[None] if m64.input_size else None, n_exponents=k, n_steps=lyapunov_steps,
                                 transient_steps=0, initial_state=x, seed=seed, progress=show)
        ex, err = spec.exponents, spec.convergence
        lam1 = float(ex[0])
        last = round_ == max_rounds
        said = f"largest Lyapunov exponents {_fmt(ex)} {unit} (+- {_fmt(err)}; zero within {zero_tol:.3g})"

        def result(kind: str, evidence: str, **kw) -> Attractor:
            return _result(kind, evidence, samples, zero_tol, m64, exponents=ex, errors=err, **kw)

        if lam1 > zero_tol and lam1 > 3 * float(err[0]):
            if _near_fixed_point(m64, u, x) and not last:
                continue  # still escaping from an unstable fixed point (slowly, near a bifurcation): run on
            return result("chaotic", f"{said}: the largest is positive")
        orbit = None
        try:
            orbit = find_periodic_orbit(m64, x, inputs=u, transient=0.0, max_iterations=8)
        except RnnscopeError:
            orbit = None
        if orbit is not None and float((orbit.states - x).norm(dim=-1).min()) > 1e-2 * (1.0 + orbit.amplitude):
            orbit = None  # an orbit elsewhere
        if orbit is not None and orbit.is_stable:
            others = orbit._nontrivial().abs()
            top = float(others.max()) if others.numel() else 0.0
            return result("limit cycle", f"{said}; a stable periodic orbit of period {orbit.period:.6g} ms through "
                          f"the state (largest non-trivial |Floquet multiplier| {top:.3g})", orbit=orbit)
        if k >= 2 and float(ex[1]) > -zero_tol and lam1 > -zero_tol:
            return result("quasi-periodic", f"{said}: two exponents at zero and no stable closed orbit (a torus)",
                          orbit=orbit)
        if lam1 < -zero_tol:
            return result("fixed point", f"{said}: every exponent is negative (a slow approach to a fixed point)",
                          point=_stable_point(m64, u, x))
        if last:
            return result("limit cycle", f"{said}: one exponent at zero, the others negative, but the orbit search "
                          "did not close the orbit", orbit=orbit)
        # one exponent at zero, the others negative, no closed orbit yet: still converging onto a cycle
    raise AssertionError("unreachable")  # pragma: no cover


def _result(kind: str, evidence: str, samples: torch.Tensor, zero_tol: float, model: AbstractRNN, *,
            exponents: torch.Tensor | None = None, errors: torch.Tensor | None = None, point=None,
            orbit: PeriodicOrbit | None = None) -> Attractor:
    empty = torch.zeros(0, dtype=torch.float64)
    return Attractor(kind=kind, state=samples[-1], trajectory=samples,
                     exponents=empty if exponents is None else exponents,
                     exponent_errors=empty if errors is None else errors, zero_tol=zero_tol,
                     point=None if point is None else point.states[0],
                     point_eigenvalues=None if point is None else point.eigenvalues[0], orbit=orbit,
                     evidence=evidence, time=model.time, dt=float(model.dt))


def _near_fixed_point(model: AbstractRNN, u: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether the Newton search from ``x`` lands on a fixed point within 5% of the state's scale."""
    try:
        fps = find_fixed_points(model, u, x[None], outlier_scale=None, seed_midpoints=False, progress=False).fixed()
    except RnnscopeError:
        return False
    return len(fps) > 0 and float((fps.states - x).norm(dim=-1).min()) <= 0.05 * (1.0 + float(x.norm()))


# ---------------------------------------------------------------------------------------------- scan
@dataclass(frozen=True, eq=False)
class AttractorScan:
    """The attractor at each value of a parameter (a bifurcation diagram).

    Attributes:
        parameter: the parameter's name.
        values: its values.
        kinds: the kind of attractor at each value.
        largest_exponent: the largest Lyapunov exponent (NaN where not computed: a stable fixed
            point found directly, or divergence), per ms or per step.
        period: the period of the limit cycle in ms (NaN for other kinds).
        amplitude: :attr:`Attractor.amplitude` (0 at a fixed point).
        states: the state on the attractor at each value.
        time: ``"continuous"`` or ``"discrete"``.

    Shape:
        - values, largest_exponent, period, amplitude: (P,); states: (P, hidden_size)
    """

    parameter: str
    values: torch.Tensor
    kinds: tuple[str, ...]
    largest_exponent: torch.Tensor
    period: torch.Tensor
    amplitude: torch.Tensor
    states: torch.Tensor
    time: str = "continuous"

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def first(self, kind: str) -> float:
        """The first value where the attractor is of ``kind`` (NaN if none)."""
        for v, k in zip(self.values.tolist(), self.kinds):
            if k == kind:
                return float(v)
        return math.nan

    def save(self, path: str | Path) -> Path:
        arrays = {"values": self.values, "largest_exponent": self.largest_exponent, "period": self.period,
                  "amplitude": self.amplitude, "states": self.states}
        return save_result(path, "AttractorScan", arrays, {"parameter": self.parameter, "kinds": list(self.kinds),
                                                           "time": self.time})

    @classmethod
    def load(cls, path: str | Path) -> AttractorScan:
        arrays, meta = load_result(path, "AttractorScan", ("values", "largest_exponent", "period", "amplitude",
                                                           "states"))
        return cls(parameter=meta["parameter"], kinds=tuple(meta["kinds"]), time=meta["time"], **arrays)

    def to_dict(self) -> dict:
        """Plain JSON-able rows, one per value (NaN as None)."""
        def num(v: float):
            return None if not math.isfinite(v) else v
        return {"parameter": self.parameter, "rows": [
            {"value": float(v), "kind": k, "largest_exponent": num(float(le)), "period": num(float(p)),
             "amplitude": num(float(a))}
            for v, k, le, p, a in zip(self.values, self.kinds, self.largest_exponent, self.period, self.amplitude)]}

    def __repr__(self) -> str:
        return f"AttractorScan({self.parameter}: {json.dumps(dict(zip(map(float, self.values), self.kinds)))})"


def scan_attractors(
    build: Callable[[float], AbstractRNN],
    values: Sequence[float] | torch.Tensor,
    *,
    parameter: str = "parameter",
    initial_state: torch.Tensor | None = None,
    continuation: bool = True,
    progress: bool | None = None,
    **classify: object,
) -> AttractorScan:
    """:func:`classify_attractor` of ``build(v)`` for each value ``v``: a bifurcation diagram.

    Args:
        build: makes the model at one parameter value.
        values: the parameter values, in the order they are visited.
        parameter: the parameter's name (for the result and plots).
        initial_state: where the first value starts; None: as :func:`classify_attractor`.
        continuation: start each value from the attractor of the previous one (natural continuation:
            follows one branch through a bifurcation); a diverged state is never carried over.
        progress: a progress bar over the values; None: when stderr is a terminal.
        **classify: passed to :func:`classify_attractor` (``inputs``, ``transient``, ``zero_tol``, ...).
    """
    own = "scan_attractors"
    if not callable(build):
        raise ConfigError(f"The 'build' parameter of {own} must be a function value -> model. Got {build!r} instead.")
    vals = torch.as_tensor(values, dtype=torch.float64).flatten()
    if vals.numel() == 0:
        raise ConfigError(f"The 'values' parameter of {own} must hold at least one value. Got none.")
    check_bool(own, "continuation", continuation)
    if progress is not None:
        check_bool(own, "progress", progress)
    show = sys.stderr.isatty() if progress is None else progress
    classify.setdefault("progress", False)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=vals.numel(), desc=own, leave=False, file=sys.stderr)
    rows = []
    start = initial_state
    try:
        for v in vals.tolist():
            model = build(v)
            if not isinstance(model, AbstractRNN):
                raise ConfigError(f"The 'build' parameter of {own} must return an AbstractRNN. Got "
                                  f"{type(model).__name__} for {parameter} = {v:g}.")
            a = classify_attractor(model, initial_state=start, **classify)
            rows.append(a)
            if continuation and a.kind != "diverging":
                start = a.state
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{parameter}={v:.3g}: {a.kind}")
    finally:
        if bar is not None:
            bar.close()
    f64 = torch.float64
    return AttractorScan(
        parameter=parameter, values=vals, kinds=tuple(a.kind for a in rows),
        largest_exponent=torch.tensor([a.largest_exponent for a in rows], dtype=f64),
        period=torch.tensor([a.period for a in rows], dtype=f64),
        amplitude=torch.tensor([a.amplitude for a in rows], dtype=f64),
        states=torch.stack([a.state for a in rows]), time=rows[0].time)

