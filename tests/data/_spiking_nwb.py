"""An NWB file of Poisson spiking units whose rates depend linearly on a signed trial column.

Trial i (1 s) shows a stimulus of signed coherence c_i from ``stim_on`` to ``stim_off`` (0.2 to 0.8 s
into the trial). Unit n fires at ``base_n + gain_n * c_i * s(t)``, with ``s`` the stimulus window
low-pass filtered with a 100 ms time constant (what a rate network with tau = 100 ms does to a step).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRIAL_S, ON_S, OFF_S, TAU_S = 1.0, 0.2, 0.8, 0.1


def stimulus_response(t: np.ndarray) -> np.ndarray:
    """s(t): 0 before the stimulus, 1 - exp(-(t - on)/tau) during it, decaying after it."""
    rise = 1 - np.exp(-np.clip(t - ON_S, 0, None) / TAU_S)
    peak = 1 - np.exp(-(OFF_S - ON_S) / TAU_S)
    return np.where(t < OFF_S, rise, peak * np.exp(-(t - OFF_S) / TAU_S))


@dataclass(frozen=True)
class SpikingSession:
    path: Path
    coherence: np.ndarray  # (trials,)
    base: np.ndarray  # (units,) Hz
    gain: np.ndarray  # (units,) Hz per unit of coherence

    def rate(self, t: np.ndarray) -> np.ndarray:
        """Firing rates (Hz) at times ``t`` (s from trial start). Shape: (trials, len(t), units)."""
        drive = self.coherence[:, None, None] * stimulus_response(t)[None, :, None]
        return np.clip(self.base + self.gain * drive, 0, None)

    def expected_counts(self, bin_s: float) -> np.ndarray:
        """The expected spike count of each trial, bin (of ``bin_s``, from trial start) and unit.

        Shape: (trials, bins, units)."""
        fine = 0.001
        rate = self.rate(np.arange(0, TRIAL_S, fine) + fine / 2)
        return rate.reshape(len(self.coherence), -1, int(round(bin_s / fine)), len(self.base)).sum(axis=2) * fine


def write_spiking_nwb(path: str | Path, *, n_trials: int = 160, n_units: int = 12,
                      coherences: tuple[float, ...] = (-0.4, -0.2, 0.2, 0.4), seed: int = 0) -> SpikingSession:
    """Write the session (units with spike times, a trials table with coherence, stim_on, stim_off)."""
    import pynwb

    rng = np.random.default_rng(seed)
    base = rng.uniform(10.0, 30.0, n_units)
    gain = rng.normal(0.0, 40.0, n_units)
    coherence = rng.permutation(np.resize(np.asarray(coherences, dtype=float), n_trials))
    session = SpikingSession(Path(path), coherence, base, gain)
    fine = 0.001
    t = np.arange(0, TRIAL_S, fine)
    rate = session.rate(t + fine / 2)
    nwb = pynwb.NWBFile(session_description="Poisson units driven by a signed coherence", identifier="rnnscope-spiking",
                        session_start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    for name in ("coherence", "stim_on", "stim_off"):
        nwb.add_trial_column(name=name, description=name)
    starts = 1.5 * np.arange(n_trials)
    for i, start in enumerate(starts):
        nwb.add_trial(start_time=start, stop_time=start + TRIAL_S, coherence=coherence[i], stim_on=start + ON_S,
                      stim_off=start + OFF_S)
    spikes = rng.poisson(rate * fine)  # (trials, 1 ms steps, units): spikes per millisecond
    for n in range(n_units):
        trial, step = np.nonzero(spikes[:, :, n])
        times = np.repeat(starts[trial] + t[step], spikes[trial, step, n])
        times = times + rng.uniform(0, fine, len(times))
        nwb.add_unit(spike_times=np.sort(times))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return session
