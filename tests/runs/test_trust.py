"""Run and fit folders kept whole: a folder whose config.yaml no longer describes its checkpoint, a
damaged folder and a folder in use are refused with nothing lost; an interrupted training saves its
step and says how to resume; results are printed before they are written; outputs are strict JSON."""

import contextlib
import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from rnnscope.cli import main
from rnnscope.data import NeuralData
from rnnscope.runs import load_run
from rnnscope.runs._guards import LOCK_NAME
from rnnscope.training import load_checkpoint, save_checkpoint


def _cli(*argv):
    """(exit code, stdout, stderr) of ``rnnscope ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def _refused(code, err, pattern):
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err


@pytest.fixture(scope="module")
def other_run(tmp_path_factory):
    """A run of the same shapes as ``tiny_run`` but another seed."""
    out = tmp_path_factory.mktemp("other") / "run"
    assert _cli("train", "flipflop", "--steps", "3", "--hidden-size", "8", "--batch-size", "4", "--seed", "1",
                "--set", "training.eval_batch_size=8", "--no-progress", "--out", out)[0] == 0
    return out


def _edit_tau(run, other):
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("tau: 100.0", "tau: 50.0"))
    return r"model\.tau is 50\.0 in config\.yaml but 100\.0 in the checkpoint"


def _edit_hidden_size(run, other):
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("hidden_size: 8", "hidden_size: 9"))
    return r"model\.hidden_size is 9 in config\.yaml but 8 in the checkpoint"


def _copy_other_checkpoint(run, other):
    (run / "checkpoint.safetensors").write_bytes((other / "checkpoint.safetensors").read_bytes())
    return r"seed is 0 in config\.yaml but 1 in the checkpoint"


COMMANDS = {"evaluate": ["evaluate", "{run}"], "analyse": ["analyse", "{run}", "--no-progress"],
            "resume": ["train", "--resume", "{run}", "--steps", "6", "--no-progress"]}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("mismatch", [_edit_tau, _edit_hidden_size, _copy_other_checkpoint],
                         ids=["tau edited", "hidden_size edited", "other run's checkpoint"])
def test_a_config_that_does_not_describe_the_checkpoint_is_refused(command, mismatch, tiny_run, other_run):
    pattern = mismatch(tiny_run, other_run)
    before = _snapshot(tiny_run)
    code, _, err = _cli(*[a.format(run=tiny_run) for a in COMMANDS[command]])
    _refused(code, err, pattern)
    assert _snapshot(tiny_run) == before  # config.yaml not rewritten, no metrics mixed, no analysis/


def test_more_steps_on_resume_is_not_a_mismatch(tiny_run):
    code, _, err = _cli("train", "--resume", tiny_run, "--steps", "5", "--no-progress")
    assert code == 0, err
    assert load_run(tiny_run).step == 5
    assert "steps: 5" in (tiny_run / "config.yaml").read_text()
    steps = [json.loads(line)["step"] for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 5


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_run_trained_on_a_gpu_is_read_on_a_machine_without_one(tiny_run):
    path = tiny_run / "config.yaml"
    path.write_text(path.read_text().replace("device: cpu", "device: cuda"))  # as written on a GPU machine
    assert _cli("evaluate", tiny_run, "--trials", "8")[0] == 0
    assert _cli("evaluate", tiny_run, "--trials", "8", "--device", "cpu")[0] == 0
    before = _snapshot(tiny_run)
    _refused(*_cli("train", "--resume", tiny_run, "--steps", "5", "--no-progress")[::2],
             r"'device' parameter of Trainer .* cuda is not available on this machine; .*or use 'cpu'")
    assert _snapshot(tiny_run) == before


def _edit_step(rewrite):
    return lambda run: rewrite(run / "checkpoint.safetensors", lambda meta: meta.update(step=1))


DAMAGE = {
    "checkpoint step edited": (lambda rw: _edit_step(rw), "do not match the checksum"),
    "checkpoint without checksum": (lambda rw: lambda run: rw(run / "checkpoint.safetensors", None, ("rnnscope_sha256",)),
                                    "has no checksum"),
    "another tool's safetensors": (lambda rw: lambda run: rw(run / "checkpoint.safetensors", None, ("rnnscope",)),
                                   "not an rnnscope checkpoint"),
    "truncated checkpoint": (lambda rw: lambda run: (run / "checkpoint.safetensors").write_bytes(
        (run / "checkpoint.safetensors").read_bytes()[:200]), "truncated or corrupted"),
    "config.yaml not UTF-8": (lambda rw: lambda run: (run / "config.yaml").write_bytes(
        (run / "config.yaml").read_bytes() + "# réglé\n".encode("latin-1")), "is not UTF-8 text"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_run_folder_is_refused_and_left_as_it_is(command, damage, tiny_run, rewrite_checkpoint):
    make, pattern = DAMAGE[damage]
    make(rewrite_checkpoint)(tiny_run)
    before = _snapshot(tiny_run)
    code, _, err = _cli(*[a.format(run=tiny_run) for a in COMMANDS[command]])
    _refused(code, err, pattern)
    assert _snapshot(tiny_run) == before  # a failed resume never rewrites config.yaml


@pytest.mark.parametrize("damage, pattern", [
    (lambda p: p.mkdir(), r"metrics\.jsonl is not a file"),
    (lambda p: p.write_bytes(b"\x89 not text\n"), r"metrics\.jsonl is damaged: it is not UTF-8"),
], ids=["a folder", "not UTF-8"])
def test_a_damaged_history_stops_resume_before_any_training(damage, pattern, tiny_run):
    (tiny_run / "metrics.jsonl").unlink()
    damage(tiny_run / "metrics.jsonl")
    before = _snapshot(tiny_run)
    _refused(*_cli("train", "--resume", tiny_run, "--steps", "6", "--no-progress")[::2], pattern)
    assert _snapshot(tiny_run) == before


@pytest.mark.parametrize("argv", [
    ["train", "--resume", "{run}", "--steps", "6", "--no-progress"],
    ["train", "flipflop", "--steps", "3", "--out", "{busy}", "--no-progress"],
    ["fit", "{data}", "--steps", "2", "--ranks", "1,2", "--out", "{busy}", "--no-progress"],
], ids=["resume", "train", "fit"])
def test_a_folder_in_use_is_refused_and_left_as_it_is(argv, tiny_run, tmp_path):
    data, busy = tmp_path / "d.npz", tmp_path / "busy"  # busy: a folder another process just started to fill
    NeuralData.from_arrays(np.random.default_rng(0).normal(size=(10, 6, 3)), dt=10.0).save(data)
    folder = tiny_run if "{run}" in argv else busy
    with _locked_by_another_process(folder) as pid:
        before = _snapshot(folder)
        code, _, err = _cli(*[a.format(run=tiny_run, data=data, busy=busy) for a in argv])
        after = _snapshot(folder)
    _refused(code, err, rf"is in use by another rnnscope process \(pid {pid}\)")
    assert after == before


@contextlib.contextmanager
def _locked_by_another_process(folder):
    """A second process holds the folder's lock (as folder_lock takes it) while the block runs; yields its pid."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from rnnscope.runs._guards import folder_lock\n"
        f"with folder_lock(Path({str(folder)!r})):\n"
        "    print('locked', flush=True); time.sleep(120)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_lock_left_by_a_killed_process_does_not_block(tiny_run):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(tiny_run / LOCK_NAME)!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('locked', flush=True); time.sleep(120)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert _cli("evaluate", tiny_run)[0] == 0  # reading needs no lock
        _refused(*_cli("train", "--resume", tiny_run, "--no-progress")[::2], "in use")
        holder.kill()  # kill -9: the lock dies with its process
        holder.wait()
        code, _, err = _cli("train", "--resume", tiny_run, "--steps", "4", "--no-progress")
        assert code == 0, err
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_two_trainings_into_one_folder_do_not_mix(tmp_path, tiny_training):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "rnnscope.cli", "train", "flipflop", *tiny_training, "--steps", "40",
            "--set", "training.log_every=1", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = sorted((p.wait(), p.stderr.read()) for p in procs)
    for p in procs:
        p.stderr.close()
    assert [code for code, _ in results] == [0, 2], results
    assert re.search(r"is in use by another rnnscope process|already holds a run", results[1][1]), results[1][1]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps.count(0) == 1 and steps[-1] == 40  # one run's history
    assert load_checkpoint(out / "checkpoint.safetensors").step == 40


def test_a_start_from_step_0_replaces_an_old_history_and_says_so(tiny_run):
    (tiny_run / "checkpoint.safetensors").unlink()  # killed before its first checkpoint
    with open(tiny_run / "metrics.jsonl", "a") as f:
        f.write('{"step": 99, "loss": 1.0}\n')
    code, _, err = _cli("train", "--resume", tiny_run, "--no-progress")
    assert code == 0, err
    assert re.search(r"metrics\.jsonl held the history of an earlier start from step 0; it starts afresh", err)
    steps = [json.loads(line)["step"] for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 3]  # the evaluations of this start only


def test_a_fit_started_again_replaces_the_history_of_the_killed_one(tmp_path):
    data = tmp_path / "d.npz"
    NeuralData.from_arrays(np.random.default_rng(0).normal(size=(10, 6, 3)), dt=10.0).save(data)
    (tmp_path / "fit" / "rank_1").mkdir(parents=True)  # a fit killed while training rank 1
    (tmp_path / "fit" / "rank_1" / "metrics.jsonl").write_text('{"step": 70, "loss": 0.5}\n')
    code, _, err = _cli("fit", data, "--ranks", "1", "--steps", "2", "--out", tmp_path / "fit", "--no-progress")
    assert code == 0, err
    assert "starts afresh" in err
    lines = (tmp_path / "fit" / "rank_1" / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(line)["step"] <= 2 for line in lines)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["Ctrl-C", "SIGTERM"])
def test_a_signal_stops_training_with_a_checkpoint_and_says_resume(sig, code, tmp_path, tiny_training):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "rnnscope.cli", "train", "flipflop", *tiny_training, "--steps", "100000",
            "--set", "training.log_every=1", "--checkpoint-every", "100000", "--out", str(out)]
    proc = subprocess.Popen(argv, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not _logged_step(out / "metrics.jsonl", 20):
            time.sleep(0.05)
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == code
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    last = err.strip().splitlines()[-1]
    step = load_checkpoint(out / "checkpoint.safetensors").step  # no periodic checkpoint before step 100000
    assert step >= 20
    assert f"Training stopped at step {step} ({sig.name})" in last
    assert last.endswith(f"Continue with: rnnscope train --resume {out}"), last
    assert "Traceback" not in err
    code, _, err = _cli("train", "--resume", out, "--steps", step + 2, "--no-progress")
    assert code == 0, err
    assert load_run(out).step == step + 2


def _logged_step(metrics, step):
    if not metrics.exists():
        return False
    return any(json.loads(line).get("step", 0) >= step for line in metrics.read_text().splitlines() if line.endswith("}"))


def test_evaluate_prints_its_scores_before_a_full_disk_loses_them(tiny_run, monkeypatch):
    from rnnscope.runs import _folders

    def full_disk(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(_folders, "atomic_write_text", full_disk)
    code, out, err = _cli("evaluate", tiny_run, "--trials", "16")
    assert code == 1  # a failure during the work, not bad input
    assert json.loads(out)["n_trials"] == 16
    assert len(err.strip().splitlines()) == 1 and "No space left on device" in err


def test_analyse_refuses_a_run_whose_weights_are_nan(tiny_run):
    run = load_run(tiny_run)
    ckpt = load_checkpoint(tiny_run / "checkpoint.safetensors")
    run.model.recurrent_weight.data.fill_(float("nan"))
    save_checkpoint(tiny_run / "checkpoint.safetensors", run.model, None, step=run.step, metadata=ckpt.metadata)
    code, _, err = _cli("analyse", tiny_run, "--no-progress")
    _refused(code, err, r"'run_dir' parameter of analyse_run must hold finite weights\. Got NaN or infinite values "
                        r"in recurrent_weight")
    assert not (tiny_run / "analysis").exists()


def test_a_diverged_training_exits_1(tmp_path, tiny_training):
    code, _, err = _cli("train", "flipflop", *tiny_training, "--lr", "1e30", "--out", tmp_path / "run")
    assert code == 1
    assert re.search(r"error: The training loss became (nan|inf)", err.strip().splitlines()[-1]), err
    summary = (tmp_path / "run" / "summary.json").read_text()
    assert json.loads(summary)["status"] == "diverged"


def test_compare_writes_strict_json(tmp_path):
    rng = np.random.default_rng(0)
    for name in "ab":
        NeuralData.from_arrays(rng.normal(size=(8, 6, 4)), dt=10.0).save(tmp_path / f"{name}.npz")
    code, _, err = _cli("compare", tmp_path / "a.npz", tmp_path / "b.npz", "--permutations", "0", "--out", tmp_path)
    assert code == 0, err

    def refuse(constant):
        raise ValueError(constant)

    report = json.loads((tmp_path / "compare.json").read_text(), parse_constant=refuse)
    assert report["results"]["cca"]["p_value"] is None  # no permutation: no p-value, written as null


def test_a_refused_reproduction_leaves_no_empty_folder(tmp_path, monkeypatch):
    from rnnscope import experiments
    from rnnscope.errors import ConfigError
    from rnnscope.experiments import _registry

    experiments.available()  # the catalogue is loaded

    def refuses(out, *, quick, seed, progress):
        raise ConfigError("The 'n' parameter of refuses must be an int >= 1. Got 0 instead.")

    monkeypatch.setitem(_registry._REGISTRY, "refuses", _registry._Entry(refuses, "refuses", "nobody"))
    code, _, err = _cli("reproduce", "refuses", "--out", tmp_path / "rep")
    assert code == 2 and "error: The 'n' parameter of refuses" in err.strip().splitlines()[-1], err
    assert not (tmp_path / "rep").exists()


def test_ctrl_c_stops_an_ensemble_with_every_member_checkpointed(tmp_path, tiny_training):
    out = tmp_path / "seeds"
    argv = [sys.executable, "-m", "rnnscope.cli", "train", "flipflop", *tiny_training, "--seeds", "0-1",
            "--steps", "100000", "--set", "training.log_every=1", "--checkpoint-every", "100000", "--out", str(out)]
    proc = subprocess.Popen(argv, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not _logged_step(out / "seed-1" / "metrics.jsonl", 10):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    steps = {load_checkpoint(out / f"seed-{s}" / "checkpoint.safetensors").step for s in (0, 1)}
    assert len(steps) == 1 and min(steps) >= 10  # both members at the step the ensemble reached
    step = steps.pop()
    last = err.strip().splitlines()[-1]
    assert f"stopped at step {step} (SIGINT)" in last and last.endswith(f"rnnscope train --resume {out}"), last
    assert "Traceback" not in err
    code, _, err = _cli("train", "--resume", out, "--steps", step + 2, "--no-progress")
    assert code == 0, err
    assert {load_run(out / f"seed-{s}").step for s in (0, 1)} == {step + 2}
