"""From an NWB file to a fitted network: stimuli from trial columns reach the network, the noise ceiling
is what the true rates score, a good fit reaches it on condition averages (not on single trials), and
``rnnscope fit`` gives the numbers Python gives."""

from __future__ import annotations

import json
import re

import pytest
import torch

from _spiking_nwb import write_spiking_nwb
from rnnscope.cli import main
from rnnscope.data import condition_average_r2, r2_noise_ceiling, read_nwb, select_rank, variance_explained
from rnnscope.runs import fit_table

pytest.importorskip("pynwb")

READ = dict(bin_ms=50.0, inputs=["coherence"], input_window=("stim_on", "stim_off"), conditions=["coherence"])
FIT = dict(conditions=["coherence"], test_fraction=0.5, steps=150, progress=False)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """160 trials (40 per coherence -0.4, -0.2, 0.2, 0.4) of 12 Poisson units, 1 s each."""
    return write_spiking_nwb(tmp_path_factory.mktemp("nwb") / "session.nwb")


def test_the_noise_ceiling_is_what_the_true_rates_score(session):
    data = read_nwb(session.path, **READ)
    truth = torch.tensor(session.expected_counts(0.05))
    ceiling = r2_noise_ceiling(data, "coherence")
    # the expected counts are the best any model can predict; the ceiling estimates their R^2 from the data alone
    assert ceiling.single_trial == pytest.approx(variance_explained(truth, data.activity.double()), abs=0.015)
    assert ceiling.condition_average == pytest.approx(condition_average_r2(truth, data, "coherence"), abs=0.03)
    # spike counts: little of a single trial is explainable, most of the condition averages is
    assert ceiling.single_trial < 0.25 and ceiling.condition_average > 0.7


def test_inputs_from_a_trial_column_reach_the_network(session):
    data = read_nwb(session.path, **READ)
    assert data.input_names == ("coherence",)
    # the coherence of each trial, on while the bin centre lies between stim_on and stim_off (225..775 ms)
    assert data.inputs[:, :, 0].ne(0).any(dim=0).nonzero()[:, 0].tolist() == list(range(4, 16))
    assert torch.allclose(data.inputs[:, 5, 0].double(), torch.as_tensor(session.coherence))
    seen = select_rank(data, [1], **FIT)
    blind = select_rank(read_nwb(session.path, bin_ms=50.0, conditions=["coherence"]), [1], **FIT)
    assert seen.best.model.input_size == 1 and blind.best.model.input_size == 0
    assert seen.r2_test_single_trial[0] > blind.r2_test_single_trial[0] + 0.05
    assert seen.r2_test_condition_average[0] > 0.5 > 0.05 > blind.r2_test_condition_average[0]


@pytest.mark.parametrize("target", ["single-trial", "condition-average"])
def test_a_good_fit_reaches_the_ceiling_on_condition_averages_not_on_single_trials(session, target):
    data = read_nwb(session.path, **READ)
    sel = select_rank(data, [1], target=target, **FIT)
    ceiling = sel.noise_ceiling
    single, averaged = sel.r2_test_single_trial[0], sel.r2_test_condition_average[0]
    assert single < 0.2 and averaged > 0.6
    # ... and both are most of what is explainable
    assert ceiling.fraction(averaged, "condition-average") > 0.9
    assert ceiling.fraction(single, "single-trial") > 0.85
    assert sel.r2_test == [single if target == "single-trial" else averaged]
    if target == "single-trial":
        # the SVD reference holds more variance than the ceiling allows any prediction: it is no prediction
        assert sel.svd_variance_captured[0] > ceiling.single_trial + 0.02


def _cli_and_python(session, tmp_path, capsys, cli_args, read, fit, smooth_ms=None):
    out = tmp_path / "fit"
    argv = ["fit", str(session.path), "--bin-ms", "50", "--ranks", "1,2", "--steps", "30", "--hidden-size", "8",
            "--test-fraction", "0.5", "--seed", "3", "--out", str(out), "--no-progress", *cli_args]
    assert main(argv) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    data = read_nwb(session.path, bin_ms=50.0, **read)
    if smooth_ms is not None:
        data = data.smooth(smooth_ms)
    sel = select_rank(data, [1, 2], test_fraction=0.5, hidden_size=8, steps=30, seed=3, progress=False, **fit)
    expected = json.loads(json.dumps(sel.to_dict()))
    assert {k: summary[k] for k in expected} == expected
    assert fit_table(summary) in text
    return summary, text


def test_command_line_and_python_give_the_same_numbers(session, tmp_path, capsys):
    summary, text = _cli_and_python(
        session, tmp_path, capsys, ["--inputs", "coherence", "--input-window", "stim_on", "stim_off"],
        read=dict(inputs=["coherence"], input_window=("stim_on", "stim_off")), fit=dict(conditions=["coherence"]))
    # the trial column given as input groups the trials when --conditions is not given
    assert summary["conditions"] == ["coherence"] and summary["n_inputs"] == 1 and summary["notices"] == []
    assert summary["noise_ceiling"]["n_conditions"] == 4
    for words in ("R2 test single-trial", "R2 test cond-avg", "noise ceiling", "of the ceiling", "SVD captured",
                  "not a prediction"):
        assert words in text


def test_command_line_reading_options_and_condition_average_target(session, tmp_path, capsys):
    summary, _ = _cli_and_python(
        session, tmp_path, capsys,
        ["--inputs", "coherence", "--conditions", "coherence", "--align", "stim_on", "--window-ms", "-200", "600",
         "--rates", "--smooth-ms", "25", "--target", "condition-average"],
        read=dict(inputs=["coherence"], conditions=["coherence"], align="stim_on", window_ms=(-200, 600), rates=True),
        fit=dict(conditions=["coherence"], target="condition-average"), smooth_ms=25.0)
    assert summary["target"] == "condition-average" and summary["dt"] == 50.0
    config = (tmp_path / "fit" / "config.yaml").read_text()
    for line in ("target: condition-average", "align: stim_on", "rates: true", "smooth_ms: 25.0"):
        assert line in config


def test_without_inputs_the_command_says_so_once(session, tmp_path, capsys):
    common = [str(session.path), "--bin-ms", "50", "--ranks", "1", "--steps", "3", "--no-progress"]
    assert main(["fit", *common, "--out", str(tmp_path / "blind")]) == 0
    err = capsys.readouterr().err
    assert err.count("note:") == 1, err
    assert "no inputs" in err and "--inputs" in err and "coherence, stim_on, stim_off" in err
    summary = json.loads((tmp_path / "blind" / "summary.json").read_text())
    assert summary["n_inputs"] == 0 and len(summary["notices"]) == 1
    assert main(["fit", *common, "--inputs", "coherence", "--out", str(tmp_path / "seen")]) == 0
    assert "note:" not in capsys.readouterr().err


@pytest.mark.parametrize("extra, pattern", [
    (["--inputs", "colour"], r"no TimeSeries 'colour' \(the 'inputs' parameter\).*trial-table column.*coherence"),
    (["--target", "condition-average"], "--target condition-average .* --conditions"),
    (["--conditions", "choice"], "'conditions' parameter .* names 'choice'"),
    (["--window-ms", "300", "100"], "'window_ms'"),
])
def test_bad_reading_options_give_one_clear_line(session, tmp_path, capsys, extra, pattern):
    out = tmp_path / "fit"
    assert main(["fit", str(session.path), "--bin-ms", "50", "--ranks", "1", "--steps", "2", "--out", str(out),
                 "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(pattern, err), err
    assert not (out / "config.yaml").exists()
