"""`rnnscope analyse` end to end on tiny runs of every task."""

import json

import pytest

from rnnscope.cli import main
from rnnscope.tasks import available
from rnnscope.tasks.multitask import RULES

#: Yang et al.'s 20 tasks share one generator and one code: two of them stand for all in this slow test
_ANALYSED = [n for n in available() if n not in RULES or n in ("fdgo", "dmsnogo")]


@pytest.mark.parametrize("name", _ANALYSED)
def test_analyse_every_task_end_to_end(name, tmp_path, capsys):
    run = tmp_path / name
    extra = ["--rank", "2"] if name == "perceptual_decision" else []  # exercises the latent flow field
    assert main(["train", name, "--steps", "15", "--hidden-size", "16", "--batch-size", "8", "--out", str(run),
                 "--no-progress", "--set", "training.eval_batch_size=16", *extra]) == 0
    assert main(["analyse", str(run), "--trials", "32", "--candidates", "64", "--no-progress"]) == 0
    out = run / "analysis"
    report = json.loads((out / "analysis.json").read_text())
    assert report["task"] == name
    assert set(report["conditions"]) == set(__import__("rnnscope").tasks.make(name).analysis_inputs())
    for entry in report["conditions"].values():
        fp = entry["fixed_points"]
        assert set(fp) >= {"by_n_unstable", "max_q"}
        assert sum(fp["by_n_unstable"].values()) == fp["count"]
        if fp["count"]:
            assert fp["max_q"] < 1e-10
    assert 0 < report["pca"]["cumulative_top3"] <= 1
    assert report["lyapunov"]["largest"] is not None
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 and "src='http" not in html and "src=\"http" not in html
    assert "rnnscopeStateSpace('state-space')" in html and "Plotly.newPlot" in html  # the interactive view
    for png in ("flow_field.png", "pca_variance.png"):
        assert (out / png).stat().st_size > 1000
    assert "fixed points" in capsys.readouterr().out


def test_analyse_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["analyse", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_analyse_a_formal_language_run_extracts_its_automaton(tmp_path):
    import json

    from rnnscope.runs import analyse_run, build_run_config, train_run

    config = build_run_config({"task": "parity", "model": {"kind": "gru", "hidden_size": 16},
                               "training": {"steps": 1500, "learning_rate": 1e-2, "batch_size": 128,
                                            "criterion": 0.999}, "task_params": {"max_length": 8}})
    run = tmp_path / "parity"
    train_run(config, run, progress=False)
    report = analyse_run(run, n_trials=32, n_candidates=32, lyapunov_steps=50, progress=False)
    saved = json.loads((run / "analysis" / "analysis.json").read_text())
    assert saved["automaton"]["n_states"] == report["automaton"]["n_states"] == 2
    assert saved["automaton"]["agreement"] >= 0.99 and saved["automaton"]["minimal_states"] == 2
    assert (run / "analysis" / "automaton.png").is_file() and (run / "analysis" / "automaton.npz").is_file()


def test_the_report_without_plotly_shows_the_static_figures_and_says_why(tiny_run, monkeypatch):
    from rnnscope.runs import _report, analyse_run

    monkeypatch.setattr(_report, "plotly_script", lambda: None)  # as on an install without the report extra
    report = analyse_run(tiny_run, n_trials=16, n_candidates=16, lyapunov_steps=50, progress=False)
    html = (tiny_run / "analysis" / "report.html").read_text()
    assert "<code>pip install 'rnnscope[report]'</code>" in html
    assert "Plotly.newPlot" not in html and "alt='state_space_zero_input.png'" in html
    # numbers for people: the largest Lyapunov exponent with 4 significant digits, the JSON keeps them all
    from rnnscope.runs._html import human

    largest = report["lyapunov"]["largest"]
    assert f"<th>largest</th><td>{human(largest)}</td>" in html
    assert len(repr(largest)) <= 8 or repr(largest) not in html


def test_the_flow_field_plane_holds_fixed_points_not_only_their_projections():
    """Issue 19: the plane of the top two PCs through the mean state of a 3-bit flip-flop cut only the
    central saddle. The plane chosen through the fixed points holds 9 of the cube's 27 points, of
    every kind: 4 memories, 2 edge saddles, 2 face saddles and the centre."""
    import torch

    from rnnscope.analysis import PCA
    from rnnscope.runs._report import _flow_plane

    class Points:  # what _flow_plane reads of a FixedPoints
        def __init__(self, states, n_unstable):
            self.states, self.n_unstable = states, n_unstable

        def __len__(self):
            return len(self.states)

    g = torch.Generator().manual_seed(0)
    frame = torch.linalg.qr(torch.randn(64, 3, generator=g, dtype=torch.float64))[0].T  # (3, 64)
    cube = torch.cartesian_prod(*[torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)] * 3)  # (27, 3)
    k = (cube == 0).sum(dim=1)  # corners 0, edges 1, faces 2, centre 3 unstable directions
    fixed = Points(cube @ frame + 0.3, k)
    states = torch.randn(4, 50, 64, generator=g, dtype=torch.float64)
    origin, basis, in_plane, text = _flow_plane(fixed, PCA(n_components=3).fit(states))
    assert int(in_plane.sum()) == 9 and sorted(set(k[in_plane].tolist())) == [0, 1, 2, 3]
    assert int((k[in_plane] == 0).sum()) == 4
    X = fixed.states[in_plane] - origin
    assert float((X - X @ basis.T @ basis).norm()) < 1e-9  # they lie in the plane
    assert "through the fixed points" in text
    # two attractors and the saddle between them (collinear): their line and the top PC across it
    line = Points(torch.stack([-frame[0], 0 * frame[0], frame[0]]), torch.tensor([0, 1, 0]))
    origin, basis, in_plane, text = _flow_plane(line, PCA(n_components=3).fit(states))
    assert bool(in_plane.all()) and abs(float(basis[0] @ frame[0])) > 0.999 and "line" in text
