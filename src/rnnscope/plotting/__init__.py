"""Pure plotting functions: data in, matplotlib Figure or Axes out."""

from .flow import plot_flow_field
from .trials import plot_trials

__all__ = ["plot_trials", "plot_flow_field"]
