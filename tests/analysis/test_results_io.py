"""One saver and loader for every typed result; one error type for every bad file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnscope.analysis import (
    FixedPoints,
    FlowField,
    LyapunovSpectrum,
    SimilarityResult,
    cca_similarity,
    find_fixed_points,
    flow_field,
    lyapunov_spectrum,
)
from rnnscope.errors import CheckpointError
from rnnscope.models import RateRNN


@pytest.fixture(scope="module")
def results():
    model = RateRNN(0, 6, 0, g=1.5, tau=10.0, dt=1.0, seed=0)
    cand = torch.randn(32, 6, generator=torch.Generator().manual_seed(0))
    fps = find_fixed_points(model, initial_states=cand, progress=False)
    flow = flow_field(model, torch.eye(2, 6), extent=1.0, resolution=5)
    spec = lyapunov_spectrum(model, n_exponents=3, n_steps=50, transient_steps=5, progress=False)
    x = np.random.default_rng(0).standard_normal((8, 5, 4))
    sim = cca_similarity(x, x + 0.1, k=2, n_permutations=5)
    return {FixedPoints: fps, FlowField: flow, LyapunovSpectrum: spec, SimilarityResult: sim}


@pytest.mark.parametrize("kind", [FixedPoints, FlowField, LyapunovSpectrum, SimilarityResult],
                         ids=lambda k: k.__name__)
def test_every_result_round_trips_through_one_npz(kind, results, tmp_path):
    res = results[kind]
    path = res.save(tmp_path / "result")
    assert path.suffix == ".npz"
    back = kind.load(path)
    assert type(back) is kind
    with np.load(path) as data:
        assert "meta" in data.files  # external scripts read the arrays by name


@pytest.mark.parametrize("kind", [FixedPoints, FlowField, LyapunovSpectrum, SimilarityResult],
                         ids=lambda k: k.__name__)
def test_every_bad_file_is_one_clear_checkpoint_error(kind, results, tmp_path):
    with pytest.raises(CheckpointError, match=f"No {kind.__name__} file"):
        kind.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match=f"not a readable {kind.__name__} file"):
        kind.load(tmp_path / "junk.npz")
    other = next(k for k in results if k is not kind)
    path = results[other].save(tmp_path / "other")
    with pytest.raises(CheckpointError, match=f"not a {kind.__name__} file"):
        kind.load(path)
