"""One constructor for every kind of model the library has, for the contract tests."""

from __future__ import annotations

from collections.abc import Callable

import torch

from torch import nn

from rnnscope.models import (
    GRU,
    LSTM,
    AbstractRNN,
    ElmanRNN,
    Hopfield,
    RateEnsemble,
    RateRNN,
    WongWang,
    from_torch,
    random_network,
)


def every_model() -> list[tuple[str, Callable[[], AbstractRNN]]]:
    """``(name, build)`` pairs: small instances of every model class and of the variants of each
    (low rank, bulk, Dale's law, discrete time, custom nonlinearity, ...)."""
    return [
        ("rate", lambda: RateRNN(3, 10, 2, seed=0)),
        ("rate-discrete-relu", lambda: RateRNN(2, 8, 1, time="discrete", nonlinearity="relu", g=0.5, seed=1)),
        ("rate-rank2", lambda: RateRNN(3, 10, 2, rank=2, seed=2)),
        ("rate-rank1-bulk", lambda: RateRNN(1, 10, 1, rank=1, bulk_g=0.5, seed=3)),
        ("rate-rank1-discrete", lambda: RateRNN(2, 10, 1, rank=1, time="discrete", seed=4)),
        ("rate-dale-mask-noise", lambda: RateRNN(2, 8, 1, dale=0.8, sparsity=0.2, autapses=False, noise_std=0.1,
                                                 input_noise_std=0.1, readout="states", seed=5)),
        ("rate-softplus-learnt-x0", lambda: RateRNN(2, 8, 1, nonlinearity="softplus", learn_initial_state=True,
                                                    frozen=("input",), seed=6)),
        ("rate-custom-phi", lambda: RateRNN(2, 6, 1, nonlinearity=lambda x: torch.tanh(x) ** 3, seed=7)),
        ("rate-ensemble", lambda: RateEnsemble([RateRNN(3, 6, 2, seed=s) for s in (0, 1, 2)])),
        ("rate-ensemble-rank1-discrete-noise", lambda: RateEnsemble(
            [RateRNN(2, 5, 1, rank=1, time="discrete", nonlinearity="softplus", noise_std=0.1, input_noise_std=0.1,
                     readout="states", seed=s) for s in (3, 4)])),
        ("rate-ensemble-dale-mask-no-bias", lambda: RateEnsemble(
            [RateRNN(2, 6, 1, dale=0.8, sparsity=0.3, bias=False, learn_initial_state=True, frozen=("input",),
                     seed=s) for s in (5, 6)])),
        ("random-network", lambda: random_network(20, 1.5, seed=0)),
        ("hopfield", lambda: Hopfield.random(3, 30, seed=0)),
        ("wong-wang", lambda: WongWang()),
        ("gru", lambda: GRU(3, 8, 2, seed=0)),
        ("gru-no-bias-no-head-noise", lambda: GRU(2, 6, None, bias=False, noise_std=0.1, seed=1)),
        ("lstm", lambda: LSTM(3, 6, 2, seed=2)),
        ("lstm-noise-learnt-x0", lambda: LSTM(2, 5, 1, noise_std=0.1, learn_initial_state=True, seed=3)),
        ("elman-tanh", lambda: ElmanRNN(3, 8, 2, seed=4)),
        ("elman-relu-noise", lambda: ElmanRNN(2, 6, 1, nonlinearity="relu", noise_std=0.1, seed=5)),
        ("torch-rnn", lambda: from_torch(_seeded(lambda: nn.RNN(3, 7, batch_first=True)))),
        ("torch-gru-readout", lambda: from_torch(*_seeded(lambda: (nn.GRU(3, 7), nn.Linear(7, 2))))),
        ("torch-lstm", lambda: from_torch(_seeded(lambda: nn.LSTM(2, 5, batch_first=True)))),
        ("torch-rnncell-relu", lambda: from_torch(_seeded(lambda: nn.RNNCell(2, 6, nonlinearity="relu")))),
        ("torch-grucell", lambda: from_torch(_seeded(lambda: nn.GRUCell(2, 6)))),
        ("torch-lstmcell", lambda: from_torch(_seeded(lambda: nn.LSTMCell(2, 5)))),
    ]


def _seeded(build):
    """Build torch modules (which draw from the global RNG) reproducibly, leaving that RNG as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build()
