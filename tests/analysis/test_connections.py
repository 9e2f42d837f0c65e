"""saddle_connections: where the unstable manifold of each saddle leads."""

import pytest
import torch

from rnnscope.analysis import find_fixed_points, saddle_connections
from rnnscope.errors import ConfigError, ShapeError
from rnnscope.models import GRU, RateRNN


def _bistable_pair(time="continuous"):
    """Two uncoupled bistable units, x' = -x + 2 tanh(x): stable at the four corners (+-a, +-a), a saddle
    with one unstable direction on each side of the square, the origin unstable in both directions."""
    return RateRNN.from_weights(2.0 * torch.eye(2, dtype=torch.float64), time=time, tau=10.0, dt=1.0)


def test_the_saddles_of_two_bistable_units_join_the_corners_of_a_square():
    model = _bistable_pair()
    grid = torch.cartesian_prod(*[torch.linspace(-2.5, 2.5, 7, dtype=torch.float64)] * 2)
    points = find_fixed_points(model, initial_states=grid, outlier_scale=None, progress=False)
    assert points.by_n_unstable() == {0: 4, 1: 4, 2: 1}
    links = saddle_connections(model, points, steps=400)
    assert len(links) == 4 and bool((links.ends >= 0).all())
    corners = torch.sign(points.states)
    for s, (a, b) in zip(links.saddles.tolist(), links.ends.tolist()):
        # each side of a saddle on an edge of the square reaches one end of that edge
        assert int((corners[a] != corners[b]).sum()) == 1
        assert torch.allclose((points.states[a] + points.states[b]) / 2, points.states[s], atol=1e-6)
    square = {tuple(sorted((int(a), int(b)))) for a, b in links.ends.tolist()}
    assert links.edges() == sorted(square) and len(square) == 4
    assert float(links.distances.max()) < 1e-6


def test_a_trajectory_that_stops_short_reaches_no_attractor():
    model = _bistable_pair()
    grid = torch.cartesian_prod(*[torch.linspace(-2.5, 2.5, 7, dtype=torch.float64)] * 2)
    points = find_fixed_points(model, initial_states=grid, outlier_scale=None, progress=False)
    links = saddle_connections(model, points, steps=1, epsilon=1e-6)
    assert bool((links.ends == -1).all()) and links.edges() == []


def test_gated_networks_and_errors():
    model = GRU(1, 4, 1, seed=0)
    points = find_fixed_points(model, initial_states=torch.randn(64, 4, generator=torch.Generator().manual_seed(0)),
                               progress=False)
    links = saddle_connections(model, points, steps=50)
    assert links.ends.shape == (len(links), 2)
    with pytest.raises(ShapeError, match="hidden_size"):
        saddle_connections(GRU(1, 5, 1), points)
    with pytest.raises(ConfigError, match="'epsilon' parameter of saddle_connections"):
        saddle_connections(model, points, epsilon=0.0)
