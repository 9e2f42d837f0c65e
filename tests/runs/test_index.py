"""index.html: one page of the results in a folder, for reproductions, fits, comparisons and sweeps."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from matplotlib.figure import Figure

from rnnscope.cli import main
from rnnscope.data import NeuralData
from rnnscope.errors import ConfigError
from rnnscope.runs import write_index


def _fake_reproduction(monkeypatch):
    from rnnscope import experiments
    from rnnscope.experiments import Check, Reproduction, _registry

    experiments.available()  # the catalogue is loaded

    def tiny(out, *, quick, seed, progress):
        fig = Figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1], [1, 0])
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / "curve.png", dpi=50)
        return Reproduction("tiny", checks=[Check("slope", -0.9556117244064808, -1.0, 0.1, source="a line")],
                            numbers={"ratio": 0.123456789, "series": list(np.linspace(0, 1, 30))},
                            figures=[out / "curve.png"])

    monkeypatch.setitem(_registry._REGISTRY, "tiny", _registry._Entry(tiny, "a line", "nobody"))


def test_reproduce_writes_an_index_with_rounded_numbers_tables_and_figures(tmp_path, monkeypatch, capsys):
    _fake_reproduction(monkeypatch)
    out = tmp_path / "rep"
    assert main(["reproduce", "tiny", "--out", str(out), "--no-progress"]) == 0
    assert f"wrote {out / 'result.json'} and {out / 'index.html'}" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    assert "a reproduction (rnnscope reproduce)" in page
    # the checks (a list of records) as one table with a column per field, numbers with 4 digits
    assert re.search(r"<th>name</th><th>value</th><th>reference</th><th>tolerance</th>", page)
    assert "<td class='num'>-0.9556</td>" in page and "0.9556117" not in page
    assert "<th>ratio</th><td>0.1235</td>" in page  # numbers: a table of names and values
    assert "\u2026 (30 values)" in page  # a long list is shortened (result.json keeps it whole)
    assert page.count("data:image/png;base64,") == 1 and "http" not in page.split("</title>")[1]


def test_a_fit_folder_gets_an_index_with_its_scores_per_rank(tmp_path):
    data = tmp_path / "d.npz"
    NeuralData.from_arrays(np.random.default_rng(0).normal(size=(10, 6, 3)), dt=10.0).save(data)
    out = tmp_path / "fit"
    assert main(["fit", str(data), "--ranks", "1,2", "--steps", "2", "--out", str(out), "--no-progress"]) == 0
    page = (out / "index.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    # the lists with one value per rank read as the columns of one table
    assert "<th>ranks</th><th>target</th>" not in page and re.search(r"<th>ranks</th><th>r2_train</th><th>r2_test</th>", page)
    assert f"<td class='num'>{summary['r2_test'][0]:.4g}</td>" in page
    assert "href='rank_1'" in page and "href='rank_2'" in page  # the fits of each rank
    assert "<summary>config.yaml</summary>" in page and "checkpoint.safetensors" in page


def test_compare_writes_an_index_only_into_a_folder_given_with_out(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    NeuralData.from_arrays(rng.normal(size=(8, 5, 4)), dt=10.0).save(a)
    NeuralData.from_arrays(rng.normal(size=(8, 5, 4)), dt=10.0).save(b)
    assert main(["compare", str(a), str(b), "--metric", "cca", "--permutations", "5", "--out", str(tmp_path / "c")]) == 0
    page = (tmp_path / "c" / "index.html").read_text()
    assert "a comparison (rnnscope compare)" in page and "<th>score</th>" in page
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(a), str(b), "--metric", "cca", "--permutations", "5"]) == 0
    assert (tmp_path / "compare.json").exists() and not (tmp_path / "index.html").exists()


def _sweep(tmp_path, tiny_run):
    """A sweep-like folder: results.csv and a run folder per row under runs/."""
    sweep = tmp_path / "sweep"
    (sweep / "runs").mkdir(parents=True)
    rows = ["run,learning_rate,performance"]
    for name, lr, perf in (("lr_0.01", 0.01, 0.4123456), ("lr_0.001", 0.001, 0.9876543), ("lr_0.1", 0.1, 0.05)):
        shutil.copytree(tiny_run, sweep / "runs" / name)
        rows.append(f"runs/{name},{lr},{perf}")
    (sweep / "results.csv").write_text("\n".join(rows) + "\n")
    return sweep


def test_index_of_a_sweep_folder_lists_its_table_and_runs(tmp_path, tiny_run, capsys):
    sweep = _sweep(tmp_path, tiny_run)
    (sweep / "runs" / "lr_0.1" / "analysis").mkdir()
    (sweep / "runs" / "lr_0.1" / "analysis" / "report.html").write_text("<html></html>")
    assert main(["index", str(sweep)]) == 0
    assert f"wrote {sweep / 'index.html'}" in capsys.readouterr().out
    page = (sweep / "index.html").read_text()
    assert "a sweep" in page and "<table class='sortable'>" in page
    assert "<td class='num'>0.9877</td>" in page  # the CSV's numbers rounded
    assert "href='runs/lr_0.01'" in page and "href='runs/lr_0.1/analysis/report.html'" in page
    assert "<td><a href='runs/lr_0.1/analysis/report.html'>runs/lr_0.1</a></td>" in page  # the CSV's run column
    assert "<th>task</th>" in page and "flipflop" in page  # each run's summary.json
    assert "href='runs'" not in page  # runs/ itself holds no result: only its folders are listed


def test_index_never_replaces_a_page_it_did_not_write(tmp_path):
    (tmp_path / "index.html").write_text("<html><body>my notes</body></html>")
    with pytest.raises(ConfigError, match="was not written by rnnscope"):
        write_index(tmp_path)
    assert "my notes" in (tmp_path / "index.html").read_text()
    (tmp_path / "index.html").unlink()
    write_index(tmp_path)
    write_index(tmp_path)  # its own page is replaced
    with pytest.raises(ConfigError, match="must be an existing folder"):
        write_index(tmp_path / "nowhere")


def test_index_says_which_files_it_could_not_read(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "table.csv").write_text("")
    page = write_index(tmp_path).read_text()
    assert "broken.json could not be read" in page and "(empty)" in page
