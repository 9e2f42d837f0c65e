"""Doya (1993): rate networks trained by BPTT to reproduce dynamical systems, with the right attractors.

A continuous-time rate network is trained (one trainer, trials from a bank of precisely integrated
trajectories, the initial condition given as an input pulse) to follow

- the van der Pol oscillator (mu = 1): the autonomous network must oscillate with the limit cycle's
  period (6.6633 time units, integrated here);
- a bistable system ``x' = x - x^3, y' = -y``: the network must have two stable fixed points reading
  out near (+-1, 0) and a saddle near the origin;
- (full version) the Lorenz system, with a two-stage curriculum (:func:`fit_lorenz`): short-term
  prediction, and a positive largest Lyapunov exponent of the autonomous network.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..systems import Bistable, Lorenz, VanDerPol, fit_dynamical_system
from ._registry import Check, Reproduction, register
from ..analysis import largest_lyapunov_exponent

__all__ = ["run_fit_systems", "fit_lorenz"]


def _save(fig, path: Path, dpi: int = 100) -> Path:
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    with Image.open(buf) as img:
        img.convert("RGB").quantize(256).save(path, optimize=True)
    return path


def _figure_vdp(fit, reference_period: float, period: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true = fit.heldout.states[:6]
    pred = fit.predict(true[:, 0])
    T = int(round(8 * reference_period / fit.task.dt))
    long_net = fit.predict(np.array([[2.0, 0.0]]), T)[0]
    long_true = VanDerPol().trajectories([2.0, 0.0], T * fit.task.dt, fit.task.dt).states[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    ax = axes[0]
    for i in range(len(true)):
        ax.plot(true[i, :, 0], true[i, :, 1], color="0.6", lw=2.5, label="van der Pol" if i == 0 else None)
        ax.plot(pred[i, :, 0], pred[i, :, 1], color="C3", lw=1.2, label="fitted network" if i == 0 else None)
        ax.plot(*true[i, 0], "ko", ms=3)
    ax.set(xlabel="x", ylabel="y", title=f"held-out initial conditions (NMSE {fit.heldout_nmse:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[1]
    t = fit.task.dt * np.arange(T + 1)
    ax.plot(t, long_true[:, 0], color="0.6", lw=2.5, label=f"van der Pol, period {reference_period:.3f}")
    ax.plot(t, long_net[:, 0], color="C3", lw=1.2, label=f"network (autonomous), period {period:.3f}")
    ax.set(xlabel="time", ylabel="x", title="limit cycle from (2, 0)")
    ax.legend(loc="upper right", fontsize=8)
    path = _save(fig, out / "systems_van_der_pol.png")
    plt.close(fig)
    return path


def _figure_bistable(fit, fps, z, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true = fit.heldout.states[:16]
    pred = fit.predict(true[:, 0])
    fig, ax = plt.subplots(figsize=(5.4, 4.6), layout="constrained")
    for i in range(len(true)):
        ax.plot(true[i, :, 0], true[i, :, 1], color="0.6", lw=2.5, label="bistable system" if i == 0 else None)
        ax.plot(pred[i, :, 0], pred[i, :, 1], color="C0", lw=1.0, label="fitted network" if i == 0 else None)
    exact = Bistable().fixed_points()
    ax.plot(exact["stable"][:, 0], exact["stable"][:, 1], "o", mfc="none", mec="k", ms=14, label="true stable points")
    ax.plot(exact["saddle"][:, 0], exact["saddle"][:, 1], "s", mfc="none", mec="k", ms=14, label="true saddle")
    k = fps.n_unstable.numpy()
    ax.plot(z[k == 0, 0], z[k == 0, 1], "o", color="C2", ms=7, label="network: stable")
    ax.plot(z[k > 0, 0], z[k > 0, 1], "X", color="C3", ms=8, label="network: saddle")
    ax.set(xlabel="x", ylabel="y", title="x' = x - x^3, y' = -y: trajectories and fixed points (readout)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="lower right")
    path = _save(fig, out / "systems_bistable.png")
    plt.close(fig)
    return path


def fit_lorenz(seed: int = 0, progress: bool = False):
    """Fit a 128-unit network to the Lorenz system in two stages; returns both fits.

    Stage 1 (8000 steps, learning rate 3e-3) trains on trajectories of 0.6 time units: it predicts
    well, but run autonomously its attractor is unreliable (largest exponents 0.32-0.82 per time unit
    over seeds 0-2, and a periodic orbit in an earlier run). Stage 2 continues the same network on
    1.5 time units (3000 steps, 1e-3), long enough for the divergence of nearby trajectories to enter
    the loss: exponents 0.83-0.85 on seeds 0-2 (Lorenz 0.906; in the earlier run seed 2 stayed
    periodic). Check the exponent of every fit.
    """
    kw = dict(tau=0.1, dt=0.02, transient=5.0, pulse_steps=5, progress=progress)
    first = fit_dynamical_system(Lorenz(), hidden_size=128, steps=8000, duration=0.6, learning_rate=3e-3,
                                 seed=seed, **kw)
    second = fit_dynamical_system(Lorenz(), model=first.model, steps=3000, duration=1.5, learning_rate=1e-3,
                                  seed=seed + 1, **kw)
    return first, second


def _figure_lorenz(fit, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ic = fit.heldout.initial_conditions[:1]
    T = int(round(30.0 / fit.task.dt))
    net = fit.predict(ic, T)[0]
    true = Lorenz().trajectories(ic, T * fit.task.dt, fit.task.dt).states[0]
    t = fit.task.dt * np.arange(T + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    axes[0].plot(t, true[:, 0], color="0.6", lw=2.5, label="Lorenz")
    axes[0].plot(t, net[:, 0], color="C3", lw=1, label="network")
    axes[0].set(xlabel="time", ylabel="x", xlim=(0, 8), title="from a held-out initial condition")
    axes[0].legend(fontsize=8)
    axes[1].plot(true[:, 0], true[:, 2], color="0.6", lw=0.5, label="Lorenz")
    axes[1].plot(net[:, 0], net[:, 2], color="C3", lw=0.5, label="network (autonomous)")
    axes[1].set(xlabel="x", ylabel="z", title="30 time units")
    axes[1].legend(fontsize=8)
    path = _save(fig, out / "systems_lorenz.png")
    plt.close(fig)
    return path


@register("fit-dynamical-systems", summary="rate networks fitted to van der Pol, a bistable system and "
          "Lorenz keep their limit cycle, fixed points and chaos", reference="Doya 1993")
def run_fit_systems(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    result = Reproduction("fit-dynamical-systems")
    start = time.perf_counter()
    vdp = VanDerPol()
    ref_period = vdp.reference_period(cycles=5)
    result.checks.append(Check("van der Pol (mu = 1) period, integrated", ref_period, 6.6632868593, 1e-5,
                               source="known value 6.66328686"))
    # van der Pol: 64 units
    fit = fit_dynamical_system(vdp, hidden_size=64, steps=600 if quick else 1500, seed=seed, progress=progress)
    period, spread, cycles = fit.period()
    result.checks.append(Check("van der Pol: held-out NMSE", fit.heldout_nmse, 0.0, 0.1 if quick else 0.03,
                               source="perfect fit"))
    result.checks.append(Check("van der Pol: period of the network's limit cycle", period, ref_period,
                               0.05 if quick else 0.02, relative=True, source="integrated reference"))
    result.numbers.update({"vdp_nmse": fit.heldout_nmse, "vdp_period_network": period, "vdp_period_true": ref_period,
                           "vdp_period_spread": spread, "vdp_cycles": cycles, "vdp_train_s": fit.wall_time})
    result.figures.append(_figure_vdp(fit, ref_period, period, out))
    # bistable: 32 units
    bi = fit_dynamical_system(Bistable(), hidden_size=32, steps=500 if quick else 1500, duration=5.0,
                              learning_rate=5e-3, seed=seed, progress=progress)
    fps, z = bi.fixed_points(n_trials=64, n_candidates=256)
    k = fps.n_unstable.numpy()
    stable, saddles = z[k == 0], z[k == 1]
    result.checks.append(Check("bistable: stable fixed points of the network", float(len(stable)), 2.0, 0.0))
    result.checks.append(Check("bistable: saddles (1 unstable direction)", float(len(saddles)), 1.0, 0.0))
    tol_s = 0.15 if quick else 0.1
    xs = np.sort(stable[:, 0]) if len(stable) == 2 else np.array([np.nan, np.nan])
    result.checks.append(Check("bistable: readout x of the lower stable point", float(xs[0]), -1.0, tol_s))
    result.checks.append(Check("bistable: readout x of the upper stable point", float(xs[1]), 1.0, tol_s))
    sx = float(saddles[0, 0]) if len(saddles) == 1 else float("nan")
    result.checks.append(Check("bistable: readout x of the saddle", sx, 0.0, 0.15 if quick else 0.1))
    result.numbers.update({"bistable_nmse": bi.heldout_nmse, "bistable_fixed_points": z.tolist(),
                           "bistable_n_unstable": k.tolist(), "bistable_train_s": bi.wall_time})
    result.figures.append(_figure_bistable(bi, fps, z, out))
    if not quick:
        first, lz = fit_lorenz(seed, progress)
        x = lz.state_after(lz.heldout.initial_conditions[0], 500)
        lle = largest_lyapunov_exponent(lz.model, n_steps=20_000, transient_steps=2_000, initial_state=x,
                                        progress=False).largest
        result.checks.append(Check("Lorenz: held-out NMSE over 0.6 time units (stage 1)", first.heldout_nmse, 0.0,
                                   0.02, source="perfect prediction"))
        result.checks.append(Check("Lorenz: largest Lyapunov exponent of the network, per time unit", lle,
                                   Lorenz.LARGEST_LYAPUNOV, 0.5, relative=True, source="0.906 (Sprott 2003)"))
        result.numbers.update({"lorenz_nmse_0.6": first.heldout_nmse, "lorenz_nmse_1.5": lz.heldout_nmse,
                               "lorenz_lle": lle, "lorenz_train_s": first.wall_time + lz.wall_time})
        result.figures.append(_figure_lorenz(lz, out))
    result.numbers["wall_time_s"] = time.perf_counter() - start
    return result
