"""From an NWB file to a fitted network (docs/fitting_data.md, "From an NWB file to a fitted network").

Writes a spiking session with pynwb (16 units with spike times; a trials table with a signed
``coherence``, the stimulus onset and offset, and the animal's ``choice``), reads it with
``read_nwb`` and fits low-rank networks to it three ways: without inputs, with the coherence as
input (single trials), and to the condition averages. Every fit is scored on held-out trials on
single trials and on condition averages, against a split-half noise ceiling.

    python examples/nwb_to_fitted_network.py [OUT]     # OUT: default ./nwb_fit_example

The command line does the same fits: ``rnnscope fit OUT/session.nwb --bin-ms 50 --inputs coherence
--input-window stim_on stim_off --align stim_on --window-ms -200 800 --ranks 1,2,3`` (add
``--target condition-average`` for the last one).
"""

import datetime
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pynwb  # noqa: E402

from rnnscope.data import nwb_contents, read_nwb, select_rank  # noqa: E402
from rnnscope.runs import plot_predicted_vs_recorded  # noqa: E402

RANKS, STEPS = (1, 2, 3), 500


def write_session(path: Path, n_trials: int = 240, n_units: int = 16, seed: int = 0) -> Path:
    """A session of Poisson units: each fires at ``base + onset * o(t) + gain * coherence * s(t)``, where
    o is a transient at stimulus onset (the same for every coherence) and s a leaky integral of the
    stimulus (time constant 300 ms); the stimulus starts 300-500 ms into the trial and lasts 600 ms."""
    rng = np.random.default_rng(seed)
    base, onset, gain = rng.uniform(5, 25, n_units), rng.uniform(0, 15, n_units), rng.normal(0, 30, n_units)
    coherence = rng.permutation(np.resize([-0.4, -0.2, -0.1, 0.1, 0.2, 0.4], n_trials))
    choice = np.where(rng.random(n_trials) < 0.9, np.sign(coherence), -np.sign(coherence))
    nwb = pynwb.NWBFile(session_description="synthetic random-dots session", identifier="rnnscope-nwb-example",
                        session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    nwb.add_trial_column(name="coherence", description="signed motion coherence")
    nwb.add_trial_column(name="stim_on", description="stimulus onset (s)")
    nwb.add_trial_column(name="stim_off", description="stimulus offset (s)")
    nwb.add_trial_column(name="choice", description="left or right")
    dt, spikes = 0.001, [[] for _ in range(n_units)]
    t = np.arange(0, 1.2, dt)
    for i in range(n_trials):
        start = 1.5 * i
        on = 0.3 + rng.uniform(0, 0.2)
        off = on + 0.6
        since = np.clip(t - on, 0, None)
        o = np.where(t >= on, np.exp(-since / 0.15), 0.0)
        s = np.where(t >= on, 1 - np.exp(-np.minimum(since, off - on) / 0.3), 0.0)
        s = s * np.exp(-np.clip(t - off, 0, None) / 0.2)  # decays after the offset
        rate = np.clip(base[:, None] + onset[:, None] * o + gain[:, None] * coherence[i] * s, 0, None)
        fired = rng.random(rate.shape) < rate * dt
        for n in range(n_units):
            spikes[n].extend(start + t[fired[n]] + rng.uniform(0, dt, fired[n].sum()))
        nwb.add_trial(start_time=start, stop_time=start + 1.2, coherence=coherence[i], stim_on=start + on,
                      stim_off=start + off, choice="right" if choice[i] > 0 else "left")
    for n in range(n_units):
        nwb.add_unit(spike_times=np.sort(spikes[n]))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = write_session(out / "session.nwb")
    print(nwb_contents(path))
    reading = dict(bin_ms=50.0, align="stim_on", window_ms=(-200, 800), conditions=["coherence", "choice"])
    blind = read_nwb(path, **reading)
    data = read_nwb(path, inputs=["coherence"], input_window=("stim_on", "stim_off"), **reading)
    print(data)
    fitting = dict(conditions=["coherence"], test_fraction=0.5, steps=STEPS, seed=0, progress=False)
    fits = {"no input": select_rank(blind, RANKS, **fitting),
            "coherence as input": select_rank(data, RANKS, **fitting),
            "condition averages": select_rank(data, RANKS, target="condition-average", **fitting)}
    for name, sel in fits.items():
        print(f"\n== {name}\n{sel.table()}")
    print("\nheld out, chosen rank: single-trial R2 / condition-average R2 (fraction of the noise ceiling)")
    for name, sel in fits.items():
        i, c = sel.ranks.index(sel.chosen_rank), sel.noise_ceiling
        st, ca = sel.r2_test_single_trial[i], sel.r2_test_condition_average[i]
        print(f"{name:<20} rank {sel.chosen_rank}: {st:.3f} ({c.fraction(st, 'single-trial'):.0%}) / "
              f"{ca:.3f} ({c.fraction(ca, 'condition-average'):.0%}); ceiling {c.single_trial:.3f} / "
              f"{c.condition_average:.3f}")
    sel = fits["coherence as input"]
    _, test = data.split(0.5, seed=0, stratify=["coherence"])
    fig = plot_predicted_vs_recorded(sel.best, test, keys=["coherence"], max_conditions=6)
    fig.savefig(out / "nwb_fit_predicted_vs_recorded.png", dpi=100)
    print(f"\nwrote {out / 'session.nwb'} and {out / 'nwb_fit_predicted_vs_recorded.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("nwb_fit_example"))
