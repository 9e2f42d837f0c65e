"""The interactive 3-D state space of the analysis report (plotly.js, inline, offline).

Trajectories are lines coloured by condition (dashed by a second variable), fixed points are markers
by stability (filled: stable; open: saddles, coloured by their number of unstable directions), and
each saddle carries short segments along its unstable directions. Hovering a fixed point shows its
``q``, its unstable directions and its leading eigenvalues; a time slider (with a play button) draws
the trajectories up to a time and marks where each one is.

The figure is a plotly.js specification built here as plain JSON (the ``plotly`` Python package is
not imported: only its bundled ``plotly.min.js`` is inlined into the page, see ``_html.plotly_script``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.colors import to_hex

from ..analysis import FixedPoints
from ..plotting._style import SLOW_POINT_COLOR, unstable_color
from ._html import human, json_script

__all__ = ["Trajectories", "fixed_point_traces", "state_space_view", "VIEW_SCRIPT"]

#: Marker symbols of the fixed points of successive input conditions (filled when stable).
_SYMBOLS = ("circle", "diamond", "square")
#: Plotly dash patterns for successive values of the second variable.
_DASHES = ("solid", "dash", "dot", "dashdot")
#: Leading eigenvalues shown when hovering a fixed point.
_N_EIGENVALUES = 3


def _round(values: np.ndarray) -> list:
    """Coordinates with 4 significant digits (the page stays small; the .npz files keep all)."""
    return np.vectorize(lambda v: float(f"{v:.4g}"), otypes=[float])(np.asarray(values, dtype=float)).tolist()


@dataclass(frozen=True)
class Trajectories:
    """Projected trajectories to draw.

    Attributes:
        xyz: coordinates in the three axes of the view.
        lengths: valid steps of each trajectory.
        names: legend name of each trajectory (one entry per distinct name).
        colors: CSS colour of each trajectory.
        dashes: index of the dash pattern of each trajectory.
        times: time of each step (``time_unit``).
        time_unit: ``"ms"`` or ``"step"``.

    Shape:
        - xyz: (n, time, 3); lengths, names, colors, dashes: (n,); times: (time,)
    """

    xyz: np.ndarray
    lengths: Sequence[int]
    names: Sequence[str]
    colors: Sequence[str]
    dashes: Sequence[int]
    times: Sequence[float]
    time_unit: str


def _eigen_text(values: np.ndarray, time: str) -> str:
    """The leading eigenvalues, a complex pair written once as ``a \u00b1 bi``."""
    shown: list[str] = []
    for v in values:
        if len(shown) == _N_EIGENVALUES:
            break
        if v.imag < 0 and any(np.isclose(v.conjugate(), w) for w in values):
            continue
        text = human(float(v.real))
        if v.imag != 0:
            text += f" \u00b1 {human(abs(float(v.imag)))}i"
        if time == "discrete":
            text += f" (|\u03bb| {human(float(abs(v)))})"
        shown.append(text)
    return ", ".join(shown)


def fixed_point_traces(
    condition: str,
    index: int,
    fps: FixedPoints,
    basis: torch.Tensor,
    origin: torch.Tensor,
    segment: float,
) -> list[dict]:
    """Plotly traces of the fixed points found under one input condition, projected on ``basis``.

    Args:
        condition: the name of the input condition (legend and hover).
        index: the condition's position, which picks its marker symbol.
        fps: the points (slow points included, drawn as small grey markers).
        basis: orthonormal rows spanning the view, e.g. ``pca.components_[:3]``.
        origin: the state at the origin of the view, e.g. ``pca.mean_``.
        segment: length of an unstable direction lying entirely in the view (shorter in proportion
            to the part of the direction that lies in it).

    Shape:
        - basis: (3, hidden_size); origin: (hidden_size,)
    """
    if len(fps) == 0:
        return []
    basis, origin = basis.to(torch.float64), origin.to(torch.float64)
    xyz = ((fps.states.to(torch.float64) - origin) @ basis.T).numpy()
    symbol = _SYMBOLS[index % len(_SYMBOLS)]
    eig = fps.eigenvalues.numpy()
    unit = "1/ms" if fps.time == "continuous" else "per step"
    groups: dict[str, dict] = {}
    seg_x: list[float | None] = []
    seg_y: list[float | None] = []
    seg_z: list[float | None] = []
    for i, (label, k) in enumerate(zip(fps.stability, fps.n_unstable.tolist())):
        lines = [f"<b>{html.escape(condition)}: {label}</b>", f"q = {human(float(fps.q[i]))}",
                 f"unstable directions: {k}",
                 f"leading eigenvalues ({unit}): {_eigen_text(eig[i], fps.time)}"]
        for j in range(k):  # the unstable directions: segments through the point
            v = fps.eigenvectors[i, :, j]
            if float(v.imag.abs().max()) > 1e-9:  # a complex pair spans a plane: no single segment
                continue
            d = (basis @ v.real.to(torch.float64)).numpy()
            share = float(np.linalg.norm(d))
            lines.append(f"unstable direction {j + 1}: {human(100 * share, 3)}% in this view")
            if share > 0:
                a, b = xyz[i] - 0.5 * segment * d, xyz[i] + 0.5 * segment * d
                seg_x += [float(a[0]), float(b[0]), None]
                seg_y += [float(a[1]), float(b[1]), None]
                seg_z += [float(a[2]), float(b[2]), None]
        if fps.time == "continuous" and eig.shape[1] and float(eig[i, 0].real) < 0:
            lines.append(f"slowest time constant: {human(-1.0 / float(eig[i, 0].real))} ms")
        key = "slow points" if label == "slow" else ("stable" if k == 0 else f"{k} unstable")
        group = groups.setdefault(key, {"x": [], "y": [], "z": [], "text": [], "k": k, "slow": label == "slow"})
        for axis, value in zip("xyz", xyz[i]):
            group[axis].append(float(value))
        group["text"].append("<br>".join(lines))
    traces = []
    for key, g in sorted(groups.items(), key=lambda kv: (kv[1]["slow"], kv[1]["k"])):
        if g["slow"]:
            marker = {"size": 3, "color": to_hex(SLOW_POINT_COLOR), "symbol": symbol}
        elif g["k"] == 0:
            marker = {"size": 6, "color": "black", "symbol": symbol}
        else:
            color = to_hex(unstable_color(g["k"]))  # as in the static figures
            marker = {"size": 6, "color": color, "symbol": f"{symbol}-open", "line": {"width": 2}}
        traces.append({"type": "scatter3d", "mode": "markers", "name": f"{condition}: {key} ({len(g['x'])})",
                       "legendgroup": f"fp-{index}", "x": _round(np.array(g["x"])), "y": _round(np.array(g["y"])),
                       "z": _round(np.array(g["z"])), "text": g["text"], "hovertemplate": "%{text}<extra></extra>",
                       "marker": marker})
    if seg_x:
        traces.append({"type": "scatter3d", "mode": "lines", "name": f"{condition}: unstable directions",
                       "legendgroup": f"fp-{index}", "x": seg_x, "y": seg_y, "z": seg_z, "hoverinfo": "skip",
                       "line": {"color": "#555555", "width": 3}})
    return traces



def state_space_view(
    element_id: str,
    trajectories: Trajectories,
    point_traces: Sequence[dict],
    *,
    axis_labels: Sequence[str],
    title: str,
) -> str:
    """The HTML of one interactive view: the plot, its time slider and play button, and its data.

    The page must hold plotly.js and :data:`VIEW_SCRIPT` (once, whatever the number of views).
    """
    tr = trajectories
    n, T, _ = tr.xyz.shape
    traces: list[dict] = []
    seen: set[str] = set()
    for i in range(n):
        traces.append({"type": "scatter3d", "mode": "lines", "name": tr.names[i], "legendgroup": tr.names[i],
                       "showlegend": tr.names[i] not in seen, "x": [], "y": [], "z": [], "customdata": [],
                       "line": {"color": tr.colors[i], "width": 4, "dash": _DASHES[tr.dashes[i] % len(_DASHES)]},
                       "hovertemplate": f"{html.escape(tr.names[i])}<br>t = %{{customdata}} {tr.time_unit}"
                                        "<extra></extra>"})
        seen.add(tr.names[i])
    now = len(traces)
    traces.append({"type": "scatter3d", "mode": "markers", "name": "now", "showlegend": False, "hoverinfo": "skip",
                   "x": [], "y": [], "z": [], "marker": {"size": 4, "color": list(tr.colors),
                                                      "line": {"color": "white", "width": 1}}})
    traces += list(point_traces)
    axes = {f"{a}axis": {"title": {"text": label}} for a, label in zip("xyz", axis_labels)}
    spec = {
        "data": traces,
        "layout": {"title": {"text": title, "font": {"size": 15}}, "height": 640, "uirevision": "keep",
                   "margin": {"l": 0, "r": 0, "t": 40, "b": 0}, "scene": {**axes, "aspectmode": "cube"},
                   "legend": {"x": 0.99, "xanchor": "right", "y": 0.98, "bgcolor": "rgba(255,255,255,0.8)"},
                   "hoverlabel": {"align": "left"}},
        "config": {"displaylogo": False, "responsive": True,
                   "toImageButtonOptions": {"format": "png", "filename": element_id}},
        "trajectories": {"x": [_round(tr.xyz[i, :, 0]) for i in range(n)],
                         "y": [_round(tr.xyz[i, :, 1]) for i in range(n)],
                         "z": [_round(tr.xyz[i, :, 2]) for i in range(n)],
                         "lengths": [int(v) for v in tr.lengths], "traces": list(range(n)), "now": now,
                         "times": _round(np.asarray(tr.times)), "unit": tr.time_unit},
    }
    eid = html.escape(element_id)
    return "\n".join([
        f"<div id='{eid}' class='state-space-view'></div>",
        "<div class='view-controls'>",
        f"<button type='button' id='{eid}-play'>Play</button>",
        f"<input type='range' id='{eid}-time' min='0' max='{T - 1}' step='1' value='{T - 1}' "
        f"aria-label='time along the trials'>",
        f"<span id='{eid}-label'></span>",
        "</div>",
        json_script(f"{element_id}-data", spec),
        f"<script>rnnscopeStateSpace('{eid}');</script>",
    ])


#: The script behind every view: draws it, then redraws the trajectories up to the slider's time.
VIEW_SCRIPT = """<script>
function rnnscopeStateSpace(id) {
  var spec = JSON.parse(document.getElementById(id + "-data").textContent);
  var div = document.getElementById(id), slider = document.getElementById(id + "-time");
  var label = document.getElementById(id + "-label"), play = document.getElementById(id + "-play");
  var tr = spec.trajectories, last = tr.times.length - 1, timer = null;
  function show(k) {
    var x = [], y = [], z = [], times = [], nx = [], ny = [], nz = [];
    for (var i = 0; i < tr.x.length; i++) {
      var n = Math.max(1, Math.min(k + 1, tr.lengths[i]));
      x.push(tr.x[i].slice(0, n)); y.push(tr.y[i].slice(0, n)); z.push(tr.z[i].slice(0, n));
      times.push(tr.times.slice(0, n));
      nx.push(tr.x[i][n - 1]); ny.push(tr.y[i][n - 1]); nz.push(tr.z[i][n - 1]);
    }
    label.textContent = "t = " + tr.times[k] + " " + tr.unit + (k === last ? " (end of the trials)" : "");
    return Plotly.restyle(div, {x: x, y: y, z: z, customdata: times}, tr.traces).then(function () {
      return Plotly.restyle(div, {x: [nx], y: [ny], z: [nz]}, [tr.now]);
    });
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "Play";
  }
  slider.addEventListener("input", function () { stop(); show(+slider.value); });
  play.addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    var k = +slider.value >= last ? 0 : +slider.value, by = Math.max(1, Math.round(last / 120));
    play.textContent = "Pause";
    timer = setInterval(function () {
      k = Math.min(k + by, last);
      slider.value = k;
      show(k);
      if (k >= last) { stop(); }
    }, 50);
  });
  Plotly.newPlot(div, spec.data, spec.layout, spec.config)
    .then(function () { return show(+slider.value); })
    .then(function () { div.setAttribute("data-drawn", "true"); });
}
</script>"""
