"""``_TorchRNN``: the abstract base of the recurrences in torch's parameter layout
(:class:`~rnnscope.models.GRU`, :class:`~rnnscope.models.LSTM`, :class:`~rnnscope.models.ElmanRNN`):
construction, wrapping a torch module (sharing its parameters), the readout, the initial state,
noise, and the fused path through torch's own module call.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_bool, check_float, check_int
from ..errors import ConfigError, ShapeError
from ._base import AbstractRNN

__all__: list[str] = []


def _row_scale(scale: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """``diag(scale) @ matrix``, batched over the leading axes of ``scale``: (..., n), (n, m) -> (..., n, m)."""
    return scale[..., :, None] * matrix


class _TorchRNN(AbstractRNN):
    """A one-layer, unidirectional recurrence in torch's parameter layout (abstract).

    The parameters are torch's: ``weight_ih`` (G H, input_size), ``weight_hh`` (G H, H), ``bias_ih``
    and ``bias_hh`` (G H,) or None, with G gates stacked in torch's order; they live in ``core``, a
    torch layer or cell (the same Parameter objects, never copies). ``head`` is an optional
    ``nn.Linear(H, output_size)``; without one the outputs are ``h`` itself. The state is ``blocks``
    vectors of H units, ``h`` first (the LSTM's is ``[h, c]``).

    A final class sets ``layer`` and ``cell`` (the torch modules it reproduces), ``blocks``, and
    defines :meth:`flow` and :meth:`flow_jacobian`. The constructor builds a fresh network;
    :meth:`wrap` opens a torch module instead; both end in :meth:`_attach`.
    """

    #: the torch layer and cell whose equations and parameters the class reproduces
    layer: ClassVar[type[nn.RNNBase]]
    cell: ClassVar[type[nn.RNNCellBase]]
    #: number of H-vectors in the state (2 for the LSTM's [h, c])
    blocks: ClassVar[int] = 1

    core: nn.RNNBase | nn.RNNCellBase
    head: nn.Linear | None
    units: int

    # ------------------------------------------------------------------ the two doors
    def __init__(self, input_size: int, hidden_size: int, output_size: int | None, *, dt: float = 20.0,
                 bias: bool = True, noise_std: float = 0.0, input_noise_std: float = 0.0,
                 learn_initial_state: bool = False, seed: int | None = 0, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        """A fresh network: a ``layer`` (batch first) and a head, initialised as torch does --
        every weight and bias ``U(-1/sqrt(H), 1/sqrt(H))``, the head's too -- from the model's own
        generator (built on the meta device first, so torch's global RNG is never touched)."""
        super().__init__()
        own = type(self).__name__
        input_size = check_int(own, "input_size", input_size, low=1)
        H = check_int(own, "hidden_size", hidden_size, low=1)
        if output_size is not None:
            output_size = check_int(own, "output_size", output_size, low=1)
        check_bool(own, "bias", bias)
        if seed is not None:
            seed = check_int(own, "seed", seed, low=0)
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        where = torch.empty(0, device=device).device
        core = self.layer(input_size, H, bias=bias, batch_first=True, device="meta", dtype=dtype,
                          **self._layer_options())
        head = None if output_size is None else nn.Linear(H, output_size, device="meta", dtype=dtype)
        bound = 1.0 / math.sqrt(H)
        for module in (core, head):
            if module is None:
                continue
            module.to_empty(device=where)
            with torch.no_grad():
                for p in module.parameters():
                    p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) * (2 * bound) - bound)
        self._attach(own, core, head, dt=dt, noise_std=noise_std, input_noise_std=input_noise_std,
                     learn_initial_state=learn_initial_state, seed=seed)

    def _layer_options(self) -> dict[str, Any]:
        """Arguments of a fresh ``layer`` beyond sizes, bias, batch_first, device and dtype."""
        return {}

    @classmethod
    def wrap(cls, module: nn.Module, readout: nn.Linear | None = None, *, dt: float = 1.0) -> _TorchRNN:
        """The model of a torch module, sharing its parameters (the same ``nn.Parameter`` objects).

        Changing the module's weights changes the model and the module stays usable; the model holds
        the module as ``core`` (so moving or converting the model moves the module too). The initial
        state is zeros, as torch's default ``h0`` (and ``c0``); there is no noise.

        Args:
            module: the class's torch layer (one layer, unidirectional, ``batch_first`` either way,
                no ``proj_size``) or cell.
            readout: an ``nn.Linear(H, output_size)``, shared too; None: the outputs are ``h`` itself.
            dt: ms per step (the task's clock).
        """
        return cls._wrap(f"{cls.__name__}.wrap", module, readout, dt)

    @classmethod
    def _wrap(cls, owner: str, module: nn.Module, readout: nn.Linear | None, dt: float) -> _TorchRNN:
        _check_module(owner, module, (cls.layer, cls.cell))
        _check_readout(owner, readout, module)
        model = cls.__new__(cls)  # not the constructor: it would build fresh weights
        AbstractRNN.__init__(model)
        model._attach(owner, module, readout, dt=dt, noise_std=0.0, input_noise_std=0.0,
                      learn_initial_state=False, seed=None)
        return model

    def _attach(self, owner: str, core: nn.Module, head: nn.Linear | None, *, dt: float, noise_std: float,
                input_noise_std: float, learn_initial_state: bool, seed: int | None) -> None:
        self.dt = check_float(owner, "dt", dt, low=0, low_inclusive=False)
        self._noise_std = check_float(owner, "noise_std", noise_std, low=0)
        self._input_noise_std = check_float(owner, "input_noise_std", input_noise_std, low=0)
        self.learn_initial_state = check_bool(owner, "learn_initial_state", learn_initial_state)
        self.seed = seed
        self.time = "discrete"
        self.core = core
        self.head = head
        self.units = int(core.hidden_size)
        self.input_size = int(core.input_size)
        self.hidden_size = self.blocks * self.units
        self.output_size = self.units if head is None else int(head.out_features)
        ref = self.weight_hh
        x0 = torch.zeros(self.hidden_size, dtype=ref.dtype, device=ref.device)
        if self.learn_initial_state:
            self.x0 = nn.Parameter(x0)
        else:
            self.register_buffer("x0", x0)

    # ------------------------------------------------------------------ torch's parameters
    def _core_parameter(self, name: str) -> nn.Parameter | None:
        if name.startswith("bias") and not self.core.bias:
            return None
        return getattr(self.core, f"{name}_l0" if isinstance(self.core, nn.RNNBase) else name)

    @property
    def weight_ih(self) -> nn.Parameter:
        """Input weights, torch's ``weight_ih``: (G H, input_size), the G gates stacked."""
        return self._core_parameter("weight_ih")

    @property
    def weight_hh(self) -> nn.Parameter:
        """Recurrent weights, torch's ``weight_hh``: (G H, H)."""
        return self._core_parameter("weight_hh")

    @property
    def bias_ih(self) -> nn.Parameter | None:
        """Input bias (G H,), or None without biases."""
        return self._core_parameter("bias_ih")

    @property
    def bias_hh(self) -> nn.Parameter | None:
        """Recurrent bias (G H,), or None without biases."""
        return self._core_parameter("bias_hh")

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``"input"``: weight_ih, bias_ih; ``"recurrent"``: weight_hh, bias_hh; ``"output"``: the
        head's weight and bias (none without a head); ``"initial_state"``: x0 when it is learnt."""
        def present(*params: nn.Parameter | None) -> list[nn.Parameter]:
            return [p for p in params if p is not None]

        return {
            "input": present(self.weight_ih, self.bias_ih),
            "recurrent": present(self.weight_hh, self.bias_hh),
            "output": [] if self.head is None else list(self.head.parameters()),
            "initial_state": [self.x0] if self.learn_initial_state else [],
        }

    # ------------------------------------------------------------------ noise
    @property
    def noise_std(self) -> float:
        """The process-noise level as given to the constructor (on ``h``)."""
        return self._noise_std

    @property
    def process_noise_std(self) -> float | torch.Tensor:
        """``noise_std`` on every unit of ``h``: a float when ``h`` is the whole state, else a tensor
        (hidden_size,) with zeros on the other blocks (the LSTM's cell state ``c``)."""
        if self.blocks == 1:
            return self._noise_std
        ref = self.weight_hh
        std = torch.zeros(self.hidden_size, dtype=ref.dtype, device=ref.device)
        std[: self.units] = self._noise_std
        return std

    @property
    def input_noise_std(self) -> float:
        return self._input_noise_std

    # ------------------------------------------------------------------ the map
    def drive(self, inputs: torch.Tensor) -> torch.Tensor:
        """The input part of the gates, ``W_ih u + b_ih``. Shape: (..., input_size) -> (..., G H)."""
        return F.linear(inputs, self.weight_ih, self.bias_ih)

    def _preactivation(self, x: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """The gates' inputs ``drive + W_hh h + b_hh``, the G gates stacked: (..., G H)."""
        return drive + F.linear(x[..., : self.units], self.weight_hh, self.bias_hh)

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """``h``, the units' activity. Shape: (..., hidden_size) -> (..., H)."""
        return x[..., : self.units]

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """``head(h)``, or ``h`` itself without a head. Shape: (..., hidden_size) -> (..., output_size)."""
        h = x[..., : self.units]
        return h if self.head is None else self.head(h)

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return self.x0.expand(batch_size, self.hidden_size)

    # ------------------------------------------------------------------ the fused path
    def fused_simulate(self, inputs: torch.Tensor, initial_state: torch.Tensor,
                       noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """torch's own module call (cuDNN on a GPU, its fused CPU kernels elsewhere), when the core is
        a whole layer and there is no process noise; None otherwise (the plain loop runs)."""
        if noise is not None or inputs.shape[1] == 0 or not isinstance(self.core, nn.RNNBase):
            return None
        H = self.units
        hx = tuple(initial_state[None, :, k * H:(k + 1) * H].contiguous() for k in range(self.blocks))
        seq = inputs if self.core.batch_first else inputs.transpose(0, 1)
        out, _ = self.core(seq, hx[0] if self.blocks == 1 else hx)
        h = out if self.core.batch_first else out.transpose(0, 1)
        states = self._states_from_h(h, inputs, initial_state)
        return states, self.readout(states)

    def _states_from_h(self, h: torch.Tensor, inputs: torch.Tensor, initial_state: torch.Tensor) -> torch.Tensor:
        """The states (batch, time, hidden_size) of a run whose ``h`` (batch, time, H) the layer gave."""
        return h

    # ------------------------------------------------------------------ description
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (weights excluded).

        ``hidden_size`` is H (torch's meaning); ``output_size`` is None for a model without a head.
        """
        return {
            "input_size": self.input_size, "hidden_size": self.units,
            "output_size": None if self.head is None else self.output_size, "dt": self.dt,
            "bias": bool(self.core.bias), "noise_std": self._noise_std, "input_noise_std": self._input_noise_std,
            "learn_initial_state": self.learn_initial_state, "seed": self.seed,
        }

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.units}, {self.output_size}, hidden_size={self.hidden_size}, "
                f"dt={self.dt:g}")


def _check_module(owner: str, module: Any, kinds: tuple[type, ...]) -> None:
    """``module`` must be exactly one of ``kinds`` and, for a layer, one unidirectional layer
    without projections."""
    names = " or ".join(f"nn.{k.__name__}" for k in kinds)
    if type(module) not in kinds:
        raise ConfigError(f"The 'module' parameter of {owner} must be an {names}. Got {type(module).__name__} instead.")
    if isinstance(module, nn.RNNBase):
        for name, allowed in (("num_layers", 1), ("bidirectional", False), ("proj_size", 0)):
            value = getattr(module, name)
            if value != allowed:
                raise ConfigError(f"The 'module' parameter of {owner} must be a one-layer, unidirectional "
                                  f"{names} without projections ({name}={allowed!r}). Got {name}={value!r} instead.")


def _check_readout(owner: str, readout: Any, module: nn.Module) -> None:
    """``readout`` must be None or an ``nn.Linear`` reading the module's H units, in its dtype and device."""
    if readout is None:
        return
    if not isinstance(readout, nn.Linear):
        raise ConfigError(f"The 'readout' parameter of {owner} must be an nn.Linear or None. "
                          f"Got {type(readout).__name__} instead.")
    H = module.hidden_size
    if readout.in_features != H:
        raise ShapeError(f"The 'readout' parameter of {owner} must read the module's {H} units "
                         f"(in_features={H}). Got in_features={readout.in_features} instead.")
    ref = next(module.parameters())
    if readout.weight.dtype != ref.dtype or readout.weight.device != ref.device:
        raise ConfigError(f"The 'readout' parameter of {owner} must have the module's dtype and device "
                          f"({ref.dtype}, {ref.device}). Got {readout.weight.dtype}, {readout.weight.device} instead.")
