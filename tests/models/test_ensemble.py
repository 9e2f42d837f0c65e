"""RateEnsemble: K rate networks of one shape as one model (check_model runs on it through the zoo)."""

import pytest
import torch

from rnnscope import simulate
from rnnscope.dynamics import add_noise
from rnnscope.errors import ConfigError, ShapeError
from rnnscope.models import RateEnsemble, RateRNN


def _members(seeds=(0, 1, 2), **kw):
    return [RateRNN(3, 8, 2, seed=s, **kw) for s in seeds]


@pytest.mark.parametrize("kw", [{}, {"rank": 2, "bulk_g": 0.3}, {"dale": 0.75, "sparsity": 0.25},
                                {"learn_initial_state": True}])
def test_members_are_the_single_networks_with_their_seeds(kw):
    ensemble = RateEnsemble(_members((4, 0, 9), **kw))
    assert ensemble.seeds == (4, 0, 9) and ensemble.n_members == 3 and ensemble.hidden_size == 24
    for k, seed in enumerate((4, 0, 9)):
        alone = RateRNN(3, 8, 2, seed=seed, **kw)
        got = ensemble.member(k).state_dict()
        assert list(got) == list(alone.state_dict())
        for name, value in alone.state_dict().items():
            assert torch.equal(got[name], value), name
    # the ensemble's parameters in the member's order (the optimiser state maps one to one)
    assert [n for n, _ in ensemble.named_parameters()] == [n for n, _ in RateRNN(3, 8, 2, seed=0, **kw).named_parameters()]


def test_each_member_simulates_as_it_does_alone_with_its_own_noise():
    members = _members(noise_std=0.2, input_noise_std=0.1)
    ensemble = RateEnsemble(members)
    inputs = torch.randn(3, 4, 7, 3, generator=torch.Generator().manual_seed(0))
    drawn = [add_noise(m, inputs[k], torch.Generator().manual_seed(10 + k)) for k, m in enumerate(members)]
    states, outputs = ensemble.simulate_members(torch.stack([u for u, _ in drawn]),
                                                noise=torch.stack([xi for _, xi in drawn]))
    assert states.shape == (3, 4, 7, 8) and outputs.shape == (3, 4, 7, 2)
    for k, m in enumerate(members):
        alone = simulate(m, inputs[k], generator=torch.Generator().manual_seed(10 + k))
        torch.testing.assert_close(states[k], alone.states, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(outputs[k], alone.outputs, rtol=1e-5, atol=1e-6)


def test_a_member_does_not_depend_on_the_others():
    inputs = torch.randn(3, 4, 6, 3, generator=torch.Generator().manual_seed(1))
    full = RateEnsemble(_members())
    _, y_full = full.simulate_members(inputs)
    y_full.pow(2).sum().backward()
    part = full.select([2, 0])
    assert part.seeds == (2, 0)
    _, y_part = part.simulate_members(inputs[[2, 0]])
    y_part.pow(2).sum().backward()
    assert torch.equal(y_part, y_full[[2, 0]].detach())
    for (name, p), q in zip(part.named_parameters(), full.parameters()):
        assert torch.equal(p.grad, q.grad[[2, 0]]), name


def test_member_state_dict_round_trip_and_errors():
    ensemble = RateEnsemble(_members())
    state = ensemble.member_state_dict(1)
    ensemble.load_member_state_dict(0, state)
    assert torch.equal(ensemble.recurrent_weight[0], ensemble.recurrent_weight[1])
    with pytest.raises(ShapeError, match="must have the keys"):
        ensemble.load_member_state_dict(0, {"input_weight": state["input_weight"]})
    with pytest.raises(ConfigError, match=r"member index must be an int in \[0, 2\]"):
        ensemble.member(3)


@pytest.mark.parametrize("members, message", [
    ([], "non-empty sequence"),
    ([RateRNN(3, 8, 2, seed=0), RateRNN(3, 9, 2, seed=1)], "Member 1 differs from member 0 in hidden_size"),
    ([RateRNN(3, 8, 2, seed=0), RateRNN(3, 8, 2, tau=50.0, seed=1)], "in tau"),
    ([RateRNN(3, 8, 2, nonlinearity=torch.sin, seed=0)], "named nonlinearity"),
    ([torch.nn.GRU(3, 8)], "must hold RateRNN models"),
])
def test_members_of_other_shapes_are_refused(members, message):
    with pytest.raises(ConfigError, match=message):
        RateEnsemble(members)
