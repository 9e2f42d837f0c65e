"""The multitask reproduction's training loop: checks, checkpoints, and going on where it stopped."""

import json

import torch

from rnnscope import RateRNN
from rnnscope.experiments.multitask import _read_log, paper_initialisation, train_multitask


def _model():
    return paper_initialisation(RateRNN(85, 16, 33, dt=20.0, tau=100.0, nonlinearity="softplus", noise_std=0.05,
                                        seed=3))


def test_paper_initialisation():
    m = _model()
    assert torch.equal(m.recurrent_weight, 0.5 * torch.eye(16))
    assert abs(m.input_weight.std().item() - 85**-0.5) < 0.02


def test_training_goes_on_from_its_checkpoint_as_if_never_stopped(tmp_path):
    records = []
    ckpt = tmp_path / "checkpoint.safetensors"
    _, by_task, history = train_multitask(_model(), steps_per_check=15, budget_s=1e9, seed=1, progress=False,
                                          max_checks=1, log=records.append, checkpoint=ckpt)
    assert ckpt.is_file() and len(history) == 1 and set(by_task) == set(history[0]["by_task"])
    assert len(by_task) == 20 and history[0]["step"] == 15 and history[0]["trials"] == 15 * 64
    resumed, _, more = train_multitask(_model(), steps_per_check=15, budget_s=1e9, seed=1, progress=False,
                                       max_checks=1, log=records.append, checkpoint=ckpt, resume=True,
                                       seconds_before=history[0]["seconds"])
    assert resumed.step == 30 and more[0]["seconds"] > history[0]["seconds"]
    straight, _, _ = train_multitask(_model(), steps_per_check=15, budget_s=1e9, seed=1, progress=False,
                                     max_checks=2)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    # the log the reproduction reads back
    path = tmp_path / "training_log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    back = _read_log(path)
    assert [r["step"] for r in back] == [15, 30] and not any(r["confirmed"] for r in back)
    assert _read_log(tmp_path / "missing.jsonl") == []
