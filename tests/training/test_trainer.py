"""The trainer: learning, determinism, resume, checkpoints, divergence, losses."""

import math

import pytest
import torch

from rnnscope import CheckpointError, ConfigError, RateRNN, Trainer, TrainingConfig, TrainingDivergedError, tasks
from rnnscope.training import load_checkpoint, masked_cross_entropy, masked_mse, save_checkpoint


def _setup(**cfg):
    task = tasks.make("perceptual_decision")
    model = RateRNN(task.input_size, 32, task.output_size, tau=100.0, dt=task.dt, seed=0)
    base = dict(steps=30, batch_size=16, learning_rate=3e-3, eval_every=10, eval_batch_size=64,
                checkpoint_every=10, stop_at_criterion=False)
    base.update(cfg)
    return model, task, TrainingConfig(**base)


def test_training_reduces_the_loss_and_reaches_the_decision_criterion():
    model, task, cfg = _setup(steps=300, stop_at_criterion=True)
    trainer = Trainer(model, task, cfg, progress=False)
    before = trainer.evaluate()
    result = trainer.fit()
    assert result.stopped == "criterion"
    assert result.performance >= 0.9
    assert trainer.evaluate()["loss"] < before["loss"]


def test_same_seed_same_weights_and_resume_equals_uninterrupted(tmp_path):
    model_a, task, cfg = _setup()
    Trainer(model_a, task, cfg, run_dir=tmp_path / "a", progress=False).fit()
    model_b, _, _ = _setup()
    tb = Trainer(model_b, task, cfg, run_dir=tmp_path / "b", progress=False)
    tb.fit(steps=20)  # an interruption after the checkpoint of step 20
    model_c, _, _ = _setup()
    tc = Trainer(model_c, task, cfg, run_dir=tmp_path / "b", progress=False).resume()
    assert tc.step == 20
    tc.fit()
    for (name, pa), pc in zip(model_a.state_dict().items(), model_c.state_dict().values()):
        assert torch.equal(pa, pc), name
    steps = [r["step"] for r in tc.history if "loss" in r and "eval" not in r]
    assert steps == sorted(set(steps))  # the metrics read as one uninterrupted run


def test_checkpoint_roundtrip_and_damage_detection(tmp_path):
    model, task, cfg = _setup(steps=5)
    trainer = Trainer(model, task, cfg, run_dir=tmp_path, progress=False)
    trainer.fit()
    path = tmp_path / "checkpoint.safetensors"
    ck = load_checkpoint(path)
    assert ck.step == 5 and ck.metadata["training_config"]["steps"] == 5
    for k, v in model.state_dict().items():
        assert torch.equal(ck.model_state[k], v)
    assert ck.optimizer_state is not None and len(ck.optimizer_state["state"]) > 0
    data = path.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(tmp_path / "truncated.safetensors")
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF  # a byte inside the tensor data
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(tmp_path / "flipped.safetensors")
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "garbage.safetensors")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model, task, cfg = _setup(steps=1)
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, None, step=1)
    good = path.read_bytes()
    import rnnscope.training._checkpoint as ckmod

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ckmod.os, "replace", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, model, None, step=2)
    assert path.read_bytes() == good  # the old checkpoint is intact


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    model, task, cfg = _setup(steps=40)
    trainer = Trainer(model, task, cfg, run_dir=tmp_path, progress=False)
    trainer.fit(steps=10)
    with torch.no_grad():
        model.input_weight.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"became nan at step 11.*last good checkpoint \(step 10\).*learning_rate"):
        trainer.fit()
    ck = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert ck.step == 10 and all(torch.isfinite(v).all() for v in ck.model_state.values())


def test_frozen_groups_do_not_change():
    task = tasks.make("perceptual_decision")
    model = RateRNN(2, 16, 1, dt=task.dt, frozen=("input", "output"), seed=0)
    w_in, w_out, w_rec = model.input_weight.clone(), model.output_weight.clone(), model.recurrent_weight.clone()
    Trainer(model, task, TrainingConfig(steps=3, batch_size=8, eval_batch_size=8, stop_at_criterion=False), progress=False).fit()
    assert torch.equal(model.input_weight, w_in) and torch.equal(model.output_weight, w_out)
    assert not torch.equal(model.recurrent_weight, w_rec)
    model.freeze("recurrent", "bias")
    with pytest.raises(ConfigError, match="nothing to train"):
        Trainer(model, task, progress=False)


def test_regularisers_add_to_the_loss():
    model, task, cfg = _setup()
    batch = task.sample(8, seed=0)
    plain = Trainer(model, task, cfg, progress=False)
    reg = Trainer(model, task, TrainingConfig(rate_l2=1.0, weight_l2=1.0), progress=False)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    t0, l0 = plain.loss(batch, g())
    t1, l1 = reg.loss(batch, g())
    assert torch.isclose(l0, l1) and t1 > t0 + model.recurrent_weight.pow(2).mean() * 0.99


def test_mismatched_model_and_task_are_refused():
    task = tasks.make("perceptual_decision")
    with pytest.raises(ConfigError, match="needs input_size=2, output_size=1"):
        Trainer(RateRNN(3, 8, 1, dt=20.0), task)
    with pytest.raises(ConfigError, match="dt"):
        Trainer(RateRNN(2, 8, 1, dt=10.0), task)


def test_masked_losses():
    out = torch.tensor([[[1.0], [3.0]]])
    tgt = torch.tensor([[[0.0], [0.0]]])
    mask = torch.tensor([[[1.0], [0.0]]])
    assert masked_mse(out, tgt, mask).item() == pytest.approx(1.0)
    logits = torch.tensor([[[2.0, 0.0], [0.0, 5.0]]])
    onehot = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    m = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    assert masked_cross_entropy(logits, onehot, m).item() == pytest.approx(math.log(1 + math.exp(-2.0)))


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"steps": -1}, "'steps' parameter of TrainingConfig"),
        ({"learning_rate": 0}, "'learning_rate'"),
        ({"optimizer": "lbfgs"}, "'optimizer'"),
        ({"loss": "l1"}, "'loss'"),
        ({"criterion": 1.5}, "'criterion'"),
    ],
)
def test_training_config_validation(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        TrainingConfig(**kwargs)
