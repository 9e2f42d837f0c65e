"""The circular law for random connectivity J_ij ~ N(0, g^2 / N)."""

import numpy as np
import pytest
import torch

from rnnscope.errors import ConfigError, ShapeError
from rnnscope.models import random_network
from rnnscope.theory import circular_law_fraction, circular_law_radius, fraction_inside


def test_circular_law_formulas():
    assert circular_law_radius(2.5) == 2.5
    assert circular_law_fraction(0.5, 1.0) == 0.25
    assert circular_law_fraction(3.0, 2.0) == 1.0
    np.testing.assert_allclose(circular_law_fraction(np.array([0.0, 1.0, 2.0]), 2.0), [0.0, 0.25, 1.0])
    out = circular_law_fraction(torch.tensor([1.0, 4.0]), 2.0)
    assert isinstance(out, torch.Tensor) and out.tolist() == [0.25, 1.0]
    assert fraction_inside(np.array([0.1, 1j, 2.0]), 1.0) == pytest.approx(2 / 3)


def test_invalid_arguments():
    with pytest.raises(ConfigError, match="'g' parameter of circular_law_radius must be a float >= 0. Got -1"):
        circular_law_radius(-1.0)
    with pytest.raises(ConfigError, match="'g' parameter of circular_law_fraction must be a float > 0"):
        circular_law_fraction(0.5, 0.0)
    with pytest.raises(ConfigError, match="'r' parameter"):
        circular_law_fraction(-0.5, 1.0)
    with pytest.raises(ShapeError, match="'r' parameter"):
        circular_law_fraction(np.array([-1.0]), 1.0)
    with pytest.raises(ShapeError, match="1-D"):
        fraction_inside(np.zeros((2, 2)), 1.0)


@pytest.mark.parametrize(("N", "g"), [(700, 1.5), (400, 0.5), (400, 3.0)])
def test_eigenvalues_fill_the_disk_of_radius_g(N, g):
    """The largest modulus exceeds g by O(N^-1/2) (~5 % at N = 700-1000); the bulk count is rigid, so
    the fraction inside g/2 is within 0.02 of 1/4."""
    J = random_network(N, g, seed=3).recurrent_matrix().detach().double()
    ev = torch.linalg.eigvals(J)
    assert float(ev.abs().max()) == pytest.approx(circular_law_radius(g), rel=0.06 if N >= 700 else 0.08)
    assert fraction_inside(ev, g / 2) == pytest.approx(circular_law_fraction(g / 2, g), abs=0.02)
    assert fraction_inside(ev, 0.9 * g) == pytest.approx(0.81, abs=0.02)
