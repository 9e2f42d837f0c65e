"""Analyses that read a trained or random network: fixed points, Lyapunov spectra, ..."""

from .flow_field import FlowField, Nullclines, flow_field, flow_field_from_pca, latent_flow_field, nullclines
from .lyapunov import (
    LyapunovSpectrum,
    kaplan_yorke_dimension,
    largest_exponent_from_trajectories,
    largest_lyapunov_exponent,
    lyapunov_spectrum,
)
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
    "LyapunovSpectrum",
    "lyapunov_spectrum",
    "largest_lyapunov_exponent",
    "largest_exponent_from_trajectories",
    "kaplan_yorke_dimension",
    "Intervention",
    "PerturbationResult",
    "silence",
    "clamp",
    "pulse",
    "combine",
    "perturbation_effect",
]
