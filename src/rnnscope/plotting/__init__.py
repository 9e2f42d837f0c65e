"""Pure plotting functions: data in, matplotlib Figure or Axes out."""

from .attractors import plot_attractor, plot_attractor_scan, plot_automaton
from .flow import plot_flow_field
from .multitask import plot_fractional_variance, plot_lesion_effect, plot_task_variance
from .state_space import plot_trajectories, plot_variance_explained
from .sweeps import plot_score_against
from .trials import plot_trials

__all__ = ["plot_trials", "plot_flow_field", "plot_trajectories", "plot_variance_explained", "plot_attractor",
           "plot_attractor_scan", "plot_automaton", "plot_score_against",
           "plot_task_variance", "plot_fractional_variance", "plot_lesion_effect"]
