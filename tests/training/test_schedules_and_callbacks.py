"""One way to configure training: learning-rate schedules and callbacks on the trainer, exact resume
with a schedule, and no global state left changed."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from rnnscope import ConfigError, RateRNN, Trainer, TrainingConfig, tasks
from rnnscope.training import Callback, learning_rate_at
from rnnscope.training._trainer import _flush_denormal_is_on


def _setup(**cfg):
    task = tasks.make("perceptual_decision")
    model = RateRNN(task.input_size, 16, task.output_size, tau=100.0, dt=task.dt, seed=0)
    base = dict(steps=20, batch_size=8, learning_rate=1e-2, eval_every=10, eval_batch_size=32,
                checkpoint_every=5, stop_at_criterion=False)
    base.update(cfg)
    return model, task, TrainingConfig(**base)


def test_schedules_are_functions_of_the_step():
    step = TrainingConfig(steps=100, learning_rate=1e-2, lr_schedule="step", final_learning_rate=1e-3, lr_drop_at=0.6)
    assert [learning_rate_at(step, s) for s in (0, 59, 60, 99)] == [1e-2, 1e-2, 1e-3, 1e-3]
    cos = TrainingConfig(steps=100, learning_rate=1e-2, lr_schedule="cosine")
    assert learning_rate_at(cos, 0) == pytest.approx(1e-2)
    assert learning_rate_at(cos, 50) == pytest.approx(5e-3)
    assert learning_rate_at(cos, 100) == pytest.approx(0.0, abs=1e-15)
    const = TrainingConfig(steps=100, learning_rate=3e-3)
    assert {learning_rate_at(const, s) for s in range(100)} == {3e-3}
    with pytest.raises(ConfigError, match="'final_learning_rate' parameter of TrainingConfig"):
        TrainingConfig(lr_schedule="step")
    with pytest.raises(ConfigError, match="'lr_schedule' parameter of TrainingConfig must be one of"):
        TrainingConfig(lr_schedule="exponential")


class _Recorder(Callback):
    def __init__(self):
        self.events = []
        self.rates = []

    def on_fit_start(self, trainer):
        self.events.append(("start", trainer.step))

    def on_step_end(self, trainer, loss):
        assert math.isfinite(loss)
        self.rates.append(trainer.optimizer.param_groups[0]["lr"])
        self.events.append(("step", trainer.step))

    def on_evaluation(self, trainer, scores):
        self.events.append(("eval", trainer.step, "performance" in scores))

    def on_checkpoint(self, trainer, path):
        self.events.append(("checkpoint", trainer.step, path.name))

    def on_fit_end(self, trainer, result):
        self.events.append(("end", result.steps))


def test_callbacks_see_every_step_evaluation_and_checkpoint_and_the_schedule(tmp_path):
    model, task, cfg = _setup(lr_schedule="step", final_learning_rate=1e-3, lr_drop_at=0.5)
    rec = _Recorder()
    Trainer(model, task, cfg, run_dir=tmp_path, progress=False, callbacks=[rec]).fit()
    assert rec.events[0] == ("start", 0) and rec.events[-1] == ("end", 20)
    assert [e[1] for e in rec.events if e[0] == "step"] == list(range(1, 21))
    assert [e[1] for e in rec.events if e[0] == "eval"] == [0, 10, 20]
    assert [e[1] for e in rec.events if e[0] == "checkpoint"] == [5, 10, 15, 20]
    assert rec.rates == [1e-2] * 10 + [1e-3] * 10
    with pytest.raises(ConfigError, match="'callbacks' parameter of Trainer must hold Callback objects"):
        Trainer(model, task, cfg, callbacks=[print])


def test_resume_with_a_schedule_equals_an_uninterrupted_run(tmp_path):
    kw = dict(lr_schedule="step", final_learning_rate=1e-3, lr_drop_at=0.5)
    a, task, cfg = _setup(**kw)
    Trainer(a, task, cfg, run_dir=tmp_path / "a", progress=False).fit()
    b, _, _ = _setup(**kw)
    Trainer(b, task, cfg, run_dir=tmp_path / "b", progress=False).fit(steps=5)  # cut before the drop
    c, _, _ = _setup(**kw)
    Trainer(c, task, cfg, run_dir=tmp_path / "b", progress=False).resume().fit()
    for (name, pa), pc in zip(a.state_dict().items(), c.state_dict().values()):
        assert torch.equal(pa, pc), name


def test_fit_leaves_no_global_state_changed():
    torch.set_flush_denormal(False)
    threads = torch.get_num_threads()
    model, task, cfg = _setup(steps=3)
    Trainer(model, task, cfg, progress=False).fit()
    assert not _flush_denormal_is_on()
    assert torch.get_num_threads() == threads
    torch.set_flush_denormal(True)
    try:
        Trainer(model, task, cfg, progress=False).fit()
        assert _flush_denormal_is_on()  # a user's own setting is kept too
    finally:
        torch.set_flush_denormal(False)


def test_rnnscope_train_prints_no_numpy_subnormal_warnings(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rnnscope.cli", "train", "flipflop", "--steps", "3", "--hidden-size",
                          "8", "--batch-size", "4", "--set", "training.eval_batch_size=8", "--out",
                          str(tmp_path / "run"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "subnormal" not in out.stderr, out.stderr
