"""The three kinds of long-term behaviour: a fixed point, a limit cycle, chaos; and a Hopf bifurcation.

``attractors``: the 2-unit network ``tau x' = -x + s R(theta) tanh(x)`` below its Hopf point
(``s cos(theta) = 0.8``: a stable focus) and above it (``1.1``: a limit cycle), and a random network
at g = 2 (chaos); then the bifurcation diagram of the 2-unit network against ``s cos(theta)``, whose
Hopf point is at 1, with the averaged normal form ``r*^2 = 4 eps / (1 + eps)`` and the period
``2 pi tau / tan(theta)`` near onset (docs/attractors.md derives both).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ..analysis.attractors import classify_attractor, scan_attractors
from ..models import RateRNN
from ..models.random_network import random_network
from ..plotting.attractors import plot_attractor, plot_attractor_scan
from ._registry import Check, Reproduction, register

THETA, TAU = 1.0, 10.0


def rotation_network(s_cos: float, dt: float = 0.5) -> RateRNN:
    """``tau x' = -x + s R(theta) tanh(x)`` with ``s cos(theta) = s_cos``, theta = 1, tau = 10 ms."""
    s = s_cos / math.cos(THETA)
    R = s * torch.tensor([[math.cos(THETA), -math.sin(THETA)], [math.sin(THETA), math.cos(THETA)]],
                         dtype=torch.float64)
    return RateRNN.from_weights(R, tau=TAU, dt=dt, nonlinearity="tanh")


@register("attractors", summary="Fixed point, limit cycle and chaos; the Hopf bifurcation of a 2-unit network",
          reference="Strogatz 2015 (Hopf normal form); Sompolinsky, Crisanti & Sommers 1988")
def attractors(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    t0 = time.perf_counter()
    checks: list[Check] = []
    panels = {"fixed point": classify_attractor(rotation_network(0.8), seed=seed, progress=progress),
              "limit cycle": classify_attractor(rotation_network(1.1), seed=seed, progress=progress),
              "chaos": classify_attractor(random_network(400, 2.0, seed=seed), seed=seed, progress=progress)}
    for name, kind in (("fixed point", "fixed point"), ("limit cycle", "limit cycle"), ("chaos", "chaotic")):
        checks.append(Check(f"panel '{name}' is classified {kind!r}", float(panels[name].kind == kind), 1.0, 0.0,
                            source="Lyapunov exponents, fixed point, orbit"))
    cycle = panels["limit cycle"]
    T_theory = 2 * math.pi * TAU / math.tan(THETA)
    checks.append(Check("period at s cos(theta) = 1.1 (ms) vs 2 pi tau / tan(theta)", cycle.period, T_theory, 0.01,
                        relative=True, source="averaged Hopf normal form"))
    checks.append(Check("trivial Floquet multiplier", abs(cycle.orbit.trivial_multiplier), 1.0, 1e-6,
                        source="autonomous ODE"))
    checks.append(Check("largest exponent at g = 2, N = 400 (1/tau)", panels["chaos"].largest_exponent * 1.0, 0.10,
                        0.06, source="independent implementation, N = 1000 (docs/references.md)"))
    values = [0.9, 1.04, 1.08, 1.16] if quick else [0.8, 0.9, 0.96, 1.02, 1.04, 1.06, 1.08, 1.12, 1.16, 1.2, 1.3]
    scan = scan_attractors(rotation_network, values, parameter="s cos(theta)", seed=seed, progress=progress)
    lc = [i for i, k in enumerate(scan.kinds) if k == "limit cycle"]
    a2 = scan.amplitude[lc[:2]] ** 2
    x = scan.values[lc[:2]]
    hopf = float(x[0] - a2[0] * (x[1] - x[0]) / (a2[1] - a2[0]))
    checks.append(Check("Hopf point from the amplitudes (a^2 -> 0)", hopf, 1.0, 0.02, source="s cos(theta) = 1"))
    checks.append(Check("last fixed point below / first cycle above 1",
                        float(max(v for v, k in zip(values, scan.kinds) if k == "fixed point") < 1.0
                              < scan.first("limit cycle")), 1.0, 0.0, source="linear stability of x = 0"))
    figures = [_panels(out / "attractors_panels.png", panels), _scan(out / "attractors_hopf.png", scan)]
    numbers = {"period_ms": cycle.period, "period_theory_ms": T_theory, "amplitude_1.1": cycle.amplitude,
               "largest_exponent_chaos": panels["chaos"].largest_exponent, "hopf_point": hopf,
               "scan": scan.to_dict(), "evidence": {k: a.evidence for k, a in panels.items()},
               "seconds": time.perf_counter() - t0}
    return Reproduction("attractors", checks=checks, numbers=numbers, figures=figures)


def _panels(path: Path, panels) -> Path:
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    for ax, (name, a) in zip(fig.subplots(1, 3), panels.items()):
        plot_attractor(a, ax)
    fig.savefig(path, dpi=100)
    return path


def _scan(path: Path, scan) -> Path:
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_attractor_scan(scan, ax1, quantity="amplitude")
    s = np.linspace(1.0, float(scan.values.max()), 100)
    ax1.plot(s, 2 * np.sqrt((s - 1) / s), color="k", lw=1, ls="--", label=r"$2\sqrt{\epsilon/(1+\epsilon)}$")
    ax1.legend(fontsize=7)
    plot_attractor_scan(scan, ax2, quantity="period")
    ax2.axhline(2 * math.pi * TAU / math.tan(THETA), color="k", lw=1, ls="--")
    fig.savefig(path, dpi=100)
    return path
