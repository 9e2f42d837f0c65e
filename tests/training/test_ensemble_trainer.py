"""EnsembleTrainer: each member trains exactly as the single run with its seed."""

import json
import math

import pytest
import torch

from rnnscope import ConfigError, RateRNN, Trainer, TrainingConfig, tasks
from rnnscope.errors import CheckpointError
from rnnscope.models import RateEnsemble
from rnnscope.training import EnsembleTrainer, derive_seed, load_checkpoint

SEEDS = (3, 0, 7)


def _config(seed, **kw):
    base = dict(steps=12, batch_size=8, learning_rate=1e-2, eval_every=4, eval_batch_size=16, checkpoint_every=4,
                stop_at_criterion=False)
    return TrainingConfig(**{**base, **kw, "seed": seed})


def _flipflop():
    return tasks.make("flipflop", duration=150.0)


def _ensemble(task, seeds=SEEDS, hidden=10):
    return RateEnsemble([RateRNN(task.input_size, hidden, task.output_size, dt=task.dt, seed=s) for s in seeds])


def _recorder(monkeypatch, task):
    """Record every batch the task draws: (seed, inputs)."""
    calls = []
    original = type(task).sample

    def sample(self, batch_size, seed=None, generator=None):
        batch = original(self, batch_size, seed=seed, generator=generator)
        calls.append((seed, batch.inputs.clone()))
        return batch

    monkeypatch.setattr(type(task), "sample", sample)
    return calls


def test_initial_weights_batches_and_training_are_those_of_the_single_runs(monkeypatch):
    task = _flipflop()
    calls = _recorder(monkeypatch, task)
    kw = dict(grad_clip=0.05, rate_l2=1e-3, weight_l2=1e-3)  # clipping active at every step
    ensemble = _ensemble(task)
    for k, s in enumerate(SEEDS):  # the initial weights: those of RateRNN(seed=s)
        alone = RateRNN(task.input_size, 10, task.output_size, dt=task.dt, seed=s)
        for name, value in alone.state_dict().items():
            assert torch.equal(ensemble.member_state_dict(k)[name], value), name
    trainer = EnsembleTrainer(ensemble, task, [_config(s, **kw) for s in SEEDS], progress=False)
    results = trainer.fit()
    drawn = {seed: inputs for seed, inputs in calls}
    for k, s in enumerate(SEEDS):
        calls.clear()
        model = RateRNN(task.input_size, 10, task.output_size, dt=task.dt, seed=s)
        single = Trainer(model, task, _config(s, **kw), progress=False)
        result = single.fit()
        # every batch of the single run, drawn with the same seed, went to this member
        batch_seeds = [seed for seed, _ in calls if seed in {derive_seed(s, "batch", i) for i in range(12)}]
        assert len(batch_seeds) == 12
        for seed, inputs in calls:
            assert torch.equal(drawn[seed], inputs)
        assert results[k].steps == result.steps == 12
        assert math.isclose(results[k].loss, result.loss, rel_tol=1e-4)
        losses = [r["eval"]["loss"] for r in result.history if "eval" in r]
        assert [r["eval"]["loss"] for r in results[k].history if "eval" in r] == pytest.approx(losses, rel=1e-4)
        for name, value in model.state_dict().items():
            torch.testing.assert_close(trainer.member(k).state_dict()[name], value, rtol=1e-4, atol=1e-5)


def test_each_member_stops_at_its_own_criterion_and_leaves_the_ensemble():
    task = _flipflop()
    kw = dict(steps=40, eval_every=2, stop_at_criterion=True, criterion=0.55)
    trainer = EnsembleTrainer(_ensemble(task), task, [_config(s, **kw) for s in SEEDS], progress=False)
    results = trainer.fit()
    singles = []
    for s in SEEDS:
        single = Trainer(RateRNN(task.input_size, 10, task.output_size, dt=task.dt, seed=s), task,
                         _config(s, **kw), progress=False)
        singles.append(single.fit())
    assert [r.steps for r in results] == [r.steps for r in singles]
    assert [r.stopped for r in results] == [r.stopped for r in singles]
    assert len({r.steps for r in results}) > 1, "the members should stop at different steps"
    assert trainer.active == []


def test_resume_repeats_the_uninterrupted_ensemble_and_a_member_folder_resumes_alone(tmp_path):
    task = _flipflop()
    configs = [_config(s) for s in SEEDS]
    whole = EnsembleTrainer(_ensemble(task), task, configs, run_dirs=[tmp_path / "a" / str(s) for s in SEEDS],
                            progress=False)
    whole.fit()
    cut = EnsembleTrainer(_ensemble(task), task, configs, run_dirs=[tmp_path / "b" / str(s) for s in SEEDS],
                          progress=False)
    cut.fit(steps=6)  # interrupted after the checkpoint of step 4... and two more steps
    again = EnsembleTrainer(_ensemble(task), task, configs, run_dirs=[tmp_path / "b" / str(s) for s in SEEDS],
                            progress=False).resume()
    assert again.step == 6  # fit(steps=6) ends with a checkpoint at 6
    again.fit()
    for k in range(len(SEEDS)):
        for name, value in whole.member(k).state_dict().items():
            assert torch.equal(again.member(k).state_dict()[name], value), name
    def records(path):
        return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in path.read_text().splitlines()]

    got, want = records(tmp_path / "b" / "0" / "metrics.jsonl"), records(tmp_path / "a" / "0" / "metrics.jsonl")
    assert [r for r in got if r["step"] != 6] == want  # fit(steps=6) also evaluated at its end
    # a member's folder holds a single run's checkpoint: a plain Trainer continues it
    ck = load_checkpoint(tmp_path / "b" / "7" / "checkpoint.safetensors")
    assert ck.step == 12 and set(ck.model_state) == set(RateRNN(3, 10, 3).state_dict())
    model = RateRNN(task.input_size, 10, task.output_size, dt=task.dt, seed=7)
    alone = Trainer(model, task, _config(7, steps=14), run_dir=tmp_path / "b" / "7", progress=False).resume()
    assert alone.step == 12 and alone.fit().steps == 14


def test_resume_refuses_members_at_different_steps(tmp_path):
    task = _flipflop()
    dirs = [tmp_path / str(s) for s in SEEDS[:2]]
    EnsembleTrainer(_ensemble(task, SEEDS[:2]), task, [_config(s) for s in SEEDS[:2]], run_dirs=dirs,
                    progress=False).fit(steps=4)
    Trainer(RateRNN(3, 10, 3, dt=task.dt, seed=SEEDS[1]), task, _config(SEEDS[1]), run_dir=dirs[1],
            progress=False).resume().fit(steps=8)
    trainer = EnsembleTrainer(_ensemble(task, SEEDS[:2]), task, [_config(s) for s in SEEDS[:2]], run_dirs=dirs,
                              progress=False)
    with pytest.raises(CheckpointError, match=r"different steps \(4, 8\)"):
        trainer.resume()


def test_a_diverging_member_stops_and_the_others_go_on():
    task = _flipflop()
    ensemble = _ensemble(task)
    state = ensemble.member_state_dict(1)
    state["output_weight"] = torch.full_like(state["output_weight"], 1e30)
    ensemble.load_member_state_dict(1, state)
    trainer = EnsembleTrainer(ensemble, task, [_config(s) for s in SEEDS], progress=False)
    results = trainer.fit()
    assert [r.stopped for r in results] == ["max_steps", "diverged", "max_steps"]
    assert results[1].steps == 0 and "became" in trainer.message(1)
    assert all(math.isfinite(results[k].loss) for k in (0, 2))


def test_trials_of_different_lengths_are_padded_without_changing_a_member():
    task = tasks.make("measure_set_go")  # random intervals: each batch has its own length
    lengths = {task.sample(4, seed=derive_seed(s, "batch", 0)).n_steps for s in SEEDS}
    assert len(lengths) > 1
    configs = [_config(s, steps=3, batch_size=4, eval_every=3) for s in SEEDS]
    trainer = EnsembleTrainer(_ensemble(task, hidden=8), task, configs, progress=False)
    results = trainer.fit()
    for k, s in enumerate(SEEDS):
        single = Trainer(RateRNN(task.input_size, 8, task.output_size, dt=task.dt, seed=s), task, configs[k],
                         progress=False)
        assert results[k].loss == pytest.approx(single.fit().loss, rel=1e-4)


def test_configs_must_differ_only_in_seed():
    task = _flipflop()
    with pytest.raises(ConfigError, match="differs from member 0 in learning_rate"):
        EnsembleTrainer(_ensemble(task), task, [_config(3), _config(0, learning_rate=1.0), _config(7)])
    with pytest.raises(ConfigError, match="one entry per member"):
        EnsembleTrainer(_ensemble(task), task, [_config(3)])
