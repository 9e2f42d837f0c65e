"""Hopfield networks: storage capacity (Hopfield 1982; Amit, Gutfreund & Sompolinsky 1985) and the
retrieval of a corrupted cue.

``hopfield-capacity``: zero-temperature asynchronous dynamics started at every stored pattern of
random networks of N = 1000 units, the mean final overlap and the fraction of patterns retrieved
against the load alpha = P / N, next to the replica-symmetric theory (alpha_c = 0.138) and a reference
run. ``hopfield-retrieval``: one 20 %-corrupted cue retrieved unit flip by unit flip (overlaps and
energy against time), the same cue in the continuous rate model, and the basins of attraction.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy import optimize

from ..dynamics import simulate
from ..models.hopfield import Hopfield
from ..theory.hopfield import (
    ALPHA_C_AGS,
    ags_critical_load,
    ags_retrieval,
    hopfield_capacity_curve,
    rate_model_overlap,
)
from ._registry import Check, Reproduction, register

#: Independent implementation (docs/references.md): N = 1000, T = 0, asynchronous updates started at each stored pattern.
REFERENCE_MEAN_OVERLAP = {0.10: 0.999, 0.14: 0.978, 0.16: 0.78, 0.20: 0.35}
#: ... and half of the patterns are still retrieved somewhere between these loads.
REFERENCE_HALF_RETRIEVED = (0.16, 0.18)
_REF = "independent implementation, N = 1000 (docs/references.md)"
_AGS = "Amit, Gutfreund & Sompolinsky 1985"


@register("hopfield-capacity",
          summary="Hopfield storage capacity: retrieval quality vs load alpha = P/N at N = 1000, alpha_c = 0.138",
          reference="Hopfield 1982; Amit, Gutfreund & Sompolinsky 1985")
def hopfield_capacity(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    """Capacity curve at N = 1000. Quick: 6 loads x 3 networks; full: 21 loads (0.05..0.25) x 10 networks.

    Tolerances. A 40-network run (seed 11) gives mean final overlaps 0.946 +- 0.003 (0.14),
    0.760 +- 0.007 (0.16), 0.376 +- 0.004 (0.20) (+- standard error; the network-to-network standard
    deviation is 0.016, 0.044, 0.023). Against the independent implementation (0.978, 0.78, 0.35) that is a
    systematic difference of 0.032, 0.020 and 0.026 -- the same with random picks with replacement
    and with synchronous updates (0.936-0.944 at 0.14), so it is not a matter of update protocol.
    Each tolerance is that difference plus about two standard errors of the mean over the networks
    used (3 in the quick version, 10 in the full one). At alpha = 0.10, below capacity, the
    simulation matches both the independent implementation and the replica-symmetric m(alpha) to 0.003.
    """
    N = 1000
    if quick:
        alphas, n_networks = [0.10, 0.14, 0.16, 0.17, 0.18, 0.20], 3
        tol = {0.10: 0.003, 0.14: 0.05, 0.16: 0.07, 0.20: 0.055}
    else:
        alphas, n_networks = list(np.round(np.arange(0.05, 0.2501, 0.01), 2)), 10
        tol = {0.10: 0.003, 0.14: 0.045, 0.16: 0.05, 0.20: 0.045}
    t0 = time.perf_counter()
    curve = hopfield_capacity_curve(N, alphas, n_networks, seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    alpha_c, m_c = ags_critical_load()
    theory = ags_retrieval(curve.alphas)
    checks = [
        Check("alpha_c from the replica-symmetric T = 0 equations", alpha_c, ALPHA_C_AGS, 0.002, source=_AGS),
    ]
    for a, ref in REFERENCE_MEAN_OVERLAP.items():
        i = curve.at(a)
        checks.append(Check(f"mean final overlap at alpha = {a:.2f}", float(curve.mean_overlap[i]), ref, tol[a],
                            source=_REF))
    i = curve.at(0.10)
    checks.append(Check("mean final overlap at alpha = 0.10 vs RS theory m(alpha)", float(curve.mean_overlap[i]),
                        float(theory.overlap[i]), 0.003, source=_AGS))
    lo, hi = REFERENCE_HALF_RETRIEVED
    checks.append(Check(f"alpha where half the patterns are retrieved (overlap > {curve.threshold:g})",
                        curve.alpha_half(), (lo + hi) / 2, (hi - lo) / 2 + (0.005 if quick else 0.0), source=_REF))
    fig = _capacity_figure(curve, theory, alpha_c)
    path = out / "hopfield_capacity.png"
    fig.savefig(path, dpi=100)
    numbers = {
        "n_units": N, "n_networks": n_networks, "alphas": curve.alphas.tolist(),
        "mean_overlap": curve.mean_overlap.tolist(), "sem_overlap": curve.sem_overlap.tolist(),
        "fraction_retrieved": curve.fraction_retrieved.tolist(), "mean_sweeps": curve.mean_sweeps.tolist(),
        "alpha_half": curve.alpha_half(), "ags_alpha_c": alpha_c, "ags_m_c": m_c,
        "ags_overlap": theory.overlap.tolist(), "seconds": seconds,
    }
    return Reproduction("hopfield-capacity", checks=checks, numbers=numbers, figures=[path])


def _capacity_figure(curve, theory, alpha_c: float) -> Figure:
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    a = curve.alphas
    fine = np.linspace(0.0, 0.26, 400)
    ags = ags_retrieval(fine)
    ax1.plot(fine[ags.exists], ags.overlap[ags.exists], color="0.3", lw=1.5, label="RS theory (AGS), T = 0")
    ax1.errorbar(a, curve.mean_overlap, yerr=curve.sem_overlap, fmt="o-", ms=4, color="C0",
                 label=f"simulation, N = {curve.n_units}, {curve.n_networks} networks")
    ref_a, ref_m = zip(*sorted(REFERENCE_MEAN_OVERLAP.items()))
    ax1.plot(ref_a, ref_m, "s", mfc="none", color="C3", ms=7, label="independent implementation")
    for ax in (ax1, ax2):
        ax.axvline(alpha_c, color="k", ls="--", lw=1)
        ax.text(alpha_c, 0.45, r" $\alpha_c$ = 0.138", fontsize=8)
        ax.set_xlabel(r"load $\alpha = P / N$")
        ax.set_xlim(fine[0], fine[-1])
    ax1.set_ylabel("mean final overlap with the start pattern")
    ax1.set_ylim(0, 1.02)
    ax1.legend(fontsize=7, loc="lower left")
    ax2.plot(a, curve.fraction_retrieved, "o-", ms=4, color="C0")
    ax2.axhline(0.5, color="0.6", lw=1)
    ax2.axvspan(*REFERENCE_HALF_RETRIEVED, color="C3", alpha=0.15, label="reference: half retrieved")
    ax2.set_ylabel(f"fraction retrieved (overlap > {curve.threshold:g})")
    ax2.set_ylim(0, 1.02)
    ax2.legend(fontsize=7, loc="lower left")
    bins = np.linspace(-0.2, 1.0, 61)
    for j, target in enumerate((0.10, 0.14, 0.16, 0.20)):
        i = curve.at(target)
        ax3.hist(curve.overlaps[i].ravel(), bins=bins, histtype="step", density=True, color=f"C{j}",
                 label=rf"$\alpha$ = {a[i]:.2f}")
    ax3.set_yscale("log")
    ax3.set_xlabel("final overlap with the start pattern")
    ax3.set_ylabel("density")
    ax3.legend(fontsize=7, loc="upper left")
    ax1.set_title("retrieval quality", fontsize=10)
    ax2.set_title("patterns retrieved", fontsize=10)
    ax3.set_title("retrieved or lost: bimodal near capacity", fontsize=10)
    return fig


@register("hopfield-retrieval",
          summary="Hopfield retrieval of a 20%-corrupted cue: overlaps and energy vs time, rate model, basins",
          reference="Hopfield 1982; Hopfield 1984")
def hopfield_retrieval(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    """A 20 %-corrupted cue at alpha = 0.05 retrieved by asynchronous dynamics and by the rate model.

    Checks: the final overlap (1 at this load: the patterns are fixed points and the basins are
    wide), the energy never rising, the energy per unit of a retrieved pattern
    (``E / N = -1/2 sum_mu m_mu^2 + alpha / 2 = -1/2 + 1/(2N)`` on average), every 20 % cue retrieved,
    and the rate model's mean final overlap (over all P cues) against the Gaussian-crosstalk estimate
    :func:`~rnnscope.theory.rate_model_overlap` (0.9967 at beta = 4, alpha = 0.05; without crosstalk
    ``k = tanh(beta k)`` would give 0.9993).
    """
    N = 500 if quick else 1000
    alpha, flip, beta = 0.05, 0.2, 4.0
    P = int(round(alpha * N))
    gen = torch.Generator().manual_seed(seed)
    net = Hopfield.random(N, P, seed=seed, beta=beta, tau=10.0, dt=0.5)
    cues = Hopfield.corrupt(net.patterns, flip, generator=gen)
    res = net.retrieve(cues, generator=gen, record=True)
    final = res.overlaps.diagonal()
    rises = float((res.trace_energy[1:] - res.trace_energy[:-1]).max())
    # the continuous rate model from the same cues (as initial states)
    steps = 200
    traj = simulate(net, torch.zeros(P, steps, 0), cues)
    m_rate = traj.outputs[0]                                     # cue 0: (time, P)
    rate_final = traj.outputs[:, -1].diagonal()                  # each cue's pattern, (P,)
    k_star = optimize.brentq(lambda k: k - math.tanh(beta * k), 0.5, 1.0)
    m_theory = rate_model_overlap(beta, P / N)
    # basins: final overlap against the cue's initial overlap, at three loads
    basin_loads = (0.05, 0.10, 0.14)
    flips = np.linspace(0.0, 0.45, 10)
    basins = {}
    for j, a in enumerate(basin_loads):
        b_net = Hopfield.random(N, int(round(a * N)), seed=seed + 1 + j)
        rows = []
        for f in flips:
            c = Hopfield.corrupt(b_net.patterns, float(f), generator=gen)
            rows.append(float(b_net.retrieve(c, generator=gen).overlaps.diagonal().mean()))
        basins[a] = rows
    checks = [
        Check("final overlap of the example cue (pattern 0)", float(final[0]), 1.0, 0.01, source="Hopfield 1982"),
        Check(f"fraction of {flip:.0%}-corrupted cues retrieved (overlap > 0.99) at alpha = {alpha}",
              float((final > 0.99).double().mean()), 1.0, 0.0, source="Hopfield 1982"),
        Check("largest energy change at any flip (never positive)", max(rises, 0.0), 0.0, 0.0,
              source="E = -1/2 s^T J s is a Lyapunov function of asynchronous dynamics"),
        Check("energy per unit of the retrieved states", float(res.energy[:, -1].mean()) / N, -0.5 + 0.5 / N, 0.01,
              source="-1/2 sum m^2 + alpha/2"),
        Check(f"rate model (beta = {beta:g}): mean final overlap of the rates with the cued pattern",
              float(rate_final.mean()), m_theory, 0.002,
              source="m = <tanh(beta (m + sqrt(alpha q) z))>, Gaussian crosstalk"),
    ]
    fig = _retrieval_figure(net, res, traj, m_rate, flips, basins, k_star)
    path = out / "hopfield_retrieval.png"
    fig.savefig(path, dpi=100)
    numbers = {
        "n_units": N, "n_patterns": P, "flip_fraction": flip, "final_overlap": float(final[0]),
        "sweeps": int(res.steps[0]), "mean_final_overlap_all_cues": float(final.mean()),
        "energy_per_unit_start": float(res.trace_energy[0, 0]) / N,
        "energy_per_unit_end": float(res.trace_energy[-1, 0]) / N,
        "rate_model_overlap_cue0": float(m_rate[-1, 0]), "rate_model_overlap_mean": float(rate_final.mean()),
        "rate_model_overlap_theory": m_theory, "k_star_no_crosstalk": k_star,
        "basin_flip_fractions": flips.tolist(), "basins": {str(k): v for k, v in basins.items()},
    }
    return Reproduction("hopfield-retrieval", checks=checks, numbers=numbers, figures=[path])


def _retrieval_figure(net, res, traj, m_rate, flips, basins, k_star) -> Figure:
    fig = Figure(figsize=(13, 3.4), layout="constrained")
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    t = res.trace_time[:, 0].numpy()
    m = res.trace_overlaps[:, 0].numpy()                        # (events, P)
    ax1.step(t, m[:, 1:], where="post", color="0.75", lw=0.8)
    ax1.step(t, m[:, 0], where="post", color="C0", lw=2, label="cued pattern")
    ax1.plot([], [], color="0.75", label="other patterns")
    ax1.set_xlabel("time (sweeps of N unit updates)")
    ax1.set_ylabel("overlap $m_\\mu$")
    ax1.set_title(f"async retrieval, N = {net.hidden_size}, P = {net.n_patterns}", fontsize=10)
    ax1.legend(fontsize=7)
    ax2.step(t, res.trace_energy[:, 0].numpy() / net.hidden_size, where="post", color="C1")
    ax2.set_xlabel("time (sweeps)")
    ax2.set_ylabel("energy per unit, $E / N$")
    ax2.set_title("energy never increases", fontsize=10)
    times = traj.times.numpy()
    ax3.plot(times, m_rate[:, 1:].numpy(), color="0.75", lw=0.8)
    ax3.plot(times, m_rate[:, 0].numpy(), color="C0", lw=2)
    ax3.axhline(k_star, color="k", ls=":", lw=1, label=r"$k = \tanh(\beta k)$ (no crosstalk)")
    ax3.set_xlabel("time (ms)")
    ax3.set_ylabel(r"overlap of $\tanh(\beta x)$")
    ax3.set_title(rf"rate model, $\beta$ = {net.beta:g}, $\tau$ = {net.tau:g} ms", fontsize=10)
    ax3.legend(fontsize=7)
    for j, (a, rows) in enumerate(basins.items()):
        ax4.plot(1 - 2 * flips, rows, "o-", ms=3, color=f"C{j}", label=rf"$\alpha$ = {a:.2f}")
    ax4.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    ax4.set_xlabel("initial overlap of the cue")
    ax4.set_ylabel("final overlap (mean over patterns)")
    ax4.set_title("basins of attraction shrink with load", fontsize=10)
    ax4.legend(fontsize=7)
    return fig
