"""``rnnscope train TASK --seeds``: one ordinary run folder per seed, trained as one ensemble."""

import json

import pytest
import torch

from rnnscope.cli import main
from rnnscope.runs import load_run, parse_seeds
from rnnscope.errors import ConfigError

TINY = ["--hidden-size", "8", "--batch-size", "8", "--set", "training.eval_batch_size=16", "--set",
        "training.eval_every=3", "--set", "task_params.duration=150", "--no-progress"]


def test_seeds_write_one_run_folder_each_that_loads_and_resumes(tmp_path, capsys):
    out = tmp_path / "ens"
    assert main(["train", "flipflop", "--seeds", "0-1,5", "--steps", "6", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    for seed in (0, 1, 5):
        folder = out / f"seed-{seed}"
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["status"] == "max_steps" and summary["steps"] == 6 and summary["ensemble_size"] == 3
        assert f"seed {seed}: 6 steps" in printed
        run = load_run(folder)
        assert run.config.seed == seed and run.config.training.seed == seed and run.step == 6
        assert (folder / "figures" / "trials.png").is_file()
    assert main(["train", "--resume", str(out), "--steps", "9", "--no-progress"]) == 0
    assert all(load_run(out / f"seed-{s}").step == 9 for s in (0, 1, 5))
    # the folder of a seed is an ordinary run: it also resumes alone
    assert main(["train", "--resume", str(out / "seed-5"), "--steps", "10", "--no-progress"]) == 0
    assert load_run(out / "seed-5").step == 10


def test_gated_networks_train_one_seed_after_another(tmp_path):
    out = tmp_path / "gru"
    assert main(["train", "flipflop", "--model", "gru", "--seeds", "2,3", "--steps", "3", "--out", str(out), *TINY]) == 0
    weights = [load_run(out / f"seed-{s}").model.weight_hh for s in (2, 3)]
    assert not torch.equal(*weights)
    assert "ensemble_size" not in json.loads((out / "seed-2" / "summary.json").read_text())


@pytest.mark.parametrize("text, seeds", [("0-3", [0, 1, 2, 3]), ("4,1", [4, 1]), ("0-1,7", [0, 1, 7]), ("5", [5])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["3-1", "a", "1,,2", "0-2,2", "-1"])
def test_bad_seeds_are_one_clear_error(text, tmp_path, capsys):
    with pytest.raises(ConfigError):
        parse_seeds(text)
    assert main(["train", "flipflop", "--seeds", text, "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "error:" in capsys.readouterr().err
