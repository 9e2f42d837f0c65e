"""Ensembles: K networks of one shape trained as one batched model against one network alone.

Every figure is measured side by side in this process: the variants run round-robin and the best of
``--repeats`` is kept, so a busy machine penalises them alike; the machine's rate for the batched
products the ensemble runs on is measured too. A *training iteration* is what the trainers do per
step: draw the batch (K batches: each member's own seed), simulate, backward, clip the gradients (per
member), Adam. The task is the 3-bit flip-flop (batch 64, 100 steps of 10 ms), continuous-time tanh
rate networks.

Targets (issue 12): 16 networks of 64 units in at most 4x the wall time of one network; 32 networks of
128 units (measured, no target); 16 networks of 16 and of 32 units show where the time per operation,
which an ensemble shares, still dominates.

Each configuration runs twice: with the thread counts the trainers choose (one intra-op thread for a
single small network, ``few_threads``; all threads for the ensemble, whose step is large), and with one
thread for both (what each worker of a sweep has).

Run: ``python benchmarks/bench_ensembles.py [--quick] [--repeats 5] [--threads 2] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rnnscope import RateRNN, Trainer, TrainingConfig, tasks
from rnnscope._threads import SMALL_WORK
from rnnscope.models import RateEnsemble
from rnnscope.training import EnsembleTrainer, derive_seed

B = 64


def _trainers(K: int, N: int):
    task = tasks.make("flipflop")
    config = lambda s: TrainingConfig(batch_size=B, learning_rate=1e-2, eval_every=10**9,  # noqa: E731
                                      checkpoint_every=10**9, seed=s)
    single = Trainer(RateRNN(3, N, 3, dt=task.dt, seed=0), task, config(0), progress=False)
    ensemble = EnsembleTrainer(RateEnsemble([RateRNN(3, N, 3, dt=task.dt, seed=s) for s in range(K)]), task,
                               [config(s) for s in range(K)], progress=False)
    return task, single, ensemble


def _time(fn, threads: int) -> float:
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(n)


def _pieces(trainer: EnsembleTrainer, task, threads: int) -> dict[str, float]:
    """Where an ensemble iteration goes: drawing the batches, forward, backward, clipping + Adam."""
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        members = [trainer.members[k] for k in trainer.active]
        t0 = time.perf_counter()
        batches = [task.sample(B, seed=derive_seed(m.config.seed, "batch", 0)) for m in members]
        U, noise = trainer._stack(batches, [derive_seed(m.config.seed, "noise", 0) for m in members])
        t1 = time.perf_counter()
        _, outputs = trainer.model.simulate_members(U, noise=noise)
        loss = sum(trainer.loss_fn(outputs[i], b.targets, b.mask) for i, b in enumerate(batches))
        t2 = time.perf_counter()
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        trainer._clip_per_member(1.0)
        trainer.optimizer.step()
        t4 = time.perf_counter()
    finally:
        torch.set_num_threads(n)
    return {"batches": t1 - t0, "forward": t2 - t1, "backward": t3 - t2, "clip_adam": t4 - t3}


def _bmm_rate(K: int, N: int, threads: int) -> float:
    """GFLOP/s of the forward step's product, (K, 64, N) by (K, N, N)."""
    a, b, out = torch.randn(K, B, N), torch.randn(K, N, N), torch.empty(K, B, N)
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(5):
            torch.bmm(a, b, out=out)
        reps = 50
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(reps):
                torch.bmm(a, b, out=out)
            best = min(best, (time.perf_counter() - start) / reps)
    finally:
        torch.set_num_threads(n)
    return 2 * K * B * N * N / best / 1e9


def measure(K: int, N: int, repeats: int, threads: int) -> dict:
    task, single, ensemble = _trainers(K, N)
    for _ in range(2):  # warm up (allocations, the first Adam step)
        single.train_step()
        ensemble.train_step()
    out = {"members": K, "units": N}
    chosen = [1 if work < SMALL_WORK else threads for work in (B * N * N, K * B * N * N)]  # the trainers' rule
    for label, t_single, t_ens in (("as the trainers choose", *chosen), ("one thread each", 1, 1)):
        best_s = best_e = float("inf")
        for _ in range(repeats):  # round-robin
            best_s = min(best_s, _time(single.train_step, t_single))
            best_e = min(best_e, _time(ensemble.train_step, t_ens))
        out[label] = {"threads": [t_single, t_ens], "single_ms": 1e3 * best_s, "ensemble_ms": 1e3 * best_e,
                      "ratio": best_e / best_s, "speedup_over_one_by_one": K * best_s / best_e}
    pieces = [_pieces(ensemble, task, chosen[1]) for _ in range(repeats)]
    out["ensemble_pieces_ms"] = {k: 1e3 * min(p[k] for p in pieces) for k in pieces[0]}
    flops = 6 * B * N * N * 100 * K  # forward, backward and weight-gradient products of the recurrence
    out["recurrent_gflop_per_iteration"] = flops / 1e9
    out["bmm_gflops"] = {"1 thread": _bmm_rate(K, N, 1), f"{threads} threads": _bmm_rate(K, N, threads)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller ensembles, fewer repeats (a smoke test)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as during a fit
    configs = [(4, 16)] if args.quick else [(16, 16), (16, 32), (16, 64), (32, 128)]
    repeats = 2 if args.quick else args.repeats
    results = [measure(K, N, repeats, args.threads) for K, N in configs]
    print(f"{'ensemble':>12} {'threads':>10} {'one (ms)':>9} {'K (ms)':>9} {'ratio':>6} {'vs one by one':>14}")
    for r in results:
        for label in ("as the trainers choose", "one thread each"):
            m = r[label]
            print(f"{r['members']:>3} x {r['units']:<6} {str(m['threads']):>10} {m['single_ms']:9.1f} "
                  f"{m['ensemble_ms']:9.1f} {m['ratio']:6.2f} {m['speedup_over_one_by_one']:13.1f}x")
        pieces = ", ".join(f"{k} {v:.1f}" for k, v in r["ensemble_pieces_ms"].items())
        print(f"    ensemble iteration, ms: {pieces}; {r['recurrent_gflop_per_iteration']:.2f} GFLOP of recurrent "
              f"products; bmm rate {', '.join(f'{k}: {v:.0f}' for k, v in r['bmm_gflops'].items())} GFLOP/s")
    target = next((r for r in results if (r["members"], r["units"]) == (16, 64)), None)
    if target is not None:
        ratio = target["as the trainers choose"]["ratio"]
        print(f"target: 16 x 64 units in at most 4x the time of one: {ratio:.2f}x ({'met' if ratio <= 4 else 'not met'})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
