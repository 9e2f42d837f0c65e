"""The universality reproduction (Maheswaranathan et al. 2019): its pieces, and the full version (slow).

The short version runs with every other reproduction in tests/experiments/test_reproductions.py."""

import json

import numpy as np
import pytest

from rnnscope import experiments
from rnnscope.runs import load_sweep
from rnnscope.runs._universality import _auc, _is_cube, classical_mds, cube_edges


def test_the_cube_has_12_edges_between_patterns_one_bit_apart():
    edges = cube_edges(3)
    assert len(edges) == 12 and ("+++", "++-") in edges and ("+++", "+--") not in edges
    assert len(cube_edges(2)) == 4


def test_a_topology_is_the_cube_only_with_8_distinct_attractors_and_exactly_its_edges():
    patterns = ["".join(p) for p in __import__("itertools").product("+-", repeat=3)]
    good = {"stable": list(range(8)), "stable_bits": sorted(patterns), "edges": [list(e) for e in cube_edges(3)]}
    assert _is_cube(good)
    assert not _is_cube({**good, "edges": good["edges"][:-1]})
    assert not _is_cube({**good, "edges": good["edges"] + [["+++", "---"]]})
    assert not _is_cube({**good, "stable": list(range(9)), "stable_bits": sorted(patterns + ["+++"])})


def test_classical_mds_recovers_points_up_to_a_rigid_motion():
    points = np.random.default_rng(0).normal(size=(7, 2))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    coords = classical_mds(distances)
    assert np.allclose(np.linalg.norm(coords[:, None] - coords[None], axis=-1), distances, atol=1e-9)


def test_auc_counts_within_pairs_that_beat_between_pairs():
    assert _auc([0.9, 0.8], [0.5, 0.6], True) == 1.0
    assert _auc([0.2], [0.5, 0.1], False) == 0.5
    assert _auc([0.5], [0.5], True) == 0.5


@pytest.mark.slow
def test_full_version(tmp_path):
    result = experiments.run("universality", tmp_path, quick=False, progress=False)
    assert result.passed, [c.line() for c in result.checks if not c.passed]
    numbers = json.loads((tmp_path / "result.json").read_text())["numbers"]
    assert len(numbers["stable_points_by_network"]) == 30
    assert set(numbers["stable_points_by_network"].values()) == {8}
    assert numbers["cca_within"] > numbers["cca_between"]
    assert (load_sweep(tmp_path / "sweep")["status"] == "done").all()
