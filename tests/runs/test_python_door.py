"""A Trainer built in Python writes the same run folder as ``rnnscope train``: the getting-started
workflow end to end (fit with a run_dir, load_run, ``rnnscope analyse``, ``rnnscope train --resume``),
a fresh fit that refuses to overwrite a checkpoint, and summaries that report the evaluation that
stopped the run."""

import json
import logging

import pytest
import torch

from rnnscope import RateRNN, Trainer, TrainingConfig, tasks
from rnnscope.cli import main
from rnnscope.errors import CheckpointError, ConfigError
from rnnscope.models import GRU, LSTM, ElmanRNN
from rnnscope.runs import build_run_config, load_run, read_run_config
from rnnscope.training import describe_run, load_checkpoint

TINY = TrainingConfig(steps=6, batch_size=8, eval_every=3, eval_batch_size=16, learning_rate=1e-2)


def test_getting_started_workflow_from_python_to_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    task = tasks.make("flipflop", n_bits=3)
    model = RateRNN(task.input_size, 16, task.output_size, tau=100.0, dt=task.dt, seed=0)
    result = Trainer(model, task, TINY, run_dir="runs/ff", progress=False).fit()
    for name in ("config.yaml", "checkpoint.safetensors", "metrics.jsonl", "summary.json"):
        assert (tmp_path / "runs/ff" / name).is_file(), name

    run = load_run("runs/ff")  # config, task and trained model back
    assert run.step == result.steps == 6 and run.config.task == "flipflop" and run.config.model.hidden_size == 16
    assert run.task == task
    for name, p in model.state_dict().items():
        assert torch.equal(run.model.state_dict()[name], p), name
    summary = json.loads((tmp_path / "runs/ff/summary.json").read_text())
    assert summary["steps"] == 6 and summary["performance"] == pytest.approx(result.performance)

    assert main(["analyse", "runs/ff", "--trials", "16", "--candidates", "32", "--no-progress"]) == 0
    assert (tmp_path / "runs/ff/analysis/analysis.json").is_file()
    assert main(["evaluate", "runs/ff", "--trials", "16"]) == 0
    assert main(["train", "--resume", "runs/ff", "--steps", "9", "--no-progress"]) == 0
    assert load_run("runs/ff").step == 9
    capsys.readouterr()


def test_a_fresh_fit_refuses_a_folder_with_a_checkpoint(tmp_path):
    task = tasks.make("flipflop")
    make = lambda seed: RateRNN(task.input_size, 8, task.output_size, dt=task.dt, seed=seed)  # noqa: E731
    Trainer(make(0), task, TINY, run_dir=tmp_path, progress=False).fit()
    before = (tmp_path / "checkpoint.safetensors").read_bytes()
    with pytest.raises(ConfigError, match=r"already holds a checkpoint \(step 6\).*resume"):
        Trainer(make(1), task, TINY, run_dir=tmp_path, progress=False).fit()
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    again = Trainer(make(1), task, TrainingConfig(**{**TINY.to_dict(), "steps": 9}), run_dir=tmp_path, progress=False)
    assert again.resume().fit().steps == 9  # resuming is the way on


@pytest.mark.parametrize("cls", [RateRNN, GRU, LSTM])
def test_a_described_run_reads_back_as_the_run_config_that_builds_it(cls):
    task = tasks.make("perceptual_decision")
    extra = {"rank": 2, "noise_std": 0.1} if cls is RateRNN else {}
    model = cls(task.input_size, 12, task.output_size, dt=task.dt, seed=3, **extra)
    data = describe_run(model, task, TINY)
    config = build_run_config(data, source="a description")
    rebuilt = config.model.build(task.input_size, task.output_size, task.dt, config.seed)
    assert type(rebuilt) is cls and rebuilt.config() == model.config()
    assert config.to_dict() == data  # the same sections and values, nothing filled in or dropped


def test_a_run_that_cannot_be_described_says_so(tmp_path, caplog):
    task = tasks.make("flipflop")
    model = ElmanRNN(task.input_size, 8, task.output_size, dt=task.dt, seed=0)
    with caplog.at_level(logging.INFO, logger="rnnscope"):
        Trainer(model, task, TINY, run_dir=tmp_path, progress=False).fit()
    assert "no config.yaml" in caplog.text and "ElmanRNN has no config_kind" in caplog.text
    assert (tmp_path / "checkpoint.safetensors").is_file() and not (tmp_path / "config.yaml").exists()
    with pytest.raises(CheckpointError, match="no config.yaml"):
        read_run_config(tmp_path)


def test_summary_reports_the_evaluation_that_stopped_the_run(tmp_path, capsys):
    """A run stopped at its criterion reports that evaluation (at or above the criterion), not the
    scores of another batch of trials."""
    out = tmp_path / "run"
    assert main(["train", "perceptual_decision", "--hidden-size", "16", "--batch-size", "16", "--steps", "60",
                 "--lr", "0.01", "--criterion", "0.6", "--set", "training.eval_every=5", "--set",
                 "training.eval_batch_size=64", "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in evals if "eval" in r][-1]
    assert summary["status"] == "criterion" and summary["steps"] == last["step"] < 60
    assert summary["performance"] == pytest.approx(last["eval"]["performance"])
    assert summary["performance"] >= summary["criterion"] == 0.6
    assert summary["evaluation"] == pytest.approx(last["eval"]) and summary["eval_trials"] == 64
    assert load_checkpoint(out / "checkpoint.safetensors").metadata["last_evaluation"] == pytest.approx(last["eval"])
    capsys.readouterr()


def test_default_criterion_evaluation_uses_enough_trials():
    """The standard error of a performance of 0.95 on the default held-out batch is below 0.01."""
    n = TrainingConfig().eval_batch_size
    assert (0.95 * 0.05 / n) ** 0.5 < 0.01
