"""Automata: the minimal automata of known languages from exact oracles, minimisation and
equivalence, and extraction from trained networks (table and state quantisation)."""

from __future__ import annotations

import math

import pytest
import torch

from rnnscope import Trainer, TrainingConfig, tasks
from rnnscope.analysis import Automaton, extract_automaton, minimal_automaton
from rnnscope.errors import CheckpointError, ConfigError, ConvergenceError, ShapeError
from rnnscope.models import GRU, RateRNN

# the sizes of the minimal automata, dead state included
MINIMAL = {"parity": 2, "tomita1": 2, "tomita2": 3, "tomita3": 5, "tomita4": 4, "tomita5": 4, "tomita6": 3,
           "tomita7": 5}


@pytest.mark.parametrize("name, size", MINIMAL.items())
def test_minimal_automata_of_the_languages(name, size):
    task = tasks.make(name)
    dfa = minimal_automaton(task.accepts)
    assert dfa.n_states == size == task.minimal_states
    strings = tasks.all_strings("01", 10)
    assert dfa.accepts(strings).tolist() == [task.accepts(s) for s in strings]
    # a larger table gives the same automaton
    assert minimal_automaton(task.accepts, max_prefix=7, max_suffix=7).equivalent(dfa)


def test_minimisation_merges_equivalent_states():
    # parity written with 4 states (two copies of each parity class) -> 2 states
    T = torch.tensor([[1, 2], [0, 3], [3, 0], [2, 1]])
    acc = torch.tensor([False, False, True, True])
    big = Automaton(T, acc)
    small = big.minimise()
    assert small.n_states == 2 and small.equivalent(big)
    assert small.equivalent(minimal_automaton(tasks.task_class("parity").accepts))
    assert not small.equivalent(minimal_automaton(tasks.task_class("tomita1").accepts))
    # an unreachable state is dropped
    T2 = torch.tensor([[0, 1], [1, 0], [2, 2]])
    assert Automaton(T2, torch.tensor([False, True, True])).minimise().n_states == 2


def test_table_needs_enough_prefixes():
    # (#0 - #1) mod 7 needs 7 states: prefixes of up to 3 symbols reach only some of them
    with pytest.raises(ConvergenceError, match="max_prefix"):
        minimal_automaton(lambda s: (s.count("0") - s.count("1")) % 7 == 0, max_prefix=3, max_suffix=3)


def test_automaton_validation_and_save(tmp_path):
    with pytest.raises(ShapeError):
        Automaton(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ConfigError, match="name states"):
        Automaton(torch.tensor([[0, 5]]), torch.tensor([True]))
    dfa = minimal_automaton(tasks.task_class("tomita3").accepts)
    back = Automaton.load(dfa.save(tmp_path / "dfa"))
    assert back.equivalent(dfa) and back.n_states == 5 and math.isnan(back.agreement)
    with pytest.raises(CheckpointError):
        Automaton.load(tmp_path / "none.npz")
    with pytest.raises(ConfigError):
        dfa.accepts("012")


@pytest.fixture(scope="module")
def parity_gru():
    task = tasks.make("parity", max_length=10)
    model = GRU(3, 16, 1, dt=task.dt, seed=0)
    config = TrainingConfig(steps=1500, learning_rate=1e-2, batch_size=128, criterion=1.0, seed=0)  # every held-out string right
    result = Trainer(model, task, config, progress=False).fit()
    assert result.performance == 1.0
    return model, task


def test_extract_parity_from_a_trained_gru(parity_gru):
    model, task = parity_gru
    dfa = extract_automaton(model, task)
    assert dfa.details["network_accuracy"] == 1.0
    assert dfa.n_states == 2 and dfa.agreement == 1.0 and dfa.details["equivalent_to_language"]
    assert dfa.state_points.shape == (2**10 - 1, 16) and dfa.state_labels.shape == (2**10 - 1,)
    # the network's states after odd and even prefixes lie apart: the two automaton states are
    # two regions of its state space, and clustering the states finds the same automaton
    q = extract_automaton(model, task, method="quantise")
    assert q.n_states == 2 and q.agreement == 1.0 and q.details["consistent"]
    assert q.equivalent(dfa)


def test_extract_rejects_other_tasks_and_models(parity_gru):
    model, task = parity_gru
    with pytest.raises(ConfigError, match="formal-language task"):
        extract_automaton(model, tasks.make("flipflop"))
    with pytest.raises(ShapeError, match="'model' parameter of extract_automaton"):
        extract_automaton(RateRNN(2, 4, 1), task)
    with pytest.raises(ConfigError, match="'method'"):
        extract_automaton(model, task, method="lstar")
