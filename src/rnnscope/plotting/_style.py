"""One look for fixed points in every figure: the static ones (state space, flow fields) and the
report's interactive 3-D view use these, so a colour means the same number of unstable directions
everywhere."""

from __future__ import annotations

__all__ = ["UNSTABLE_COLORS", "SLOW_POINT_COLOR", "unstable_color", "unstable_label"]

#: Edge colours of fixed points with 1, 2, 3, ... unstable directions (stable points are black).
UNSTABLE_COLORS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
#: Slow points (speed small but not zero: not fixed points) are small grey crosses.
SLOW_POINT_COLOR = "0.55"


def unstable_color(k: int) -> str:
    """The edge colour of a fixed point with ``k >= 1`` unstable directions."""
    return UNSTABLE_COLORS[(k - 1) % len(UNSTABLE_COLORS)]


def unstable_label(k: int) -> str:
    """The legend text of fixed points with ``k`` unstable directions."""
    return "stable" if k == 0 else f"{k} unstable direction{'s' if k > 1 else ''}"
