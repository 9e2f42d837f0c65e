"""This code against an earlier revision, side by side in one process: did a change cost speed?

``python benchmarks/bench_revisions.py --old-ref 1d3b70a`` exports the package of that git revision
(``git archive``) into a temporary folder under another name (``rnnscope_old``; the package imports
itself relatively, so it runs unchanged), imports both, and times the same workloads on each, round
robin, keeping the best of ``--repeats`` runs of each: a busy machine penalises both alike. Every
workload uses calls both revisions have, with the same weights and inputs, and checks that both
give the same answer before timing them.

Workloads (RateRNN, the model every earlier benchmark uses):
- ``lyapunov-400``: all 400 exponents of a random network (g = 2), 300 steps, QR every step (the
  tangent product ``J (phi' Q)``);
- ``lyapunov-1000-largest``: the largest exponent at 1000 units, 1000 steps;
- ``fixed-points-64``: the complete fixed-point search of a 64-unit flip-flop network from 1024
  candidates (trained once, by this revision, before timing);
- ``fixed-points-rank2``: the latent search of a rank-2 network (4000 units);
- ``flow-field-256``: a 40 x 40 flow field of a 256-unit network;
- ``simulate-1024``: a forward simulation at 1024 units, batch 64, 100 steps;
- ``train-256``: 30 training steps at 256 units on the flip-flop (fused forward and backward, Adam).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def export_old(ref: str, into: Path) -> None:
    """``src/rnnscope`` of git revision ``ref`` as the package ``rnnscope_old`` in ``into``."""
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "src/rnnscope"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "src" / "rnnscope").rename(into / "rnnscope_old")


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def workloads(pkg, shared: dict):
    """name -> (callable returning a comparable result) for package ``pkg``."""
    RateRNN = pkg.models.RateRNN
    analysis = importlib.import_module(f"{pkg.__name__}.analysis")
    simulate = pkg.dynamics.simulate

    def net(J, **kw):
        return RateRNN.from_weights(J.clone(), **kw)

    rand400 = net(shared["J400"], tau=1.0, dt=0.1, dtype=torch.float64)
    rand1000 = net(shared["J1000"], tau=1.0, dt=0.1, dtype=torch.float64)
    ff = RateRNN.from_weights(shared["ff_J"].clone(), shared["ff_I"].clone(), shared["ff_W"].clone(),
                              bias=shared["ff_b"].clone(), output_bias=shared["ff_bo"].clone(), tau=100.0,
                              dt=10.0)
    m, n = shared["m2"], shared["n2"]
    rank2 = RateRNN.from_low_rank(m.clone(), n.clone(), tau=100.0, dt=10.0, bias=False, dtype=torch.float64)
    net256 = net(shared["J256"], tau=100.0, dt=10.0)
    net1024 = RateRNN.from_weights(shared["J1024"].clone(), shared["I1024"].clone(), shared["W1024"].clone(),
                                   tau=100.0, dt=10.0)
    basis = shared["basis256"]
    # the flip-flop from the package's own module (an old registry may name its classes by the absolute
    # module path "rnnscope.tasks...", which would give this revision's class to the old trainer)
    task = importlib.import_module(f"{pkg.__name__}.tasks.flipflop").FlipFlop()

    def train():
        model = RateRNN(task.input_size, 256, task.output_size, tau=100.0, dt=task.dt, seed=0)
        cfg = pkg.training.TrainingConfig(steps=30, batch_size=64, learning_rate=1e-3, eval_every=1000,
                                          eval_batch_size=8, stop_at_criterion=False, checkpoint_every=1000)
        pkg.training.Trainer(model, task, cfg, progress=False).fit()
        return model.output_weight.detach().clone()

    return {
        "lyapunov-400": lambda: analysis.lyapunov_spectrum(rand400, n_steps=300, transient_steps=50,
                                                           progress=False).exponents,
        "lyapunov-1000-largest": lambda: analysis.largest_lyapunov_exponent(
            rand1000, n_steps=1000, transient_steps=100, progress=False).exponents,
        "fixed-points-64": lambda: analysis.find_fixed_points(ff, initial_states=shared["ff_states"],
                                                              progress=False).by_n_unstable(),
        "fixed-points-rank2": lambda: analysis.find_fixed_points(rank2, initial_states=None, n_candidates=256,
                                                                 progress=False).by_n_unstable(),
        "flow-field-256": lambda: analysis.flow_field(net256, basis, extent=2.0, resolution=40).U,
        "simulate-1024": lambda: simulate(net1024, shared["u1024"], noise=False).states[:, -1],
        "train-256": train,
    }


def make_shared() -> dict:
    """Weights and inputs both revisions get (the flip-flop network trained by this revision)."""
    from rnnscope import RateRNN, Trainer, TrainingConfig, simulate, tasks

    g = torch.Generator().manual_seed(0)
    out = {}
    for N, gain in ((400, 2.0), (1000, 2.0), (256, 1.5), (1024, 1.0)):
        J = torch.randn(N, N, generator=g, dtype=torch.float64) * gain / N**0.5
        J.fill_diagonal_(0.0)
        out[f"J{N}"] = J
    out["J1024"] = out["J1024"].float()
    out["J256"] = out["J256"].float()
    out["I1024"] = torch.randn(1024, 3, generator=g)
    out["W1024"] = torch.randn(3, 1024, generator=g) / 32
    out["u1024"] = torch.randn(64, 100, 3, generator=g)
    out["basis256"] = torch.linalg.qr(torch.randn(256, 2, generator=g, dtype=torch.float64)).Q.T.contiguous()
    K = 2
    out["m2"] = torch.randn(4000, K, generator=g, dtype=torch.float64) * 2
    out["n2"] = out["m2"] @ torch.tensor([[1.5, 0.0], [0.0, 1.5]], dtype=torch.float64) + \
        torch.randn(4000, K, generator=g, dtype=torch.float64)
    task = tasks.make("flipflop")
    model = RateRNN(task.input_size, 64, task.output_size, tau=100.0, dt=task.dt, seed=0)
    Trainer(model, task, TrainingConfig(steps=3000, learning_rate=1e-2, batch_size=64), progress=False).fit()
    out.update(ff_J=model.recurrent_matrix().detach(), ff_I=model.input_weight.detach(),
               ff_W=model.output_weight.detach(), ff_b=model.bias.detach(), ff_bo=model.output_bias.detach())
    with torch.no_grad():
        out["ff_states"] = simulate(model, task.sample(256, seed=1).inputs, noise=False).states
    return out


def same(a, b) -> bool:
    """Equal answers: counts exactly, arrays to float32 round-off (the fused tanh became torch's exact
    tanh after 1d3b70a, which moves float32 simulations by ~1e-7)."""
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6))
    return a == b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-ref", default="1d3b70a", help="the git revision to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="workload names")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # the old trainer left it on for good; the same setting for both sides
    tmp = Path(tempfile.mkdtemp(prefix="rnnscope-old-"))
    export_old(args.old_ref, tmp)
    sys.path.insert(0, str(tmp))
    import rnnscope
    import rnnscope_old

    for pkg in (rnnscope, rnnscope_old):
        for sub in ("models", "dynamics", "tasks", "training", "analysis"):
            importlib.import_module(f"{pkg.__name__}.{sub}")
    print(f"torch {torch.__version__}, {args.threads} threads; best of {args.repeats}, round robin; "
          f"old = {args.old_ref}, new = the working tree")
    shared = make_shared()
    new, old = workloads(rnnscope, shared), workloads(rnnscope_old, shared)
    names = args.only or list(new)
    print(f"{'workload':<24}{'old (s)':>10}{'new (s)':>10}{'new/old':>9}  same answer")
    for name in names:
        a, b = old[name](), new[name]()  # warm-up and the answers
        t_old, t_new = float("inf"), float("inf")
        for _ in range(args.repeats):
            t_old = min(t_old, best_of(old[name], 1))
            t_new = min(t_new, best_of(new[name], 1))
        gap = f" (max |difference| {(a.double() - b.double()).abs().max().item():.1e})" if isinstance(a, torch.Tensor) else ""
        print(f"{name:<24}{t_old:>10.4f}{t_new:>10.4f}{t_new / t_old:>9.3f}  {same(a, b)}{gap}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
