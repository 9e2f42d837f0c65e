"""Pure plotting functions: data in, matplotlib Figure or Axes out."""

from .attractors import plot_attractor, plot_attractor_scan, plot_automaton
from .flow import plot_flow_field
from .grid_cells import plot_grid_score_histogram, plot_grid_units
from .multitask import plot_fractional_variance, plot_lesion_effect, plot_task_variance
from .state_space import plot_trajectories, plot_variance_explained
from .sweeps import plot_score_against
from .temporal_scaling import plot_matched_times, plot_responses_by_condition
from .trials import plot_trials

__all__ = ["plot_trials", "plot_flow_field", "plot_trajectories", "plot_variance_explained", "plot_attractor",
           "plot_attractor_scan", "plot_automaton", "plot_score_against", "plot_grid_units",
           "plot_grid_score_histogram", "plot_responses_by_condition", "plot_matched_times",
           "plot_task_variance", "plot_fractional_variance", "plot_lesion_effect"]
