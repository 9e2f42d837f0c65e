"""Every registered reproduction runs in its short version and passes its own checks."""

import json

import pytest

from rnnscope import experiments
from rnnscope.cli import main
from rnnscope.errors import ConfigError
from rnnscope.experiments import Check


#: numbers a reproduction's result.json must hold (its issue names them)
REQUIRED_NUMBERS = {"universality": {"stable_points_by_network", "cca_within", "cca_between"},
                    "grid-cells": {"decoding_error_cm", "fraction_grid_score60_above_0.3"},
                    "temporal-scaling": {"relative_speed_vs_inverse_interval_r",
                                         "fraction_units_scaling_better_than_shifting"},
                    "multitask": {"performance_by_task", "n_clusters", "training_seconds"}}


def test_check_compares_within_tolerance():
    assert Check("a", 1.04, 1.0, 0.05, relative=True).passed
    assert not Check("a", 1.06, 1.0, 0.05, relative=True).passed
    assert Check("b", -0.01, 0.0, 0.02).passed
    assert not Check("c", float("nan"), 0.0, 1.0).passed
    assert "FAILED" in Check("d", 2.0, 1.0, 0.1).line()


def test_unknown_reproduction_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="Unknown reproduction 'nope'"):
        experiments.run("nope", tmp_path)
    assert main(["reproduce", "nope", "--out", str(tmp_path)]) == 2
    assert "Unknown reproduction" in capsys.readouterr().err


def test_reproduce_without_a_name_lists_them(capsys):
    assert main(["reproduce"]) == 0
    out = capsys.readouterr().out
    for name in experiments.available():
        assert name in out


@pytest.mark.parametrize("name", experiments.available())
def test_short_version_runs_and_passes(name, tmp_path):
    result = experiments.run(name, tmp_path, quick=True, seed=0, progress=False)
    assert result.checks, "a reproduction must compare at least one number with a reference"
    failed = [c.line() for c in result.checks if not c.passed]
    assert not failed, failed
    for fig in result.figures:
        assert fig.is_file() and fig.stat().st_size > 0
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["passed"] and saved["name"] == name
    assert REQUIRED_NUMBERS.get(name, set()) <= set(saved["numbers"])
