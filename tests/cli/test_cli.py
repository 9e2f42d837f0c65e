"""End-to-end tests of the ``rnnscope`` command on tiny settings."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from rnnscope.cli import main
from rnnscope.runs import load_run
from rnnscope.training import load_checkpoint

TINY = ["--hidden-size", "16", "--batch-size", "8", "--set", "training.eval_batch_size=32", "--no-progress"]


def test_tasks_lists_every_task(capsys):
    from rnnscope.tasks import available

    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in available():
        assert name in out
    assert len(out.strip().splitlines()) == len(available())


def test_train_then_evaluate_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "perceptual_decision", "--steps", "20", "--out", str(out), *TINY]) == 0
    for name in ("config.yaml", "checkpoint.safetensors", "metrics.jsonl", "summary.json", "figures/trials.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert {"task", "steps", "loss", "performance"} <= set(summary)
    assert summary["task"] == "perceptual_decision" and 0 <= summary["performance"] <= 1
    assert summary["steps"] <= 20
    run = load_run(out)
    assert run.model.hidden_size == 16 and run.step == summary["steps"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--trials", "64"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 <= report["performance"] <= 1 and report["n_trials"] == 64


@pytest.mark.parametrize("kind, cls, state", [("gru", "GRU", 16), ("lstm", "LSTM", 32)])
def test_train_resume_evaluate_and_analyse_gated_networks(kind, cls, state, tmp_path, capsys):
    out = tmp_path / kind
    assert main(["train", "flipflop", "--model", kind, "--steps", "6", "--out", str(out),
                 "--set", "training.stop_at_criterion=false", "--checkpoint-every", "3", *TINY]) == 0
    run = load_run(out)
    assert type(run.model).__name__ == cls and run.model.hidden_size == state and run.step == 6
    assert run.config.model.kind == kind and json.loads((out / "summary.json").read_text())["model"] == kind
    assert main(["train", "--resume", str(out), "--steps", "9", "--no-progress"]) == 0
    assert load_run(out).step == 9
    assert main(["evaluate", str(out), "--trials", "16"]) == 0
    assert main(["analyse", str(out), "--trials", "16", "--candidates", "32", "--no-progress"]) == 0
    report = json.loads((out / "analysis" / "analysis.json").read_text())
    assert report["model"] == kind and report["lyapunov"]["units"] == "1/step"
    # settings of another kind of model are refused, naming the key
    capsys.readouterr()
    assert main(["train", "flipflop", "--model", kind, "--tau", "50", "--out", str(tmp_path / "x"), *TINY]) == 2
    assert f"model.tau. Accepted keys of 'model' (a '{kind}' model)" in capsys.readouterr().err


def test_config_file_and_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: perceptual_decision\nmodel:\n  hidden_size: 12\n  rank: 2\ntraining:\n  steps: 3\n")
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--steps", "4", "--no-progress",
                 "--set", "training.stop_at_criterion=false"]) == 0
    run = load_run(out)
    assert run.model.rank == 2 and run.model.hidden_size == 12 and run.step == 4
    assert run.config.model.kind == "rate"


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["train", "no_task"], "Unknown task 'no_task'. Available tasks:"),
        (["train", "perceptual_decision", "--tau", "-1"], r"'tau' parameter of RateRNN must be a float > 0"),
        (["train", "perceptual_decision", "--dt", "0"], "'dt' parameter"),
        (["train", "perceptual_decision", "--tau", "10"], "must be <= tau"),
        (["train", "perceptual_decision", "--hidden-size", "4", "--rank", "5"], r"'rank' parameter .* <= 4"),
        (["train", "perceptual_decision", "--set", "model.hiden=3"], r"Unknown key\(s\) model\.hiden"),
        (["evaluate", "/nonexistent/run"], "not a run folder"),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_code_2(argv, pattern, capsys, tmp_path):
    argv = [*argv, "--out", str(tmp_path / "r")] if argv[0] == "train" else argv
    assert main(argv) == 2
    err = capsys.readouterr().err
    import re

    assert re.search(pattern, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_malformed_yaml_and_corrupted_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: perceptual_decision\nmodel: [1, 2\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    out = tmp_path / "run"
    assert main(["train", "perceptual_decision", "--steps", "2", "--out", str(out), *TINY]) == 0
    ck = out / "checkpoint.safetensors"
    ck.write_bytes(ck.read_bytes()[:100])
    assert main(["evaluate", str(out)]) == 2
    assert "truncated or corrupted" in capsys.readouterr().err
    assert main(["train", "perceptual_decision", "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def _cli(*args):
    return [sys.executable, "-m", "rnnscope.cli", *args]


def test_resume_after_sigkill_gives_the_same_final_weights(tmp_path):
    common = ["perceptual_decision", "--steps", "300", "--checkpoint-every", "20", "--seed", "1", *TINY,
              "--set", "training.stop_at_criterion=false", "--set", "training.eval_every=100"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_cli("train", *common, "--out", str(full)), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_cli("train", *common, "--out", str(killed)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    metrics = killed / "metrics.jsonl"
    try:
        while time.time() < deadline:
            if metrics.exists() and any(json.loads(l).get("step", 0) >= 70 for l in metrics.read_text().splitlines() if l.endswith("}")):
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "summary.json").exists()
    step_at_kill = load_checkpoint(killed / "checkpoint.safetensors").step
    assert 60 <= step_at_kill < 300
    subprocess.run(_cli("train", "--resume", str(killed), "--no-progress"), check=True, env=env, capture_output=True)
    a = load_checkpoint(full / "checkpoint.safetensors")
    b = load_checkpoint(killed / "checkpoint.safetensors")
    assert a.step == b.step == 300
    for k in a.model_state:
        assert torch.equal(a.model_state[k], b.model_state[k]), k
    sa = json.loads((full / "summary.json").read_text())
    sb = json.loads((killed / "summary.json").read_text())
    assert sa["performance"] == sb["performance"] and sa["loss"] == sb["loss"]
