"""similarity_matrix: every pair at once, each entry the pairwise metric's score."""

import numpy as np
import pytest

from rnnscope.analysis import cca_similarity, shape_distance, similarity_matrix
from rnnscope.errors import ConfigError, ShapeError


def _sets():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(6, 20, 3))
    return [latent @ rng.normal(size=(3, units)) + 0.3 * rng.normal(size=(6, 20, units)) for units in (5, 8, 6, 7)]


def test_entries_are_the_pairwise_scores():
    sets = _sets()
    cca = similarity_matrix(sets, k=4)
    procrustes = similarity_matrix(sets, metric="shape")
    partial = similarity_matrix(sets, metric="shape", alpha=0.5, n_components=4)
    assert np.allclose(np.diag(cca), 1.0) and np.allclose(np.diag(procrustes), 0.0)
    for i in range(4):
        for j in range(i + 1, 4):
            assert cca[i, j] == pytest.approx(cca_similarity(sets[i], sets[j], k=4, n_permutations=0).score, abs=1e-12)
            assert procrustes[j, i] == pytest.approx(shape_distance(sets[i], sets[j], n_permutations=0).score, abs=1e-12)
            assert partial[i, j] == pytest.approx(
                shape_distance(sets[i], sets[j], alpha=0.5, n_components=4, n_permutations=0).score, abs=1e-12)


def test_errors_name_the_argument():
    sets = _sets()
    with pytest.raises(ShapeError, match="at least 2"):
        similarity_matrix(sets[:1])
    with pytest.raises(ShapeError, match="same samples"):
        similarity_matrix([sets[0], sets[1][:3]])
    with pytest.raises(ConfigError, match="'k' parameter of similarity_matrix"):
        similarity_matrix(sets, k=9)
    with pytest.raises(ConfigError, match="constant"):
        similarity_matrix([sets[0], np.ones((6, 20, 3))], metric="shape")
