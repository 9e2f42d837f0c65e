"""Masked losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["masked_mse", "masked_cross_entropy", "LOSSES"]


def masked_mse(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum(mask (outputs - targets)^2) / sum(mask)``. Shape: all (batch, time, output_size)."""
    return (mask * (outputs - targets) ** 2).sum() / mask.sum().clamp_min(1e-12)


def masked_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax(outputs) over the output axis against target probabilities.

    A step counts with weight ``max(mask)`` over its output channels.
    Shape: all (batch, time, output_size).
    """
    w = mask.amax(dim=-1)
    nll = -(targets * F.log_softmax(outputs, dim=-1)).sum(dim=-1)
    return (w * nll).sum() / w.sum().clamp_min(1e-12)


LOSSES = {"mse": masked_mse, "cross_entropy": masked_cross_entropy}
