"""Neural data in: recorded activity on trials (:class:`NeuralData`), read from arrays, xarray,
NWB files or ``.npz``; and fitting rate networks to it (:func:`fit_rnn`, :func:`select_rank`)."""

from ._neural_data import NeuralData
from ._nwb import read_nwb

__all__ = ["NeuralData", "read_nwb"]
