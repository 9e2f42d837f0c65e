"""End-to-end tests of ``rnnscope compare`` on tiny trained runs."""

import json

import numpy as np
import pytest

from rnnscope.analysis.similarity import compare_sources
from rnnscope.cli import main

TINY = ["--hidden-size", "16", "--batch-size", "8", "--set", "training.eval_batch_size=32", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, task, seed in (("a", "perceptual_decision", 0), ("b", "perceptual_decision", 1), ("ff", "flipflop", 0)):
        path = root / name
        assert main(["train", task, "--steps", "20", "--seed", str(seed), "--out", str(path), *TINY]) == 0
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
