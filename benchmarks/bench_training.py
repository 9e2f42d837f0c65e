"""Training and simulation speed: rnnscope's fused recurrence against torch.nn.RNN and the naive loop.

Every figure is a ratio measured side by side in this process (variants interleaved round-robin,
best of ``--repeats``), with the machine's matrix-multiply rate measured too, so a busy machine
penalises all variants alike. Targets (issue 6):

1. Training iteration (forward, backward, Adam) of a continuous-time tanh RateRNN, batch 64, 100
   steps, against ``torch.nn.RNN`` (tanh, fused C++, no leak) and the naive per-step autograd loop
   ``h = (1 - a) h + a (W tanh(h) + U u_t)`` with ``nn.Linear`` layers. At 256 units <= 0.85x the
   time of nn.RNN and >= 1.5x faster than the naive loop; at 128 units >= 2x faster than the naive
   loop; at 1024 units within 1.5x of the time its recurrent matrix products take at the measured
   rate of a product of that shape.
2. Peak memory of that iteration at 1024 units and 500 steps: at most half of the naive loop's
   (each variant in a fresh subprocess; peak resident memory above the state after setup).
3. Low rank (rank 2): forward simulation at 8192 units >= 50x faster per step than the same
   network with dense J; training a rank-1 network of 1024 units on ``context_decision`` >= 3x
   faster than the dense-J autograd loop.
4. Trial generation: >= 20x faster per trial than neurogym's ``Dataset`` for
   PerceptualDecisionMaking at dt = 20 ms, batch 1000 (skipped when neurogym is not installed).

Run: ``python benchmarks/bench_training.py [--quick] [--repeats 5] [--threads 2]``
(``python benchmarks/run_all.py`` runs every benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from torch import nn

from rnnscope import RateRNN, simulate, tasks

B, T_STEPS, N_IN, N_OUT, ALPHA = 64, 100, 4, 2, 0.2  # dt / tau = 20 / 100


# ---------------------------------------------------------------------------------------------- variants
class NaiveCTRNN(nn.Module):
    """The per-step autograd loop users write first."""

    def __init__(self, n: int):
        super().__init__()
        self.W = nn.Linear(n, n, bias=False)
        self.U = nn.Linear(N_IN, n)
        self.out = nn.Linear(n, N_OUT)
        self.n = n

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h = u.new_zeros(u.shape[0], self.n)
        states = []
        for t in range(u.shape[1]):
            h = (1 - ALPHA) * h + ALPHA * (self.W(torch.tanh(h)) + self.U(u[:, t]))
            states.append(h)
        return self.out(torch.tanh(torch.stack(states, 1)))


class TorchRNN(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.rnn = nn.RNN(N_IN, n, nonlinearity="tanh", batch_first=True)
        self.out = nn.Linear(n, N_OUT)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(u)[0])


class Ours(nn.Module):
    def __init__(self, n: int, fused: bool = True, **kw):
        super().__init__()
        self.model = RateRNN(input_size=N_IN, hidden_size=n, output_size=N_OUT, tau=100.0, dt=20.0, seed=0, **kw)
        self.fused = fused

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return simulate(self.model, u, noise=False, fused=self.fused).outputs


class DenseFromLowRank(nn.Module):
    """A rank-K network trained through its dense J = m n^T / N: the autograd loop on dense J."""

    def __init__(self, n: int, rank: int):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.m = nn.Parameter(torch.randn(n, rank, generator=g))
        self.nn_ = nn.Parameter(torch.randn(n, rank, generator=g))
        self.U = nn.Linear(N_IN, n)
        self.out = nn.Linear(n, N_OUT)
        self.n = n

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        J = self.m @ self.nn_.T / self.n
        h = u.new_zeros(u.shape[0], self.n)
        drive = self.U(u)
        states = []
        for t in range(u.shape[1]):
            h = (1 - ALPHA) * h + ALPHA * (torch.tanh(h) @ J.T + drive[:, t])
            states.append(h)
        return self.out(torch.tanh(torch.stack(states, 1)))


def _iteration(module: nn.Module, u: torch.Tensor, target: torch.Tensor):
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = (module(u) - target).square().mean()
        loss.backward()
        opt.step()

    return step


def _time_round_robin(fns: dict[str, callable], repeats: int) -> dict[str, float]:
    for fn in fns.values():  # warm-up
        fn()
    best = {k: float("inf") for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def matmul_rate(m: int, k: int, n: int, repeats: int = 20) -> float:
    """Measured FLOP/s of an (m, k) x (k, n) float32 product (best of repeats)."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
        best = min(best, (time.perf_counter() - t0) / 10)
    return 2 * m * k * n / best


# ---------------------------------------------------------------------------------------------- 1
def training_speed(sizes: list[int], repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        g = torch.Generator().manual_seed(1)
        u = torch.randn(B, T_STEPS, N_IN, generator=g)
        target = torch.randn(B, T_STEPS, N_OUT, generator=g)
        fns = {
            "rnnscope (fused)": _iteration(Ours(n), u, target),
            "rnnscope (plain loop)": _iteration(Ours(n, fused=False), u, target),
            "torch.nn.RNN": _iteration(TorchRNN(n), u, target),
            "naive loop": _iteration(NaiveCTRNN(n), u, target),
        }
        best = _time_round_robin(fns, repeats)
        # the recurrent products of one iteration: forward (B x N) x (N x N) per step, backward twice that
        rate = matmul_rate(B, n, n)
        matmul_time = 3 * T_STEPS * 2 * B * n * n / rate
        rows.append({"units": n, **{k: v for k, v in best.items()},
                     "matmul_time_at_measured_rate": matmul_time, "matmul_gflops": rate / 1e9})
    return rows


# ---------------------------------------------------------------------------------------------- 2
_MEMORY_CHILD = """
import sys, torch
sys.path.insert(0, {path!r})
from bench_training import _iteration, Ours, NaiveCTRNN, TorchRNN, N_IN, N_OUT, B
torch.set_num_threads({threads})
n, T, which = {n}, {t}, {which!r}
module = {{"rnnscope (fused)": lambda: Ours(n), "naive loop": lambda: NaiveCTRNN(n), "torch.nn.RNN": lambda: TorchRNN(n)}}[which]()
g = torch.Generator().manual_seed(1)
u, target = torch.randn(B, T, N_IN, generator=g), torch.randn(B, T, N_OUT, generator=g)
step = _iteration(module, u, target)
def status_kib(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))
before = status_kib("VmRSS")  # resident now (large blocks are mmapped, see below, so freed memory leaves RSS)
with open("/proc/self/clear_refs", "w") as fh:  # reset this process's peak (VmHWM) to its RSS now
    fh.write("5")
step()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so it reported the benchmark's own
# (parent) resident size whenever that was larger than the child's peak
print(status_kib("VmHWM") - before)
"""


def training_memory(n: int, t: int, threads: int) -> dict[str, float]:
    from pathlib import Path

    out = {}
    for which in ("rnnscope (fused)", "naive loop", "torch.nn.RNN"):
        code = _MEMORY_CHILD.format(path=str(Path(__file__).parent), threads=threads, n=n, t=t, which=which)
        # glibc: blocks >= 128 KiB are mmapped and unmapped on free, so the peak RSS is the peak of
        # live memory rather than of the heap's high-water mark from imports
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        out[which] = int(res.stdout.strip().splitlines()[-1]) / 1024  # MiB
    return out


# ---------------------------------------------------------------------------------------------- 3
def low_rank_forward(n: int, rank: int, steps: int, repeats: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    m, nv = torch.randn(n, rank, generator=g), torch.randn(n, rank, generator=g)
    low = RateRNN.from_low_rank(m, 2 * nv, torch.randn(n, N_IN, generator=g), tau=100.0, dt=20.0)
    dense = RateRNN.from_weights(2 * m @ nv.T / n, torch.randn(n, N_IN, generator=g), tau=100.0, dt=20.0)
    u = torch.randn(B, steps, N_IN, generator=g)

    def run(model):
        def f():
            with torch.no_grad():
                simulate(model, u, noise=False)
        return f

    best = _time_round_robin({"rank 2 (O(NK))": run(low), "dense J": run(dense)}, repeats)
    return {k: v / steps for k, v in best.items()}


def low_rank_training(n: int, repeats: int) -> dict[str, float]:
    task = tasks.make("context_decision")
    batch = task.sample(B, seed=0)
    u, target = batch.inputs, batch.targets.nan_to_num(0.0)

    class LowRank(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = RateRNN(input_size=task.input_size, hidden_size=n, output_size=task.output_size,
                                 rank=1, tau=100.0, dt=task.dt, seed=0)

        def forward(self, x):
            return simulate(self.model, x, noise=False).outputs

    global N_IN, N_OUT
    saved = N_IN, N_OUT
    N_IN, N_OUT = task.input_size, task.output_size
    try:
        fns = {"rank 1 (fused, O(NK))": _iteration(LowRank(), u, target),
               "dense-J autograd loop": _iteration(DenseFromLowRank(n, 1), u, target)}
        return _time_round_robin(fns, repeats)
    finally:
        N_IN, N_OUT = saved


# ---------------------------------------------------------------------------------------------- 4
def trial_generation(batch: int, repeats: int) -> dict[str, float] | None:
    try:
        import neurogym as ngym
    except ImportError:
        return None
    import warnings

    ours = tasks.make("perceptual_decision", dt=20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = ngym.make("PerceptualDecisionMaking-v0", dt=20)
        ds = ngym.Dataset(env, batch_size=batch, seq_len=100)
        best = _time_round_robin({"rnnscope": lambda: ours.sample(batch, seed=0), "neurogym Dataset": lambda: ds()},
                                 repeats)
    return {k: v / batch for k, v in best.items()}


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller memory and low-rank runs")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    repeats = args.repeats or (2 if args.quick else 5)
    report: dict = {"torch": torch.__version__, "threads": args.threads}

    print(f"torch {torch.__version__}, {args.threads} threads; ratios are side by side in this process\n")
    print(f"matrix-multiply rate: 64x256 @ 256x256 {matmul_rate(64, 256, 256) / 1e9:.1f} GFLOP/s, "
          f"1024^3 {matmul_rate(1024, 1024, 1024, 5) / 1e9:.0f} GFLOP/s\n")

    print(f"1. training iteration (forward + backward + Adam), batch {B}, {T_STEPS} steps, tanh, ms:")
    rows = training_speed([128, 256, 1024], repeats)
    report["training"] = rows
    print(f"   {'units':>5} {'fused':>8} {'plain':>8} {'nn.RNN':>8} {'naive':>8} {'matmul':>8}   "
          f"{'fused/nn.RNN':>12} {'naive/fused':>11} {'fused/matmul':>12}")
    for r in rows:
        f, p, t, nv, mm = (r["rnnscope (fused)"], r["rnnscope (plain loop)"], r["torch.nn.RNN"], r["naive loop"],
                           r["matmul_time_at_measured_rate"])
        print(f"   {r['units']:>5} {f * 1e3:8.1f} {p * 1e3:8.1f} {t * 1e3:8.1f} {nv * 1e3:8.1f} {mm * 1e3:8.1f}   "
              f"{f / t:12.2f} {nv / f:11.2f} {f / mm:12.2f}")

    n_mem, t_mem = 1024, 500
    mem = training_memory(n_mem, t_mem, args.threads)
    report["memory"] = {"units": n_mem, "steps": t_mem, **mem}
    print(f"\n2. peak memory of one training iteration, {n_mem} units, {t_mem} steps (MiB above setup): "
          + ", ".join(f"{k} {v:.0f}" for k, v in mem.items())
          + f"; fused / naive = {mem['rnnscope (fused)'] / mem['naive loop']:.2f}")

    n_low = 2048 if args.quick else 8192
    low = low_rank_forward(n_low, 2, 50, repeats)
    report["low_rank_forward"] = {"units": n_low, **low}
    print(f"\n3a. forward simulation per step, {n_low} units, rank 2, batch {B}: "
          + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in low.items())
          + f"; dense / low rank = {low['dense J'] / low['rank 2 (O(NK))']:.0f}x")
    lrt = low_rank_training(1024, repeats)
    report["low_rank_training"] = lrt
    print("3b. training iteration, rank 1, 1024 units, context_decision: "
          + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in lrt.items())
          + f"; dense / fused = {lrt['dense-J autograd loop'] / lrt['rank 1 (fused, O(NK))']:.1f}x")

    gen = trial_generation(1000, repeats)
    report["trial_generation"] = gen
    if gen is None:
        print("\n4. trial generation: neurogym not installed (pip install neurogym), skipped")
    else:
        print("\n4. trial generation per trial, PerceptualDecisionMaking, dt 20 ms, batch 1000: "
              + ", ".join(f"{k} {v * 1e6:.1f} us" for k, v in gen.items())
              + f"; neurogym / rnnscope = {gen['neurogym Dataset'] / gen['rnnscope']:.0f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
