"""The task contract, checked on every registered task, and the registry's errors."""

import pytest
import torch

from rnnscope import ConfigError, RateRNN, ShapeError
from rnnscope.errors import TaskContractError
from rnnscope.tasks import AbstractTask, available, check_task, make, register


@pytest.mark.parametrize("name", available())
def test_every_registered_task_honours_the_contract(name):
    task = make(name)
    batch = check_task(task)
    assert task.name == name and task.summary
    assert task.default_loss in ("mse", "cross_entropy")
    # a fresh network's outputs can be scored, and the task rebuilds from its params
    model = RateRNN(task.input_size, 8, task.output_size, dt=task.dt, seed=0)
    with torch.no_grad():
        out, _ = model(batch.inputs)
    assert 0.0 <= task.evaluate(out, batch)["performance"] <= 1.0
    assert make(name, **task.params()) == task


@pytest.mark.parametrize("name", available())
def test_every_task_rejects_bad_dt_and_unknown_params(name):
    with pytest.raises(ConfigError, match="'dt' parameter"):
        make(name, dt=-1.0)
    with pytest.raises(ConfigError, match="Unknown parameter"):
        make(name, no_such_param=1)


def test_unknown_task_names_the_available_ones():
    with pytest.raises(ConfigError, match="Unknown task 'dots'. Available tasks: context_decision"):
        make("dots")


def test_evaluate_checks_the_output_shape():
    task = make("perceptual_decision")
    batch = task.sample(4, seed=0)
    with pytest.raises(ShapeError, match="shape of the batch.s targets"):
        task.evaluate(torch.zeros(4, 3, 1), batch)


def test_check_task_catches_a_broken_task():
    from dataclasses import dataclass
    from typing import ClassVar

    from rnnscope.tasks.perceptual_decision import PerceptualDecision

    @dataclass(frozen=True)
    class Unseeded(PerceptualDecision):
        name: ClassVar[str] = "unseeded_test_task"

        def _sample(self, batch_size, generator):
            return super()._sample(batch_size, torch.Generator().manual_seed(int(torch.randint(10**6, (1,)))))

    with pytest.raises(TaskContractError, match="same seed gave different"):
        check_task(Unseeded())


def test_register_a_user_task():
    from dataclasses import dataclass
    from typing import ClassVar

    from rnnscope.tasks.perceptual_decision import PerceptualDecision

    @dataclass(frozen=True)
    class Mine(PerceptualDecision):
        name: ClassVar[str] = "my_dots"

    register(Mine)
    assert "my_dots" in available()
    assert isinstance(make("my_dots"), AbstractTask)
    with pytest.raises(ConfigError, match="taken by a built-in"):
        @dataclass(frozen=True)
        class Clash(PerceptualDecision):
            name: ClassVar[str] = "flipflop"

        register(Clash)
