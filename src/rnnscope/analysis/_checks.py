"""Argument checks shared by the analyses that start from one state."""

from __future__ import annotations

import torch

from ..errors import ConfigError, ShapeError
from ..models import AbstractRNN

__all__: list[str] = []


def check_state(owner: str, model: AbstractRNN, state, name: str = "initial_state") -> torch.Tensor:
    """``state`` as a finite float64 CPU tensor of shape (hidden_size,); (1, hidden_size) is accepted."""
    N = model.hidden_size
    x = torch.as_tensor(state).detach()
    if x.shape == (1, N):
        x = x[0]
    if x.shape != (N,):
        raise ShapeError(f"The {name!r} parameter of {owner} must have shape ({N},) or (1, {N}). "
                         f"Got {tuple(x.shape)} instead.")
    x = x.to(torch.float64).cpu()
    if not bool(torch.isfinite(x).all()):
        raise ConfigError(f"The {name!r} parameter of {owner} must be finite. Got NaN or inf values.")
    return x
