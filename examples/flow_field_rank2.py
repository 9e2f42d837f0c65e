"""Phase portrait of a rank-2 network: the exact latent flow, nullclines and all nine fixed points.

A rank-2 tanh network J = (m1 n1^T + m2 n2^T) / N with n_k = 2 m_k and independent random +-1
loadings m_k. The latent coordinates kappa_k obey kappa_k' = (-kappa_k + <n_k tanh(m1 kappa1 + m2
kappa2)>) / tau. The plane holds 9 fixed points: 4 stable ones on the axes (one kappa at +-K with
K = 2 tanh(K) = 1.915, the other 0), 4 saddles with one unstable direction on the diagonals
(kappa1 = +-kappa2 = +-k with k = tanh(2k) = 0.957) and the unstable centre (values for N -> infinity). (With Gaussian loadings the mean-field flow would be rotation invariant:
a ring of slow points instead.) Run: ``python examples/flow_field_rank2.py [--out DIR]``; it writes
``DIR/rank2_flow_field.png`` (default DIR: ``./rnnscope-examples/flow_field_rank2/``; the figure of the
docs is made with ``--out docs/figures/analysis``).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from rnnscope import RateRNN, simulate  # noqa: E402
from rnnscope.analysis import find_fixed_points, flow_field, latent_flow_field, nullclines  # noqa: E402
from rnnscope.plotting import plot_flow_field  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("rnnscope-examples/flow_field_rank2"),
                    help="folder for the figure (default: ./rnnscope-examples/flow_field_rank2)")
out = parser.parse_args().out
out.mkdir(parents=True, exist_ok=True)
N = 1000
g = torch.Generator().manual_seed(0)
m = torch.randn(N, 2, generator=g).sign()
model = RateRNN.from_low_rank(m, 2.0 * m, tau=20.0, dt=1.0)

# fixed points: the exact 2-D search of a low-rank network (no candidates needed)
fps = find_fixed_points(model)
print("fixed points by number of unstable directions:", fps.by_n_unstable(), f"max q {float(fps.q.max()):.1e}")
kappa = torch.linalg.lstsq(m.to(fps.states.dtype), fps.states.T).solution.T  # x = m kappa at u = 0
print(f"stable points: max |kappa| {kappa[fps.n_unstable == 0].abs().amax(1).mean():.3f} (N -> infinity: 1.915); "
      f"saddles: |kappa| {kappa[fps.n_unstable == 1].abs().mean():.3f} (0.957)")

# the exact latent flow and, on the same plane, the full N-dimensional one
lat = latent_flow_field(model, extent=2.4, resolution=31)
full = flow_field(model, m.T.to(torch.float64), extent=2.4, resolution=31)
err = float((torch.stack([lat.U, lat.V]) - torch.stack([full.U, full.V])).abs().max())
print(f"latent vs full flow on the plane: max difference {err:.1e}")

# a few trajectories from random states on the plane, projected on it
x0 = (m @ (torch.rand(12, 2, generator=g) * 4.4 - 2.2).T).T
traj = simulate(model, torch.zeros(12, 150, 0), x0, noise=False)
ax = plot_flow_field(lat, fixed_points=lat.project(fps.states), n_unstable=fps.n_unstable,
                     trajectories=lat.project(traj.states), nullclines=nullclines(lat),
                     title="rank-2 network: latent flow, nullclines, fixed points")
ax.figure.savefig(out / "rank2_flow_field.png", dpi=100, bbox_inches="tight")
plt.close(ax.figure)
print(f"wrote {out / 'rank2_flow_field.png'}")
