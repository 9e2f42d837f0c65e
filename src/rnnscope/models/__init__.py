"""Recurrent network models: vector fields with a readout, under one contract (:class:`AbstractRNN`)."""

from ._base import AbstractRNN, FieldAtInput, LowRankFactors
from .check import check_model
from .elman import ElmanRNN
from .ensemble import RateEnsemble
from .gated import GRU, LSTM
from ._nonlinearity import NONLINEARITIES, Nonlinearity, resolve_nonlinearity
from .hopfield import Hopfield, HopfieldRetrieval
from .random_network import random_network
from .rate_rnn import PARAMETER_GROUPS, RateRNN
from .torch_modules import from_torch
from .wong_wang import WongWang

__all__ = [
    "AbstractRNN",
    "LowRankFactors",
    "FieldAtInput",
    "check_model",
    "RateRNN",
    "RateEnsemble",
    "GRU",
    "LSTM",
    "ElmanRNN",
    "from_torch",
    "Hopfield",
    "HopfieldRetrieval",
    "WongWang",
    "random_network",
    "Nonlinearity",
    "NONLINEARITIES",
    "PARAMETER_GROUPS",
    "resolve_nonlinearity",
]
