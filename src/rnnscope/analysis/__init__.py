"""Analyses that read a trained or random network: fixed points, Lyapunov spectra, ..."""

from .flow_field import FlowField, Nullclines, flow_field, flow_field_from_pca, latent_flow_field, nullclines
from .perturbation import (
    Intervention,
    PerturbationResult,
    clamp,
    combine,
    perturbation_effect,
    pulse,
    silence,
)

__all__ = [
    "FlowField",
    "Nullclines",
    "flow_field",
    "flow_field_from_pca",
    "latent_flow_field",
    "nullclines",
    "Intervention",
    "PerturbationResult",
    "silence",
    "clamp",
    "pulse",
    "combine",
    "perturbation_effect",
]
