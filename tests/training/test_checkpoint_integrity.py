"""Checkpoints and the trainer's files: a damaged, edited or foreign checkpoint is refused by name,
a failed write leaves the old file and no temporary one, the history is strict JSON and starts
afresh from step 0, and an interrupted fit saves the step it reached and resumes exactly."""

import errno
import json
import logging
import os

import pytest
import torch

from rnnscope import RateRNN, Trainer, TrainingConfig, tasks
from rnnscope.errors import CheckpointError, ConfigError, TrainingDivergedError, TrainingInterruptedError
from rnnscope.training import Callback, atomic_write_text, load_checkpoint, save_checkpoint, strict_json
from rnnscope.training import _checkpoint

CONFIG = TrainingConfig(steps=6, batch_size=4, eval_batch_size=8, eval_every=2, log_every=1, checkpoint_every=100,
                        stop_at_criterion=False)


def _trainer(run_dir=None, config=CONFIG, hidden=8, callbacks=()):
    task = tasks.make("flipflop", n_bits=1, duration=200.0)
    model = RateRNN(task.input_size, hidden, task.output_size, tau=100.0, dt=task.dt, seed=0)
    return Trainer(model, task, config, run_dir=run_dir, progress=False, callbacks=callbacks)


@pytest.fixture
def checkpoint(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.fit(steps=2)
    return tmp_path / "checkpoint.safetensors"


def _edit(key, value):
    def edit(meta):
        meta[key] = value
    return edit


def _edit_learning_rate(meta):
    meta["optimizer"]["param_groups"][0]["lr"] = 1.0


@pytest.mark.parametrize("edit, drop, pattern", [
    (_edit("step", 0), (), "do not match the checksum"),
    (_edit_learning_rate, (), "do not match the checksum"),
    (_edit("metadata", {"run_config": {"model": {"tau": 5.0}}}), (), "do not match the checksum"),
    (None, ("rnnscope_sha256",), "has no checksum, so it cannot be verified"),
    (None, ("rnnscope",), "not an rnnscope checkpoint: it is a safetensors file without rnnscope's metadata"),
    (_edit("format", "someone-else-1"), (), r"not an rnnscope checkpoint \(format 'someone-else-1'\)"),
], ids=["step edited", "learning rate edited", "run config edited", "no checksum", "another tool's file",
        "another format"])
def test_an_edited_damaged_or_foreign_checkpoint_is_refused(checkpoint, rewrite_checkpoint, edit, drop, pattern):
    load_checkpoint(checkpoint)  # it was fine
    rewrite_checkpoint(checkpoint, edit, drop)
    with pytest.raises(CheckpointError, match=pattern):
        load_checkpoint(checkpoint)


@pytest.mark.parametrize("cut", [0, 7, 100, -10])
def test_a_truncated_checkpoint_is_refused(checkpoint, cut):
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(checkpoint)


def test_a_checkpoint_of_the_first_format_is_still_read_and_verified(checkpoint, rewrite_checkpoint):
    from safetensors.torch import load

    tensors = load(checkpoint.read_bytes())

    def old(meta):  # format 1: the checksum of the tensors, inside the metadata
        meta.update(format="rnnscope-checkpoint-1", sha256=_checkpoint._digest(tensors, None))

    rewrite_checkpoint(checkpoint, old, ("rnnscope_sha256",))
    assert load_checkpoint(checkpoint).step == 2
    rewrite_checkpoint(checkpoint, lambda meta: meta.update(sha256="0" * 64))
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        load_checkpoint(checkpoint)


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    atomic_write_text(path, "old")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_checkpoint.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def _strict(text):
    def refuse(constant):
        raise ValueError(f"bare {constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_strict_json_writes_null_for_nan_and_infinity():
    value = {"a": float("nan"), "b": [1.0, float("inf"), -float("inf")], "c": (2, "x"), "d": torch.tensor(1.5).item()}
    assert _strict(strict_json(value)) == {"a": None, "b": [1.0, None, None], "c": [2, "x"], "d": 1.5}


def test_metrics_are_strict_json_when_the_scores_are_not_finite(tmp_path):
    trainer = _trainer(tmp_path)
    with torch.no_grad():
        trainer.model.output_weight.fill_(float("inf"))  # infinite outputs: an infinite loss
    with pytest.raises(TrainingDivergedError):
        trainer.fit()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [_strict(line) for line in lines]
    assert records[0]["eval"]["loss"] is None


def test_a_fit_from_step_0_starts_a_fresh_history_and_says_so(tmp_path, caplog):
    (tmp_path / "metrics.jsonl").write_text('{"step": 40, "loss": 0.1}\n{"step": 50, "lo')  # an earlier start
    with caplog.at_level(logging.INFO, logger="rnnscope"):
        _trainer(tmp_path).fit(steps=3)
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 1, 2, 2, 3, 3]  # one run: logs every step, evaluations at 0, 2 and the end
    assert "starts afresh" in caplog.text


@pytest.mark.parametrize("damage, pattern", [
    (lambda p: p.mkdir(), "is not a file"),
    (lambda p: p.write_bytes(b'{"step": 1}\n\xff\xfe\n'), r"is damaged: it is not UTF-8 text \(byte 12\)"),
])
def test_a_damaged_history_is_refused_before_anything_is_trained(tmp_path, damage, pattern):
    _trainer(tmp_path).fit(steps=2)
    metrics = tmp_path / "metrics.jsonl"
    os.remove(metrics)
    damage(metrics)
    ckpt = (tmp_path / "checkpoint.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match=pattern):
        _trainer(tmp_path).resume()
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == ckpt


def test_a_checkpoint_of_other_sizes_is_refused_by_resume(checkpoint):
    with pytest.raises(CheckpointError, match="does not fit this model and optimiser"):
        _trainer(hidden=9).resume(checkpoint)


class _InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, loss):
        if trainer.step == self.step:
            trainer.interrupt("SIGTERM")  # what a signal handler does: a flag, checked between steps


def test_an_interrupted_fit_saves_the_step_it_reached_and_resumes_exactly(tmp_path):
    whole = _trainer()
    whole.fit()
    with pytest.raises(TrainingInterruptedError, match=r"stopped at step 3 \(SIGTERM\)") as info:
        _trainer(tmp_path, callbacks=[_InterruptAt(3)]).fit()
    assert info.value.step == 3 and info.value.signal_name == "SIGTERM"
    assert load_checkpoint(tmp_path / "checkpoint.safetensors").step == 3  # no periodic one before step 100
    resumed = _trainer(tmp_path).resume()
    resumed.fit()
    assert resumed.step == whole.step == 6
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # one history, as if never interrupted


def test_divergence_does_not_promise_a_good_checkpoint_that_holds_nan(tmp_path):
    trainer = _trainer(tmp_path)
    with torch.no_grad():
        trainer.model.recurrent_weight.fill_(float("nan"))
    trainer.save_checkpoint()
    with pytest.raises(TrainingDivergedError, match="already holds NaN or infinite weights") as info:
        trainer.fit()
    assert "last good checkpoint" not in str(info.value)


@pytest.mark.parametrize("call, pattern", [
    (lambda t: t.fit(steps=-1), r"'steps' parameter of Trainer.fit must be an int >= 0. Got -1"),
    (lambda t: t.fit(steps=2.7), r"'steps' parameter of Trainer.fit must be an int >= 0. Got 2.7"),
    (lambda t: t.evaluate(batch_size=0), r"'batch_size' parameter of Trainer.evaluate must be an int >= 1"),
    (lambda t: t.evaluate(batch_size=4, seed=2**64), r"'seed' parameter of Trainer.evaluate"),
], ids=["steps=-1", "steps=2.7", "batch_size=0", "seed=2**64"])
def test_trainer_arguments_are_checked(call, pattern):
    trainer = _trainer()
    with pytest.raises(ConfigError, match=pattern):
        call(trainer)
    assert trainer.step == 0


def test_a_device_that_is_not_there_is_named():
    task = tasks.make("flipflop")
    model = RateRNN(task.input_size, 4, task.output_size, dt=task.dt)
    with pytest.raises(ConfigError, match=r"'device' parameter of Trainer .* Got 'banana'"):
        Trainer(model, task, CONFIG, device="banana")


def test_save_and_load_round_trip_with_non_finite_metadata(tmp_path):
    model = RateRNN(1, 3, 1)
    save_checkpoint(tmp_path / "c.safetensors", model, None, step=5, metadata={"score": float("nan")})
    ckpt = load_checkpoint(tmp_path / "c.safetensors")
    assert ckpt.step == 5 and ckpt.metadata == {"score": None}
