"""Open a network trained in plain PyTorch: :func:`from_torch`.

The six recurrent modules of ``torch.nn`` become models of the library's contract, sharing the
module's parameters, so that every simulation and analysis of rnnscope (fixed points, linearisation,
Lyapunov spectra, flow fields, perturbations) runs on them as they are:

===========================  ==================================================================
``nn.RNN``, ``nn.RNNCell``   :class:`~rnnscope.models.elman.ElmanRNN` (tanh or relu)
``nn.GRU``, ``nn.GRUCell``   :class:`~rnnscope.models.gated.GRU`
``nn.LSTM``, ``nn.LSTMCell`` :class:`~rnnscope.models.gated.LSTM` (state ``[h, c]``, 2 H wide)
===========================  ==================================================================
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from .elman import ElmanRNN
from ._torch_rnn import _TorchRNN
from .gated import GRU, LSTM

__all__ = ["from_torch"]

_ARCHITECTURES: dict[type[nn.Module], type[_TorchRNN]] = {
    kind: model for model in (ElmanRNN, GRU, LSTM) for kind in (model.layer, model.cell)
}


def from_torch(module: nn.Module, readout: nn.Linear | None = None, *, dt: float = 1.0) -> ElmanRNN | GRU | LSTM:
    """The rnnscope model of a torch recurrent module, sharing its parameters.

    The model holds ``module`` itself (and ``readout``): the same ``nn.Parameter`` objects, no copy,
    so changing the module's weights changes the model, training the model trains the module, and the
    module stays usable as before. The initial state is zeros (torch's default ``h0``, ``c0``);
    there is no noise. With ``readout=None`` the outputs are ``h`` itself, so
    ``simulate(model, x).outputs`` equals the module's own output sequence (batch first).

    Args:
        module: an ``nn.RNN`` (tanh or relu), ``nn.GRU`` or ``nn.LSTM`` with one layer, one direction
            and no ``proj_size`` (``batch_first`` either way), or an ``nn.RNNCell``, ``nn.GRUCell`` or
            ``nn.LSTMCell``.
        readout: an ``nn.Linear(H, output_size)`` applied to ``h``, or None.
        dt: ms per step (the clock of the task the network ran on).

    Returns:
        An :class:`~rnnscope.models.elman.ElmanRNN`, :class:`~rnnscope.models.gated.GRU` or
        :class:`~rnnscope.models.gated.LSTM` (see each for its equations and state).

    Shape:
        - inputs: (batch, time, input_size), batch first whatever the module's ``batch_first``
        - states: (batch, time, H) (LSTM: (batch, time, 2 H), ``[h, c]``); ``states[..., :H]`` is ``h``
        - outputs: (batch, time, output_size), or (batch, time, H) without a readout

    Example:
        >>> gru, linear = nn.GRU(3, 64, batch_first=True), nn.Linear(64, 3)
        >>> model = from_torch(gru, readout=linear, dt=10.0)
        >>> fps = find_fixed_points(model, initial_states=simulate(model, batch.inputs))
    """
    architecture = _ARCHITECTURES.get(type(module))
    if architecture is None:
        names = ", ".join(f"nn.{kind.__name__}" for kind in _ARCHITECTURES)
        raise ConfigError(f"The 'module' parameter of from_torch must be one of {names}. "
                          f"Got {type(module).__name__} instead.")
    return architecture._wrap("from_torch", module, readout, dt)
