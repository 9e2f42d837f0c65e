"""The formal-language tasks: the standard definitions, balanced classes, the trial layout."""

from __future__ import annotations

import pytest
import torch

from rnnscope import tasks
from rnnscope.errors import ConfigError
from rnnscope.tasks import FormalLanguage, all_strings

NAMES = ["parity"] + [f"tomita{k}" for k in range(1, 8)]

# members and non-members by the standard definitions (Tomita 1982)
EXAMPLES = {
    "parity": (["1", "01", "111", "1000"], ["", "0", "11", "0110"]),
    "tomita1": (["", "1", "1111"], ["0", "10", "1101"]),
    "tomita2": (["", "10", "1010"], ["1", "01", "1001", "100"]),
    "tomita3": (["", "110", "1100", "0111001", "10011"], ["10", "1110", "1000111"]),
    "tomita4": (["", "00100", "1001"], ["000", "10001", "11000"]),
    "tomita5": (["", "11", "0101", "1100"], ["1", "10", "111"]),
    "tomita6": (["", "10", "01", "000", "111", "0011"], ["0", "1", "00", "110"]),
    "tomita7": (["", "0011", "101", "0001011"], ["10101", "110101"]),
}


@pytest.mark.parametrize("name", NAMES)
def test_definitions(name):
    task = tasks.make(name)
    assert isinstance(task, FormalLanguage)
    members, others = EXAMPLES[name]
    assert all(task.accepts(s) for s in members)
    assert not any(task.accepts(s) for s in others)


def test_tomita6_is_mod_3_not_mod_5():
    t6 = tasks.task_class("tomita6")
    assert t6.accepts("000") and t6.accepts("1" * 6) and not t6.accepts("0" * 5)


@pytest.mark.parametrize("name", NAMES)
def test_classes_are_balanced_and_trials_carry_the_string(name):
    task = tasks.make(name, max_length=8)
    batch = task.sample(2000, seed=0)
    accept = batch.conditions["accept"].float()
    assert abs(float(accept.mean()) - 0.5) < 0.04
    # the targets are +-1 in the response period only, matching the oracle on the drawn string
    k = task.symbol_steps
    for i in range(20):
        n = int(batch.conditions["length"][i])
        codes = batch.conditions["symbols"][i, :n].tolist()
        string = "".join(str(c) for c in codes)
        assert task.accepts(string) == bool(batch.conditions["accept"][i])
        seen = batch.inputs[i, : n * k : k, :2].argmax(-1).tolist()
        assert seen == codes
        resp = batch.period_mask("response")[i]
        assert torch.all(batch.targets[i, resp, 0] == (1.0 if task.accepts(string) else -1.0))
        assert float(batch.mask[i, ~resp].abs().sum()) == 0.0


def test_trials_of_given_strings_and_scoring():
    task = tasks.make("tomita4")
    strings = ["", "000", "0101"]
    batch = task.trials(strings)
    assert batch.lengths.tolist() == [0 + 1 + 2, 3 + 1 + 2, 4 + 1 + 2]
    assert batch.conditions["accept"].tolist() == [1, 0, 1]
    assert task.evaluate(batch.targets, batch)["performance"] == 1.0
    flipped = task.evaluate(-batch.targets, batch)["performance"]
    assert flipped == 0.0
    assert task.decisions(batch.targets, batch).tolist() == [True, False, True]
    with pytest.raises(ConfigError, match="'strings' parameter"):
        task.trials(["012"])


def test_all_strings_and_validation():
    assert all_strings("01", 2) == ["", "0", "1", "00", "01", "10", "11"]
    with pytest.raises(ConfigError, match="'max_length' parameter of Tomita1"):
        tasks.make("tomita1", max_length=0)
    with pytest.raises(ConfigError, match="'symbol_duration'"):
        tasks.make("parity", dt=10.0, symbol_duration=5.0)
    with pytest.raises(ConfigError, match="no member"):
        tasks.make("tomita2", min_length=1, max_length=1)
