"""Nonlinearities with their derivatives (needed by analytic Jacobians)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["Nonlinearity", "resolve_nonlinearity", "NONLINEARITIES"]


@dataclass(frozen=True)
class Nonlinearity:
    """An elementwise transfer function ``phi`` and its derivative ``phi'``."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _d_tanh(x: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh(x) ** 2


def _d_relu(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)


def _d_sigmoid(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1.0 - s)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _ones(x: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(x)


NONLINEARITIES: dict[str, Nonlinearity] = {
    "tanh": Nonlinearity("tanh", torch.tanh, _d_tanh),
    "relu": Nonlinearity("relu", torch.relu, _d_relu),
    "softplus": Nonlinearity("softplus", F.softplus, torch.sigmoid),
    "sigmoid": Nonlinearity("sigmoid", torch.sigmoid, _d_sigmoid),
    "linear": Nonlinearity("linear", _identity, _ones),
}


def _autograd_derivative(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    def derivative(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xx = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(fn(xx).sum(), xx)
        return g

    return derivative


def resolve_nonlinearity(spec: str | Callable[[torch.Tensor], torch.Tensor], owner: str = "RateRNN") -> Nonlinearity:
    """A :class:`Nonlinearity` from a name (tanh, relu, softplus, sigmoid, linear) or a callable.

    The derivative of a callable is taken by autograd; it must act elementwise.
    """
    if isinstance(spec, Nonlinearity):
        return spec
    if isinstance(spec, str):
        if spec not in NONLINEARITIES:
            raise ConfigError(
                f"The 'nonlinearity' parameter of {owner} must be one of "
                f"{', '.join(map(repr, NONLINEARITIES))} or a callable. Got {spec!r} instead."
            )
        return NONLINEARITIES[spec]
    if callable(spec):
        name = getattr(spec, "__name__", "custom")
        return Nonlinearity(f"custom:{name}", spec, _autograd_derivative(spec))
    raise ConfigError(
        f"The 'nonlinearity' parameter of {owner} must be one of "
        f"{', '.join(map(repr, NONLINEARITIES))} or a callable. Got {spec!r} instead."
    )
