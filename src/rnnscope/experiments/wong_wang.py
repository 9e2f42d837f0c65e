"""Wong & Wang (2006): the reduced two-variable decision circuit.

Phase planes (nullclines, flow and fixed points) without stimulus and at two coherences, how the
fixed points move with coherence, psychometric and chronometric curves from noisy trials against
an independent implementation, and the recovery of circuit parameters from simulated behaviour.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from ..analysis import find_fixed_points, fit_wong_wang, flow_field, nullclines, psychometric
from ..dynamics import simulate
from ..models import WongWang
from ._registry import Check, Reproduction, register
from ..plotting import plot_flow_field

__all__ = ["run_wong_wang", "REFERENCE_COHERENCES", "REFERENCE_P_CHOICE1", "REFERENCE_MEAN_RT"]

#: Independent implementation (2000 trials per coherence, threshold 15 Hz; docs/references.md).
REFERENCE_COHERENCES = (0.0, 3.2, 6.4, 12.8, 25.6, 51.2)
REFERENCE_P_CHOICE1 = (0.53, 0.71, 0.86, 0.97, 1.0, 1.0)
REFERENCE_MEAN_RT = (0.69, 0.68, 0.65, 0.58, 0.45, 0.31)  # s
_REF_TRIALS = 2000
_SOURCE = "independent implementation, 2000 trials (docs/references.md)"
_REFERENCE_LABEL = "independent implementation"
_MU0 = 20.0


def _inputs(coherence: float | None) -> torch.Tensor | None:
    if coherence is None:
        return None
    return torch.tensor([_MU0 * (1 + coherence / 100), _MU0 * (1 - coherence / 100)], dtype=torch.float64)


def _fixed_points(model: WongWang, coherence: float | None, resolution: int = 15):
    """Fixed points on the (S1, S2) plane at a stimulus (None: stimulus off), from a grid of starts."""
    g = torch.linspace(0.0, 0.8, resolution, dtype=torch.float64)
    u = _inputs(coherence)
    starts = model.states_at(torch.cartesian_prod(g, g), u)
    return find_fixed_points(model, u, starts, max_iterations=100).fixed()


def _save(fig, path: Path, dpi: int) -> None:
    """Save as a 256-colour PNG (line art: a third of the size of full colour, same look)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    with Image.open(buf) as img:
        img.convert("RGB").quantize(256).save(path, optimize=True)


def _phase_planes(model: WongWang, out: Path, conditions, seed: int) -> tuple[Path, dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(conditions), figsize=(4.6 * len(conditions), 4.2), layout="constrained")
    found = {}
    for ax, (label, coh) in zip(axes, conditions):
        u = _inputs(coh)
        origin, basis = model.plane(u)
        flow = flow_field(model, basis, origin=origin, inputs=u, extent=(0.0, 0.8, 0.0, 0.8), resolution=60,
                          labels=("S1", "S2"))
        fps = _fixed_points(model, coh)
        trajectories = None
        if coh is not None:
            stim = model.stimulus(torch.full((6,), float(coh)), duration=1500.0, onset=0.0, mu0=_MU0)
            traj = simulate(model, stim.to(torch.float64), generator=torch.Generator().manual_seed(seed))
            trajectories = flow.project(traj.states[:, ::10].to(torch.float64))
        plot_flow_field(flow, ax, fixed_points=flow.project(fps.states), n_unstable=fps.n_unstable,
                        nullclines=nullclines(flow), trajectories=trajectories, show_speed=False, density=0.9,
                        title=label)
        ax.set_aspect("equal")
        found[label] = fps
    path = out / "wong_wang_phase_planes.png"
    _save(fig, path, dpi=90)
    plt.close(fig)
    return path, found


def _curves_figure(curves, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = curves.coherences.numpy()
    zero, pos = c == 0, c > 0
    fit = curves.weibull()
    # zero coherence has no place on a log axis: it gets its own narrow panel left of each log axis
    fig = plt.figure(figsize=(9.6, 3.6), layout="constrained")
    grid = fig.add_gridspec(1, 5, width_ratios=[1, 7, 0.6, 1, 7], wspace=0.02)
    z1, a1 = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    z2, a2 = fig.add_subplot(grid[3]), fig.add_subplot(grid[4])
    a1.sharey(z1)
    a2.sharey(z2)
    p, p_se = curves.p_choice1.numpy(), curves.p_choice1_se.numpy()
    rt, rt_se = curves.mean_rt.numpy() / 1000, curves.rt_se.numpy() / 1000
    ref_p, ref_rt = np.asarray(REFERENCE_P_CHOICE1), np.asarray(REFERENCE_MEAN_RT)
    for z, a, y, y_se, ref, line in ((z1, a1, p, p_se, ref_p, "o"), (z2, a2, rt, rt_se, ref_rt, "o-")):
        z.errorbar(np.zeros(zero.sum()), y[zero], yerr=y_se[zero], fmt="o", color="k")
        z.plot(np.zeros(zero.sum()), ref[zero], "s", mfc="none", color="C3")
        a.errorbar(c[pos], y[pos], yerr=y_se[pos], fmt=line, color="k", label="model")
        a.plot(c[pos], ref[pos], "s", mfc="none", color="C3", label=_REFERENCE_LABEL)
        z.set_xlim(-1, 1)
        z.set_xticks([0], ["0"])
        a.set_xscale("log")
        a.set_xlim(2.0, 100.0)
        a.set_xticks([3.2, 6.4, 12.8, 25.6, 51.2], ["3.2", "6.4", "12.8", "25.6", "51.2"])
        a.minorticks_off()
        a.set_xlabel("coherence (%)")
        a.tick_params(labelleft=False)
        z.spines["right"].set_visible(False)
        a.spines["left"].set_linestyle((0, (2, 2)))  # the break between 0 and the log axis
    cc = np.geomspace(2.0, 100.0, 200)
    a1.plot(cc, fit(cc), color="C0", lw=1.2, label=f"Weibull: alpha={fit.alpha:.1f}%, beta={fit.beta:.2f}")
    z1.set_ylabel("P(choice 1) (decided trials)")
    z1.set_ylim(0.4, 1.02)
    a1.legend(fontsize=7, loc="lower right")
    z2.set_ylabel("mean reaction time (s)")
    a2.legend(fontsize=7)
    path = out / "wong_wang_curves.png"
    _save(fig, path, dpi=100)
    plt.close(fig)
    return path


def _fixed_point_sweep(model: WongWang, coherences) -> list[dict]:
    rows = []
    for coh in coherences:
        fps = _fixed_points(model, coh, resolution=12)
        rates = model.readout(fps.states)
        row = {"coherence": coh, "points": []}
        for s, r, k in zip(fps.states.tolist(), rates.tolist(), fps.n_unstable.tolist()):
            row["points"].append({"S": [round(s[0], 4), round(s[1], 4)], "rates_hz": [round(r[0], 2), round(r[1], 2)],
                                  "n_unstable": int(k)})
        rows.append(row)
    return rows


def _critical_mu0(model: WongWang) -> float:
    """Smallest symmetric stimulus rate (Hz) at which the resting state is lost (saddle-node), by
    bisection on whether a stable symmetric low state exists."""

    def has_rest(mu: float) -> bool:
        S = model.rest_state(torch.tensor([mu, mu]))
        J = model.jacobian(S.to(torch.float64)[None], None)[0]
        return bool((torch.linalg.eigvals(J).real < 0).all()) and float(S[0]) < 0.2

    lo, hi = 0.0, _MU0
    if not has_rest(lo) or has_rest(hi):
        return math.nan
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if has_rest(mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@register("wong-wang", summary="Reduced decision circuit: phase planes, psychometric and chronometric curves, "
                              "parameter recovery", reference="Wong & Wang 2006")
def run_wong_wang(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    out = Path(out)
    t_start = time.perf_counter()
    model64 = WongWang(dtype=torch.float64)
    checks: list[Check] = []
    numbers: dict = {}

    # ---- fixed points without stimulus (independent implementation) and with the stimulus on
    conditions = [("stimulus off", None), ("c = 0 %, mu0 = 20 Hz", 0.0), ("c = 51.2 %", 51.2)]
    phase_path, found = _phase_planes(model64, out, conditions, seed)
    off = found["stimulus off"]
    stable = off.stable()
    low = stable.states[stable.states[:, 0].sub(stable.states[:, 1]).abs().argmin()]
    high = stable.states[stable.states[:, 0].argmax()]
    src_fp = "independent implementation, zero stimulus, no noise (docs/references.md)"
    checks += [
        Check("stimulus off: stable points", float(len(stable)), 3.0, 0.0, source="low state + two decision states"),
        Check("stimulus off: saddles", float(len(off.saddles())), 2.0, 0.0, source="one between rest and each choice"),
        Check("stimulus off: rest S", float(low[0]), 0.1027, 0.01, relative=True, source=src_fp),
        Check("stimulus off: rest rate (Hz)", float(model64.readout(low)[0]), 1.78, 0.01, relative=True, source=src_fp),
        Check("stimulus off: decision S_high", float(high[0]), 0.567, 0.01, relative=True, source=src_fp),
        Check("stimulus off: decision S_low", float(high[1]), 0.032, 0.01, relative=True, source=src_fp),
        Check("stimulus off: decision rate high (Hz)", float(model64.readout(high)[0]), 20.4, 0.01, relative=True,
              source=src_fp),
        Check("stimulus off: decision rate low (Hz)", float(model64.readout(high)[1]), 0.5, 0.05,
              source=src_fp + "; reference rounded to 0.1 Hz"),
    ]
    on = found["c = 0 %, mu0 = 20 Hz"]
    sym = on.saddles()
    checks += [
        Check("c = 0, mu0 = 20 Hz: stable points", float(len(on.stable())), 2.0, 0.0,
              source="Wong & Wang 2006: the stimulus destabilises the resting state (decision regime)"),
        Check("c = 0, mu0 = 20 Hz: symmetric saddles", float(int((sym.states[:, 0] - sym.states[:, 1]).abs().lt(1e-6).sum())),
              1.0, 0.0, source="the symmetric state is a saddle with the stimulus on"),
    ]
    numbers["fixed_points_stimulus_off"] = [
        {"S": s[:2], "rates_hz": r, "stability": k}
        for s, r, k in zip(off.states.tolist(), model64.readout(off.states).tolist(), off.stability)]
    numbers["critical_mu0_hz"] = _critical_mu0(model64)
    sweep = (0.0, 6.4, 25.6, 51.2) if quick else (0.0, 3.2, 6.4, 12.8, 25.6, 51.2, 75.0, 100.0)
    numbers["fixed_points_by_coherence"] = _fixed_point_sweep(model64, sweep)

    # ---- psychometric and chronometric curves
    n_trials = 400 if quick else _REF_TRIALS
    model = WongWang(dtype=torch.float32)
    t0 = time.perf_counter()
    curves = psychometric(model, REFERENCE_COHERENCES, n_trials, seed=seed)
    numbers["curves_seconds"] = time.perf_counter() - t0
    numbers["curves"] = curves.summary()
    fit = curves.weibull()
    numbers["weibull"] = {"alpha": fit.alpha, "alpha_se": fit.alpha_se, "beta": fit.beta, "beta_se": fit.beta_se}
    for i, c in enumerate(REFERENCE_COHERENCES):
        p_ref, rt_ref = REFERENCE_P_CHOICE1[i], REFERENCE_MEAN_RT[i]
        n_dec = float(curves.n_decided[i])
        n_ref = max(1.0, float(curves.fraction_decided[i]) * _REF_TRIALS)  # same protocol: same decided fraction
        p_tol = 3 * math.sqrt(p_ref * (1 - p_ref) * (1 / max(n_dec, 1.0) + 1 / n_ref)) + 0.005
        se = float(curves.rt_se[i]) / 1000
        rt_tol = 3 * math.sqrt(se**2 + se**2 * n_dec / n_ref) + 0.005
        checks.append(Check(f"P(choice 1) at {c:g} %", float(curves.p_choice1[i]), p_ref, p_tol,
                            source=_SOURCE + "; 3 binomial SE + rounding"))
        checks.append(Check(f"mean RT (s) at {c:g} %", float(curves.mean_rt[i]) / 1000, rt_ref, rt_tol,
                            source=_SOURCE + "; 3 SE + rounding"))
    curves_path = _curves_figure(curves, out)

    # ---- parameter recovery (full version; a short one runs in tests/analysis/test_decisions.py)
    if not quick:
        truth = {"J_ext": model.J_ext, "J_E": model.J_E}
        data = psychometric(model, (0.0, 6.4, 12.8, 25.6, 51.2), 1000, seed=seed + 100)
        t0 = time.perf_counter()
        res = fit_wong_wang(data, tuple(truth), initial={"J_ext": 1.2 * truth["J_ext"], "J_E": 0.95 * truth["J_E"]},
                            seed=seed + 200)
        numbers["recovery"] = {"truth": truth, "estimates": res.as_dict(), "chi2": res.chi2, "n_moments": res.n_moments,
                               "n_evaluations": res.n_evaluations, "seconds": time.perf_counter() - t0}
        for name, (est, se) in res.as_dict().items():
            checks.append(Check(f"recovered {name}", est, truth[name], 3 * se,
                                source="simulated data (1000 trials x 5 coherences); 3 standard errors"))
    numbers["seconds"] = time.perf_counter() - t_start
    return Reproduction("wong-wang", checks=checks, numbers=numbers, figures=[phase_path, curves_path])
