"""Pure plotting functions: data in, matplotlib Figure or Axes out."""

from .attractors import plot_attractor, plot_attractor_scan, plot_automaton
from .flow import plot_flow_field
from .state_space import plot_trajectories, plot_variance_explained
from .sweeps import plot_score_against
from .trials import plot_trials

__all__ = ["plot_trials", "plot_flow_field", "plot_trajectories", "plot_variance_explained", "plot_attractor",
           "plot_attractor_scan", "plot_automaton", "plot_score_against"]
