"""End-to-end tests of ``rnnscope compare`` on tiny trained runs."""

import json

import numpy as np
import pytest

from rnnscope.runs import compare_sources
from rnnscope.cli import main

TINY = ["--hidden-size", "16", "--batch-size", "8", "--set", "training.eval_batch_size=32", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, task, seed in (("a", "perceptual_decision", 0), ("b", "perceptual_decision", 1), ("ff", "flipflop", 0)):
        path = root / name
        assert main(["train", task, "--steps", "10", "--seed", str(seed), "--out", str(path), *TINY]) == 0
        out[name] = path
    return out


def test_compare_a_run_with_itself_is_perfect(runs, tmp_path, capsys):
    assert main(["compare", str(runs["a"]), str(runs["a"]), "--trials", "16", "--permutations", "20",
                 "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for metric in ("cca", "procrustes", "rsa"):
        assert metric in text
    report = json.loads((tmp_path / "compare.json").read_text())
    res = report["results"]
    assert report["kind"] == "run-run" and report["task"] == "perceptual_decision" and report["n_trials"] == 16
    assert res["cca"]["score"] == pytest.approx(1.0, abs=1e-6)
    assert res["procrustes"]["score"] == pytest.approx(0.0, abs=1e-4)
    assert res["rsa"]["score"] == pytest.approx(1.0, abs=1e-9)
    assert res["cca"]["p_value"] == pytest.approx(1 / 21) and len(res["cca"]["null"]) == 20


def test_compare_two_seeds_gives_scores_with_baselines(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(runs["a"]), str(runs["b"]), "--metric", "cca", "--trials", "16",
                 "--permutations", "30"]) == 0
    report = json.loads((tmp_path / "compare.json").read_text())
    r = report["results"]["cca"]
    assert set(report["results"]) == {"cca"}
    assert 0 < r["score"] < 1 and 0 < r["p_value"] <= 1 and np.isfinite(r["null_std"])
    assert "null" in capsys.readouterr().out


def test_compare_library_call_matches_the_command(runs):
    rep = compare_sources(runs["a"], runs["b"], metrics=["procrustes"], n_trials=8, n_permutations=5)
    assert 0 < rep.results["procrustes"].score <= np.pi / 2 and rep.n_steps > 1


def test_compare_a_run_with_its_own_recorded_activity_and_data_with_data(runs, tmp_path, capsys):
    import torch

    from rnnscope.data import NeuralData
    from rnnscope.dynamics import simulate
    from rnnscope.runs import load_run

    run = load_run(runs["a"])
    batch = run.task.sample(12, seed=3)
    with torch.no_grad():
        rates = run.model.rates(simulate(run.model, batch.inputs, noise=False).states)
    data = NeuralData.from_trajectory(batch, rates)
    path = data.save(tmp_path / "rec.npz")
    assert main(["compare", str(runs["a"]), str(path), "--permutations", "10", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "compare.json").read_text())
    assert rep["kind"] == "run-data" and rep["n_trials"] == 12
    assert rep["results"]["cca"]["score"] == pytest.approx(1.0, abs=1e-5)
    assert rep["results"]["procrustes"]["score"] == pytest.approx(0.0, abs=1e-3)
    # data against a noisy copy of itself, and against data with another bin width
    noise = 0.05 * torch.randn(data.activity.shape, generator=torch.Generator().manual_seed(0))
    noisy = NeuralData.from_arrays(data.activity + noise, times=data.times, inputs=data.inputs)
    noisy.save(tmp_path / "noisy.npz")
    rep2 = compare_sources(path, tmp_path / "noisy.npz", metrics=["rsa"], n_permutations=50)
    assert rep2.kind == "data-data" and rep2.results["rsa"].score > 0.5 and rep2.results["rsa"].p_value < 0.05
    NeuralData.from_arrays(data.activity, dt=10.0, inputs=data.inputs).save(tmp_path / "coarse.npz")
    capsys.readouterr()
    assert main(["compare", str(runs["a"]), str(tmp_path / "coarse.npz"), "--out", str(tmp_path / "x")]) == 2
    assert "binned at 10 ms but the network" in capsys.readouterr().err


@pytest.mark.parametrize(
    "which, pattern",
    [
        (("a", "ff"), "must share a task: .* 'perceptual_decision', .* 'flipflop'"),
        (("a", "missing"), "does not exist"),
        (("a", "file"), "neither a run folder nor a .npz"),
    ],
)
def test_compare_errors_are_one_line(runs, tmp_path, capsys, which, pattern):
    import re

    paths = {**runs, "missing": tmp_path / "nope", "file": tmp_path / "x.txt"}
    (tmp_path / "x.txt").write_text("hi")
    assert main(["compare", str(paths[which[0]]), str(paths[which[1]]), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err) and "Traceback" not in err
    assert not (tmp_path / "compare.json").exists()
