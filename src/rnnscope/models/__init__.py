"""Recurrent network models: vector fields with a readout."""

from ._base import AbstractRNN
from ._nonlinearity import NONLINEARITIES, Nonlinearity, resolve_nonlinearity
from .hopfield import Hopfield, HopfieldRetrieval
from .random_network import random_network
from .rate_rnn import PARAMETER_GROUPS, RateRNN
from .wong_wang import WongWang

__all__ = ["AbstractRNN", "RateRNN", "Nonlinearity", "NONLINEARITIES", "PARAMETER_GROUPS", "resolve_nonlinearity",
           "Hopfield", "HopfieldRetrieval", "WongWang"]
__all__ += ["random_network"]
