"""Neural data in: recorded activity on trials (:class:`NeuralData`), read from arrays, xarray,
NWB files or ``.npz``; fitting rate networks to it (:func:`fit_rnn`, :func:`select_rank`); and the
scores of a fit with their noise ceiling (:func:`variance_explained`, :func:`condition_average_r2`,
:func:`r2_noise_ceiling`)."""

from ._neural_data import NeuralData
from ._fit import (
    TARGETS,
    DataFit,
    DataTask,
    Normalisation,
    RankSelection,
    choose_rank,
    default_fit_training,
    fit_rnn,
    select_rank,
)
from ._nwb import NWBContents, nwb_contents, read_nwb
from ._scores import (
    R2NoiseCeiling,
    condition_average_r2,
    r2_noise_ceiling,
    svd_variance_captured,
    variance_explained,
)

__all__ = [
    "NeuralData",
    "read_nwb",
    "nwb_contents",
    "NWBContents",
    "DataTask",
    "DataFit",
    "Normalisation",
    "RankSelection",
    "TARGETS",
    "fit_rnn",
    "select_rank",
    "choose_rank",
    "default_fit_training",
    "variance_explained",
    "condition_average_r2",
    "r2_noise_ceiling",
    "R2NoiseCeiling",
    "svd_variance_captured",
]
