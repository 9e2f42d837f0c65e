"""Open a GRU trained in plain PyTorch and find all its fixed points (the 3-bit flip-flop).

An ``nn.GRU`` with an ``nn.Linear`` readout is trained in a few lines of ordinary PyTorch on the 3-bit
flip-flop trials of ``rnnscope.tasks``. ``from_torch`` then opens it as an rnnscope model that shares
its weights, and ``find_fixed_points`` finds the fixed points at zero input from the states the
network visits: 8 stable memories (the corners of a cube) and the saddles between them (12 with one
unstable direction on the cube's edges, 6 with two on its faces, 1 with three at its centre).

Run: ``python examples/torch_gru_fixed_points.py [--out DIR] [--units 32] [--steps 1500] [--seed 0]``;
it prints the counts ``{n_unstable: count}`` and writes ``DIR/gru_fixed_points.png`` (default DIR:
``./gru_fixed_points/``).
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from rnnscope import simulate, tasks  # noqa: E402
from rnnscope.analysis import PCA, find_fixed_points  # noqa: E402
from rnnscope.models import from_torch  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("gru_fixed_points"), help="folder for the figure")
parser.add_argument("--units", type=int, default=32, help="GRU units")
parser.add_argument("--steps", type=int, default=1500, help="training steps (batches of 64 trials)")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)  # a small network: threads only add synchronisation

# ---- plain PyTorch: a GRU and a readout trained on the 3-bit flip-flop
task = tasks.make("flipflop")  # inputs, targets and mask: (batch, time, 3)
torch.manual_seed(args.seed)
gru, linear = nn.GRU(3, args.units, batch_first=True), nn.Linear(args.units, 3)
optimiser = torch.optim.Adam([*gru.parameters(), *linear.parameters()], lr=1e-2)
start = time.perf_counter()
for step in range(args.steps):
    batch = task.sample(64, seed=step)
    h, _ = gru(batch.inputs)
    loss = ((linear(h) - batch.targets) ** 2 * batch.mask).sum() / batch.mask.sum()
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
print(f"trained {args.units} GRU units for {args.steps} steps in {time.perf_counter() - start:.0f} s, "
      f"last loss {loss.item():.4f}")

# ---- rnnscope: open the network (weights shared, not copied) and find its fixed points at zero input
model = from_torch(gru, readout=linear, dt=task.dt)
test = task.sample(256, seed=10**6)
with torch.no_grad():
    trajectory = simulate(model, test.inputs)
print("held-out performance:", round(task.evaluate(trajectory.outputs, test)["performance"], 4))
start = time.perf_counter()
fps = find_fixed_points(model, initial_states=trajectory, noise_std=0.02, progress=False)
print(f"fixed points by number of unstable directions: {fps.by_n_unstable()} "
      f"(max q {float(fps.fixed().q.max()):.1e}, {len(fps.slow())} slow points, "
      f"{time.perf_counter() - start:.1f} s)")

# ---- the figure: trajectories and fixed points in the first three principal components
pca = PCA(n_components=3).fit(trajectory.states)
pcs, points = pca.transform(trajectory.states), pca.transform(fps.fixed().states)
ax = plt.figure(figsize=(6, 5.5)).add_subplot(projection="3d")
for trial in pcs[:20]:
    ax.plot(*trial.T, color="0.75", lw=0.5)
colours = ["tab:blue", "tab:orange", "tab:red", "black"]
for k, count in fps.by_n_unstable().items():
    chosen = points[fps.fixed().n_unstable == k]
    ax.scatter(*chosen.T, color=colours[min(k, 3)], s=30, depthshade=False,
               label=f"{k} unstable ({count})" if k else f"stable ({count})")
ax.set(xlabel="PC 1", ylabel="PC 2", zlabel="PC 3", title="nn.GRU on the 3-bit flip-flop: fixed points")
ax.legend(loc="upper left", fontsize=8)
ax.figure.savefig(args.out / "gru_fixed_points.png", dpi=110, bbox_inches="tight")
print(f"wrote {args.out / 'gru_fixed_points.png'}")
