"""The worked example of docs/similarity.md: one perceptual-decision network against three others.

Train the networks, then compare::

    rnnscope train perceptual_decision --seed 0 --out pd0
    rnnscope train perceptual_decision --seed 1 --out pd1
    rnnscope train measure_set_go --seed 0 --steps 1000 --out msg
    python examples/similarity_worked_example.py pd0 pd1 msg [--out DIR]

Network A (pd0) and each of B = the other seed, the measure-set-go network (same two inputs, another
task) and an untrained network of A's architecture (seed 7) are driven by the same 64 perceptual-
decision trials; SVCCA, the Procrustes angle and RSA of their rates are computed with 200-permutation
nulls (``compare_activity``). Prints the table of the docs and writes ``DIR/sim_worked_example.png``
(default DIR: ``./rnnscope-examples/similarity_worked_example/``; the docs' figure is made with
``--out docs/figures/data``).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from rnnscope import RateRNN, simulate  # noqa: E402
from rnnscope.analysis import compare_activity  # noqa: E402
from rnnscope.runs import load_run  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("runs", type=Path, nargs=3, metavar="RUN",
                    help="the run folders of network A, the other seed and the other task")
parser.add_argument("--out", type=Path, default=Path("rnnscope-examples/similarity_worked_example"),
                    help="folder for the figure (default: ./rnnscope-examples/similarity_worked_example)")
args = parser.parse_args()
(a_dir, seed_dir, other_dir), out = args.runs, args.out
out.mkdir(parents=True, exist_ok=True)
a = load_run(a_dir)
batch = a.task.sample(64, seed=0)


def rates(model):
    with torch.no_grad():
        return model.rates(simulate(model, batch.inputs, noise=False).states)


m = a.model
untrained = RateRNN(input_size=m.input_size, hidden_size=m.hidden_size, output_size=m.output_size,
                    tau=m.tau, dt=m.dt, seed=7)
others = {"other seed": load_run(seed_dir).model, "other task": load_run(other_dir).model, "untrained": untrained}
A = rates(m)
results = {name: compare_activity(A, rates(model), n_permutations=200, seed=0) for name, model in others.items()}

print(f"{'network B':<12} {'SVCCA (null)':>22} {'Procrustes rad (null)':>24} {'RSA (null)':>24}")
for name, res in results.items():
    print(f"{name:<12} " + " ".join(f"{r.score:8.3f} ({r.null.mean():6.3f} +- {r.null.std():5.3f})" for r in res.values()))

titles = {"cca": "SVCCA (k = 10), higher = similar", "procrustes": "Procrustes angle (rad), lower = similar",
          "rsa": "RSA (1 - corr. RDM, Spearman)"}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, metric in zip(axes, titles):
    for i, (name, res) in enumerate(results.items()):
        parts = ax.violinplot([res[metric].null], positions=[i], showextrema=False)
        for body in parts["bodies"]:
            body.set_color(f"C{i}")
            body.set_alpha(0.3)
        ax.plot(i, res[metric].score, "o", color="C3", ms=8, label="score vs network A" if i == 0 else None)
    ax.set_xticks(range(len(results)), list(results))
    ax.set_title(titles[metric], fontsize=9)
axes[0].legend(fontsize=7, loc="lower left")
fig.suptitle(f"perceptual-decision network A ({m.hidden_size} units, seed 0) vs three networks, "
             "on the same 64 trials; shaded: permutation nulls", fontsize=10)
fig.tight_layout()
fig.savefig(out / "sim_worked_example.png", dpi=100)
print("figure:", out / "sim_worked_example.png")
