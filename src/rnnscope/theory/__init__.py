"""Theory that predicts what the models do: dynamic mean-field theory of random networks,
mean-field theory of low-rank networks, capacities and spectra. Every prediction here is checked
against simulation in the tests."""

from .dmft import DMFTSolution, dmft, empirical_autocorrelation
from .hopfield import (
    ALPHA_C_AGS,
    AGSRetrieval,
    CapacityCurve,
    ags_critical_load,
    ags_retrieval,
    hopfield_capacity_curve,
    rate_model_overlap,
)
from .low_rank import (
    GaussianMixtureLoadings,
    LowRankMeanField,
    MeanFieldFixedPoints,
    loadings_of,
    mastrogiuseppe_ostojic_static,
)
from .spectra import circular_law_fraction, circular_law_radius, fraction_inside

__all__: list[str] = []
__all__ += ["ALPHA_C_AGS", "AGSRetrieval", "CapacityCurve", "ags_critical_load", "ags_retrieval",
            "hopfield_capacity_curve", "rate_model_overlap"]
__all__ += ["DMFTSolution", "dmft", "empirical_autocorrelation", "circular_law_radius", "circular_law_fraction", "fraction_inside"]
__all__ += ["GaussianMixtureLoadings", "LowRankMeanField", "MeanFieldFixedPoints", "loadings_of",
            "mastrogiuseppe_ostojic_static"]
