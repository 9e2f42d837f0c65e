"""Neural data in: recorded activity on trials (:class:`NeuralData`), read from arrays, xarray,
NWB files or ``.npz``; and fitting rate networks to it (:func:`fit_rnn`, :func:`select_rank`)."""

from ._neural_data import NeuralData
from ._fit import (
    DataFit,
    DataTask,
    Normalisation,
    RankSelection,
    choose_rank,
    default_fit_training,
    fit_rnn,
    select_rank,
    svd_variance_explained,
    variance_explained,
)
from ._nwb import read_nwb

__all__ = [
    "NeuralData",
    "read_nwb",
    "DataTask",
    "DataFit",
    "Normalisation",
    "RankSelection",
    "fit_rnn",
    "select_rank",
    "choose_rank",
    "default_fit_training",
    "variance_explained",
    "svd_variance_explained",
]
