"""Temporal scaling against curves traversed at known speeds, stretched and time-shifted responses."""

import numpy as np
import pytest
import torch

from rnnscope import ConfigError, ShapeError
from rnnscope.analysis import TemporalScaling, UnitScaling, temporal_scaling, unit_scaling

DT = 10.0


def _curve(s):
    """A smooth open curve in 4-D, arc parameter s in [0, 1]."""
    return np.stack([np.cos(3 * s), np.sin(3 * s), s, s**2], axis=-1)


def _runs(durations, offset=0.0):
    """The curve traversed from s = 0 to 1 in each duration (ms): speed proportional to 1 / duration."""
    return [_curve(np.arange(round(T / DT) + 1) * DT / T) + offset for T in durations]


def test_curves_traversed_at_known_speeds():
    durations = [600.0, 800.0, 1000.0, 1200.0]
    k = temporal_scaling(_runs(durations), DT, reference=2)
    assert k.reference == 2 and torch.equal(k.durations, torch.tensor(durations, dtype=torch.float64))
    assert np.allclose(k.relative_speed.numpy(), 1000.0 / np.array(durations), rtol=0.01)
    assert k.speed_vs_inverse_duration_r() > 0.999
    # matched times lie on lines of slope T_i / T_ref, and the paths coincide
    assert np.allclose(k.matched_times[0].numpy(), 0.6 * k.reference_times.numpy(), atol=DT)
    assert k.distances.max() < 0.02


def test_a_parallel_path_is_at_its_distance_and_a_non_scaling_family_is_seen():
    runs = _runs([1000.0, 1000.0])
    runs[1] = runs[1] + np.array([0, 0, 0, 0.1])  # the same path moved 0.1 along the 4th axis
    k = temporal_scaling(runs, DT, reference=0)
    assert k.relative_speed[1].item() == pytest.approx(1.0, rel=0.02)
    assert k.distances[1].median().item() == pytest.approx(0.1, rel=0.1)
    # trajectories of different durations that all run at the same speed (they stop earlier or later)
    same_speed = [_curve(np.arange(n) * DT / 1000.0) for n in (61, 81, 101, 121)]
    k = temporal_scaling(same_speed, DT, reference=0)
    assert np.allclose(k.relative_speed.numpy(), 1.0, rtol=0.02)


def test_default_reference_is_the_median_duration_and_save_load(tmp_path):
    k = temporal_scaling(_runs([900.0, 500.0, 700.0]), DT)
    assert k.reference == 2 and k.relative_speed[2] == 1.0
    back = TemporalScaling.load(k.save(tmp_path / "k"))
    assert torch.equal(back.matched_times, k.matched_times) and back.reference == 2


def _bumps(T, centres, width):
    """Gaussian bumps (time, units) at fractions ``centres`` of a duration of T ms."""
    t = np.arange(round(T / DT) + 1) * DT
    return np.exp(-((t[:, None] - np.asarray(centres) * T) ** 2) / (2 * (width * T) ** 2))


def test_stretched_responses_are_found_scaling():
    durations = [600.0, 800.0, 1000.0, 1200.0]
    centres = np.linspace(0.15, 0.85, 12)
    u = unit_scaling([_bumps(T, centres, 0.08) for T in durations], DT, reference=2)
    assert u.warp_factor.shape == (12, 4) and u.active.all()
    assert np.allclose(u.warp_factor.numpy(), np.array(durations) / 1000.0, rtol=0.02)
    assert (u.r2_warp > 0.99).all() and (u.r2_normalised > 0.99).all()
    assert u.fraction_scaling() == 1.0 and u.scaling_index() > 0.3


def test_time_shifted_responses_are_found_shifting():
    delays = [-100.0, 0.0, 150.0, 300.0]
    t = np.arange(101) * DT  # every condition lasts 1000 ms
    centres = np.linspace(300.0, 600.0, 8)
    resp = [np.exp(-((t[:, None] - centres - d) ** 2) / (2 * 60.0**2)) for d in delays]
    u = unit_scaling(resp, DT, reference=1)
    assert np.allclose(u.shift.numpy(), np.array(delays)[None].repeat(8, 0))
    assert (u.r2_shift > 0.999).all() and u.fraction_scaling() == 0.0
    assert np.allclose(u.warp_factor[:, 1].numpy(), 1.0)


def test_silent_units_are_inactive_and_save_load(tmp_path):
    resp = [np.concatenate([_bumps(T, [0.5], 0.1), np.zeros((round(T / DT) + 1, 1))], 1) for T in (500.0, 700.0)]
    u = unit_scaling(resp, DT, reference=0)
    assert u.active.tolist() == [True, False] and torch.isnan(u.r2_warp[1]).all()
    back = UnitScaling.load(u.save(tmp_path / "u"))
    assert torch.equal(back.active, u.active) and torch.allclose(back.r2_warp, u.r2_warp, equal_nan=True)


def test_bad_arguments():
    with pytest.raises(ShapeError, match="at least 2"):
        temporal_scaling([np.zeros((5, 2))], DT)
    with pytest.raises(ShapeError, match="same number of units"):
        temporal_scaling([np.zeros((5, 2)), np.zeros((5, 3))], DT)
    with pytest.raises(ConfigError, match="'reference' parameter"):
        temporal_scaling(_runs([500.0, 600.0]), DT, reference=5)
    with pytest.raises(ConfigError, match="'factors' parameter"):
        unit_scaling(_runs([500.0, 600.0]), DT, factors=[0.0])
