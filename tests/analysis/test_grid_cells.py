"""Rate maps and grid scores against maps with known symmetry, spacing and orientation."""

import math

import numpy as np
import pytest
import torch

from rnnscope import ConfigError, ShapeError
from rnnscope.analysis import GridScores, RateMaps, grid_scores, rate_maps, spatial_autocorrelogram


def _grid(n, spacing, orientation_deg, phase=(0.0, 0.0), box=1.0):
    """A hexagonal grid in [0, box]^2: three plane waves 60 degrees apart, peaks spaced ``spacing``
    apart along the directions orientation + 60 k."""
    x = (np.arange(n) + 0.5) / n * box
    X, Y = np.meshgrid(x, x)  # axis 0 is y
    k = 4 * np.pi / (np.sqrt(3) * spacing)
    waves = [np.radians(orientation_deg + 30 + 60 * j) for j in range(3)]
    return sum(np.cos(k * (np.cos(a) * (X - phase[0]) + np.sin(a) * (Y - phase[1]))) for a in waves)


def _angle_gap(a, b):
    """Distance between two orientations modulo 60 degrees."""
    d = abs(a - b) % 60.0
    return min(d, 60.0 - d)


def _square(n, spacing, orientation_deg):
    x = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(x, x)
    k = 2 * np.pi / spacing
    return sum(np.cos(k * (np.cos(a) * X + np.sin(a) * Y)) for a in np.radians([orientation_deg, orientation_deg + 90]))


@pytest.mark.parametrize("spacing,orientation,phase", [(0.3, 10.0, (0, 0)), (0.25, 40.0, (0.1, 0.2)), (0.4, 0.0, (0.3, 0))])
def test_a_hexagonal_grid_scores_high_with_its_spacing_and_orientation(spacing, orientation, phase):
    g = grid_scores(_grid(40, spacing, orientation, phase)[None])
    assert g.score60[0] > 1.0 and g.score90[0] < 0.5
    assert g.spacing[0].item() / 40 == pytest.approx(spacing, rel=0.03)  # maps without a box: bins
    assert _angle_gap(g.orientation[0].item(), orientation) < 2.0 and 0 <= g.orientation[0].item() < 60


def test_a_square_grid_scores_high_score90_and_low_score60():
    g = grid_scores(np.stack([_square(40, 0.3, 0.0), _square(40, 0.25, 20.0)]))
    assert (g.score90 > 1.0).all() and (g.score60 < 0.0).all()


def test_noise_scores_near_zero():
    maps = np.random.default_rng(0).normal(size=(20, 32, 32))
    g = grid_scores(maps)
    assert g.score60.abs().mean() < 0.15 and g.score90.abs().mean() < 0.15
    assert g.fraction_above(0.3) <= 0.1


def test_autocorrelogram_is_one_at_zero_lag_and_handles_unvisited_bins():
    m = _grid(24, 0.3, 0.0)
    m[:3, :3] = np.nan
    ac = spatial_autocorrelogram(torch.from_numpy(m))
    assert ac.shape == (47, 47) and ac[23, 23].item() == pytest.approx(1.0)
    assert torch.allclose(ac, ac.flip(0, 1), equal_nan=True)  # symmetric under lag -> -lag
    assert torch.isnan(ac[0, 0])  # too little overlap at the largest lags


def test_rate_maps_recover_a_tuning_curve_and_feed_the_scores_in_box_units():
    rng = np.random.default_rng(1)
    pos = 2.2 * rng.random((400, 250, 2))  # (batch, time, 2) in a 2.2 m box
    grid = lambda p: sum(np.cos(4 * np.pi / (np.sqrt(3) * 0.6) * (np.cos(a) * p[..., 0] + np.sin(a) * p[..., 1]))  # noqa: E731
                         for a in np.radians([30.0, 90.0, 150.0]))
    act = np.stack([grid(pos), pos[..., 0]], axis=-1)
    maps = rate_maps(torch.from_numpy(pos), torch.from_numpy(act), bins=44, box=2.2, smooth=0.0)
    assert isinstance(maps, RateMaps) and maps.maps.shape == (2, 44, 44) and maps.occupancy.sum() == 400 * 250
    centres = (np.arange(44) + 0.5) * 0.05
    assert np.allclose(maps.maps[1].numpy(), np.broadcast_to(centres, (44, 44)), atol=0.02)  # x along axis 2
    g = grid_scores(maps)
    assert g.score60[0] > 1.0 and g.spacing[0].item() == pytest.approx(0.6, rel=0.05)
    assert _angle_gap(g.orientation[0].item(), 0.0) < 3.0
    assert g.best(1).tolist() == [0]


def test_unvisited_bins_are_nan_and_smoothing_keeps_a_constant_map():
    pos = np.array([[0.1, 0.1], [0.3, 0.1], [0.1, 0.3], [0.35, 0.35]] * 10)
    maps = rate_maps(pos, np.ones((40, 1)), bins=10, box=((0, 1), (0, 1)), smooth=1.5)
    visited = maps.occupancy > 0
    assert torch.isnan(maps.maps[0][~visited]).all() and torch.allclose(maps.maps[0][visited], torch.ones(4, dtype=torch.float64))


def test_save_and_load(tmp_path):
    g = grid_scores(_grid(20, 0.3, 0.0)[None])
    back = GridScores.load(g.save(tmp_path / "g"))
    assert torch.equal(back.score60, g.score60) and torch.allclose(back.autocorrelograms, g.autocorrelograms, equal_nan=True)
    m = rate_maps(np.random.default_rng(0).random((50, 2)), np.ones((50, 3)), bins=5)
    assert RateMaps.load(m.save(tmp_path / "m")).box == m.box


def test_bad_arguments():
    with pytest.raises(ShapeError, match="share their leading axes"):
        rate_maps(np.zeros((10, 2)), np.zeros((9, 3)))
    with pytest.raises(ConfigError, match="'box' parameter"):
        rate_maps(np.zeros((10, 2)), np.zeros((10, 3)), box=((1, 0), (0, 1)))
    with pytest.raises(ShapeError, match="maps"):
        grid_scores(np.zeros((3, 3)))
    assert math.isnan(grid_scores(np.ones((1, 8, 8))).score60[0].item())
