"""Analyses that read a trained or random network: fixed points, Lyapunov spectra, ..."""

from .decisions import (
    FITTABLE_PARAMETERS,
    DecisionCurves,
    WeibullFit,
    WongWangFit,
    fit_weibull,
    fit_wong_wang,
    psychometric,
    threshold_decisions,
)
from ._fixed_points_result import FixedPoints
from .fixed_points import candidates_from_trajectories, find_fixed_points
from .slow_points import find_slow_points
from .flow_field import FlowField, Nullclines, flow_field, flow_field_from_pca, latent_flow_field, nullclines
from .linearisation import LineAttractorReport, Linearisation, line_attractor_report, linearise
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
from .dynamics_comparison import DynamicsComparison, compare_dynamics
from .connections import SaddleConnections, saddle_connections
from .population import similarity_matrix
from .similarity import (
    METRICS,
    ActivitySource,
    NoiseCeiling,
    SimilarityResult,
    cca_similarity,
    compare_activity,
    noise_ceiling,
    procrustes_distance,
    representational_dissimilarity,
    rsa_similarity,
    shape_distance,
)
from .state_space import (
    PCA,
    ConditionAverages,
    RegressionAxes,
    condition_average,
    gaussian_smooth,
)

__all__ = [
    "FixedPoints",
    "find_fixed_points",
    "find_slow_points",
    "candidates_from_trajectories",
    "Linearisation",
    "linearise",
    "LineAttractorReport",
    "line_attractor_report",
    "LyapunovSpectrum",
    "lyapunov_spectrum",
    "largest_lyapunov_exponent",
    "largest_exponent_from_trajectories",
    "kaplan_yorke_dimension",
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
    "PCA",
    "RegressionAxes",
    "ConditionAverages",
    "condition_average",
    "gaussian_smooth",
    "DecisionCurves",
    "WeibullFit",
    "WongWangFit",
    "threshold_decisions",
    "psychometric",
    "fit_weibull",
    "fit_wong_wang",
    "FITTABLE_PARAMETERS",
    "ActivitySource",
    "SimilarityResult",
    "NoiseCeiling",
    "DynamicsComparison",
    "cca_similarity",
    "shape_distance",
    "procrustes_distance",
    "rsa_similarity",
    "representational_dissimilarity",
    "noise_ceiling",
    "compare_activity",
    "METRICS",
    "compare_dynamics",
    "SaddleConnections",
    "saddle_connections",
    "similarity_matrix",
]
