"""Training on Yang et al. (2019)'s 20 tasks: time per 1000 trials, two ways of building the batches.

Both variants train the reproduction's network (256 softplus units, dt 20 ms, tau 100 ms, the paper's
noise) with the library's one trainer (fused recurrence, Adam, batches of 64); only the batches differ:

- ``mixed``: ``make("multitask")``, a rule and epochs drawn per trial: every batch mixes the 20 tasks
  and is padded to its longest trial (the unscored padding is simulated too);
- ``one rule``: ``make("multitask", rule_per="batch", timing="batch")``, a rule and one draw of the
  epochs per batch, as the original code trains: a batch costs its own trials' length.

Variants run round-robin in this process, each for ``--steps`` optimisation steps per round, best of
``--repeats`` rounds; the table reports seconds per 1000 trials, the mean simulated steps per trial
and the ratio, with the share of each step spent drawing the trials.

Run: ``python benchmarks/bench_multitask.py [--steps 40] [--repeats 3] [--threads 2]``
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnscope import RateRNN
from rnnscope.tasks import make
from rnnscope.training import Trainer, TrainingConfig


def _trainer(task) -> Trainer:
    model = RateRNN(85, 256, 33, dt=20.0, tau=100.0, nonlinearity="softplus", noise_std=0.05, seed=0)
    config = TrainingConfig(steps=10**9, batch_size=64, learning_rate=1e-3, grad_clip=None, eval_every=10**9,
                            eval_batch_size=64, stop_at_criterion=False, checkpoint_every=10**9, seed=0)
    return Trainer(model, task, config, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="optimisation steps per variant and round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tasks = {"mixed": make("multitask"), "one rule": make("multitask", rule_per="batch", timing="batch")}
    trainers = {name: _trainer(task) for name, task in tasks.items()}
    for tr in trainers.values():  # warm-up
        tr.train_step()
    best = {name: float("inf") for name in tasks}
    for _ in range(args.repeats):
        for name, tr in trainers.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                tr.train_step()
            best[name] = min(best[name], time.perf_counter() - t0)
    # simulated steps per trial and the cost of drawing the trials, on the same number of batches
    rows = {}
    for name, task in tasks.items():
        t0 = time.perf_counter()
        lengths = [task.sample(64, seed=10_000 + k).n_steps for k in range(args.steps)]
        sampling = time.perf_counter() - t0
        trials = args.steps * 64
        rows[name] = (1000 * best[name] / trials, sum(lengths) / len(lengths), sampling / best[name])
    print(f"multitask training, 256 softplus units, batch 64, {args.threads} threads, best of {args.repeats} x "
          f"{args.steps} steps")
    print(f"{'batches':<10} {'s / 1000 trials':>16} {'steps / trial':>14} {'drawing trials':>15}")
    for name, (per_k, steps, share) in rows.items():
        print(f"{name:<10} {per_k:>16.3f} {steps:>14.1f} {100 * share:>14.0f}%")
    print(f"one rule / mixed: {rows['one rule'][0] / rows['mixed'][0]:.2f}x the time per trial")


if __name__ == "__main__":
    main()
