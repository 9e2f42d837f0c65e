"""Pure plotting functions: data in, matplotlib Figure or Axes out."""

from .trials import plot_trials

__all__ = ["plot_trials"]
