"""Fixed points of a trained 3-bit flip-flop network: rnnscope vs plain batched Adam on q.

Networks: continuous-time tanh RateRNNs (tau = 20 ms, dt = 10 ms) of 64 and 256 units trained on
``tasks.make("flipflop")`` (Adam, lr 1e-2 and 3e-3), each once until the task's criterion (about 100
steps) and once for 500 steps without stopping. Their fixed points are the reference set of the
field: 27 = 8 stable (cube corners), 12 with one unstable direction (edges), 6 with two (faces), 1
with three (centre).

Both methods start from the same 1024 candidates: states of 128 noise-free trials plus Gaussian noise
(std 0.1), drawn with :func:`rnnscope.analysis.candidates_from_trajectories` (draw k: seed k).

* **rnnscope**: :func:`rnnscope.analysis.find_fixed_points` (dogleg trust-region Newton with the
  analytic Jacobian, float32 factorisations refined in float64 above 128 units, chord steps, the
  chord test that drops candidates the points found explain, midpoint seeding, polish in float64).
  Its time includes de-duplication and the classification of every point: the eigenvalues of its
  Jacobian (:func:`rnnscope.numerics.sorted_eigvals`), from which the number of unstable directions.
  The eigenvectors are computed when first read; "+eigenvectors" adds reading them.
* **Adam** (the FixedPointFinder recipe, Golub & Sussillo 2018): minimise the mean of
  ``q = |F(x)|^2 / 2`` over all candidates with Adam, learning rate 1.0, multiplied by 0.95 whenever
  the loss has not improved (by 1e-4 relative) for 5 steps, until every candidate has q < 1e-10 (or
  10,000 steps); then the same de-duplication (``tol_unique = 1e-3`` times the RMS norm of the
  candidates, lowest q kept). Run in float32 (and float64 with ``--dtypes``). "search" is that time;
  "+classify" adds the same classification as rnnscope's (the same call of
  :func:`rnnscope.numerics.sorted_eigvals` on the float64 Jacobians of the distinct points), so that
  both columns describe the same work; "+eigenvectors" adds instead the full decomposition
  (:func:`rnnscope.numerics.sorted_eig`).

The methods run round-robin (rnnscope, Adam float32, ...) ``--repeats`` times and the best time of
each is kept, so that a busy machine penalises them alike; each ratio is rnnscope's time over Adam's
in the same column, in the same process. ``OMP_WAIT_POLICY`` is PASSIVE unless set: with the
default, a thread waiting for a core that another process holds spins, and on a busy 2-core machine
every parallel op of either method can then take milliseconds.

Trained weights are cached in ``--cache`` (default: a folder in the system temp dir).

Measured: see docs/benchmarks.md.

Run: ``python benchmarks/bench_fixed_points.py [--networks 64-criterion ...] [--repeats 3] [--draws 3]
[--threads 2]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import torch  # noqa: E402

from rnnscope import RateRNN, Trainer, TrainingConfig, simulate, tasks  # noqa: E402
from rnnscope.analysis import candidates_from_trajectories, find_fixed_points  # noqa: E402
from rnnscope.numerics import sorted_eig, sorted_eigvals  # noqa: E402

TAU, N_CANDIDATES, NOISE, TOL_Q, TOL_UNIQUE = 20.0, 1024, 0.1, 1e-10, 1e-3
# (units, learning rate, training steps, stop at the task's criterion)
NETWORKS = {
    "64-criterion": (64, 1e-2, 2000, True),  # the network of the slow test: ~100 steps
    "64-500steps": (64, 1e-2, 500, False),  # trained on past the criterion
    "256-criterion": (256, 3e-3, 2000, True),
    "256-500steps": (256, 3e-3, 500, False),
}


def trained_network(name: str, cache: Path) -> RateRNN:
    size, lr, steps, stop = NETWORKS[name]
    task = tasks.make("flipflop")
    model = RateRNN(task.input_size, size, task.output_size, tau=TAU, dt=task.dt, seed=0)
    path = cache / f"flipflop_{name}_tau{TAU:g}_lr{lr:g}.pt"
    if path.exists():
        model.load_state_dict(torch.load(path))
        return model
    t0 = time.perf_counter()
    config = TrainingConfig(steps=steps, learning_rate=lr, stop_at_criterion=stop)
    result = Trainer(model, task, config, progress=False).fit()
    print(f"  trained {name}: {result.steps} steps, performance {result.performance:.3f}, "
          f"{time.perf_counter() - t0:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def candidates(model: RateRNN, seed: int = 0) -> torch.Tensor:
    batch = tasks.make("flipflop").sample(128, seed=1)
    with torch.no_grad():
        states = simulate(model, batch.inputs, noise=False).states
    return candidates_from_trajectories(states, N_CANDIDATES, noise_std=NOISE, seed=seed).double()


def adam_search(model: RateRNN, cand: torch.Tensor, dtype: torch.dtype, max_steps: int = 10_000):
    """The FixedPointFinder recipe: Adam on mean q, adaptive learning rate, then de-duplication."""
    m = copy.deepcopy(model).to(dtype).requires_grad_(False)
    x = cand.to(dtype).clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=1.0)
    best, waiting, steps = float("inf"), 0, 0
    for steps in range(1, max_steps + 1):
        q = 0.5 * m.vector_field(x).pow(2).sum(-1)
        if float(q.detach().max()) < TOL_Q:
            break
        loss = q.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = float(loss.detach())
        if value < best * (1 - 1e-4):
            best, waiting = value, 0
        else:
            waiting += 1
            if waiting >= 5:
                for group in opt.param_groups:
                    group["lr"] *= 0.95
                waiting = 0
    x = x.detach().double()
    with torch.no_grad():
        q = 0.5 * copy.deepcopy(model).double().vector_field(x).pow(2).sum(-1)
    converged = q < TOL_Q
    radius = TOL_UNIQUE * float(cand.pow(2).sum(-1).mean().sqrt())
    xs, qs = x[converged], q[converged]
    close = torch.cdist(xs, xs) <= radius
    taken = torch.zeros(len(xs), dtype=torch.bool)
    keep = []
    for i in torch.argsort(qs).tolist():  # greedy: lowest q first, drop everything within radius
        if not taken[i]:
            keep.append(i)
            taken |= close[i]
    return xs[keep], qs[keep], steps, int(converged.sum())


def classify(model: RateRNN, points: torch.Tensor, eigenvectors: bool = False) -> dict[int, int]:
    """The classification find_fixed_points makes: the sorted eigenvalues of each point's Jacobian
    (float64), unstable directions counted with its default tolerance; with ``eigenvectors``, from
    the full decomposition."""
    m64 = model.for_analysis()
    with torch.no_grad():
        jac = m64.jacobian(points)
        lam = sorted_eig(jac, m64.time)[0] if eigenvectors else sorted_eigvals(jac, m64.time)
    n_unstable = (lam.real > 1e-8 * lam.abs().amax(-1, keepdim=True)).sum(-1)
    values, counts = torch.unique(n_unstable, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--repeats", type=int, default=3, help="timing: best of this many round-robin runs")
    parser.add_argument("--draws", type=int, default=3, help="candidate sets (seeds) for the point counts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"],
                        help="precisions of the Adam baseline")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rnnscope_bench_fixed_points")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtypes = [getattr(torch, name) for name in args.dtypes]
    print(f"torch {torch.__version__}, {args.threads} threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; "
          f"times: best of {args.repeats} round-robin runs on candidate draw 0; {N_CANDIDATES} candidates (trial "
          f"states + noise {NOISE}); 3-bit flip-flop, tau {TAU:g} ms")
    for name in args.networks:
        model = trained_network(name, args.cache)
        draws = [candidates(model, seed) for seed in range(args.draws)]
        print(f"\n{name}")
        print(f"  {'method':<14}{'search s':>9}{'+classify s':>12}{'ratio':>7}{'+eigenvectors s':>16}{'ratio':>7}  "
              f"{'distinct per draw':<20}by_n_unstable, draw 0 (max q)")

        def ours(cand):
            return find_fixed_points(model, None, cand, progress=False).fixed()

        best: dict[str, float] = {}
        out: dict[str, object] = {}

        def keep(key: str, t: float) -> None:
            best[key] = min(best.get(key, float("inf")), t)

        for _ in range(args.repeats):  # round-robin: every method once per round
            t, out["rnnscope"] = timed(lambda: ours(draws[0]))
            keep("rnnscope", t)
            keep("rnnscope vectors", t + timed(lambda: out["rnnscope"].eigenvectors)[0])
            for dtype in dtypes:
                key = str(dtype)[6:]
                t_search, found = timed(lambda: adam_search(model, draws[0], dtype))
                t_class, by_k = timed(lambda: classify(model, found[0]))
                t_vectors = timed(lambda: classify(model, found[0], eigenvectors=True))[0]
                keep(key, t_search)
                keep(key + " classify", t_search + t_class)
                keep(key + " vectors", t_search + t_vectors)
                out[key] = (found, by_k)
        fixed = out["rnnscope"]
        counts = [len(fixed)] + [len(ours(c)) for c in draws[1:]]
        print(f"  {'rnnscope':<14}{'':>9}{best['rnnscope']:>12.3f}{'':>7}{best['rnnscope vectors']:>16.3f}{'':>7}  "
              f"{str(counts):<20}{fixed.by_n_unstable()} (max q {float(fixed.q.max()):.1e})")
        for dtype in dtypes:
            key = str(dtype)[6:]
            (points, q, steps, n_conv), by_k = out[key]
            counts = [len(points)] + [len(adam_search(model, c, dtype)[0]) for c in draws[1:]]
            ratio = best["rnnscope"] / best[key + " classify"]
            ratio_vectors = best["rnnscope vectors"] / best[key + " vectors"]
            print(f"  {'Adam ' + key:<14}{best[key]:>9.3f}{best[key + ' classify']:>12.3f}{ratio:>7.2f}"
                  f"{best[key + ' vectors']:>16.3f}{ratio_vectors:>7.2f}  {str(counts):<20}{by_k} "
                  f"(max q {float(q.max()):.1e}; {steps} steps, {n_conv}/{N_CANDIDATES} converged)")


if __name__ == "__main__":
    main()
