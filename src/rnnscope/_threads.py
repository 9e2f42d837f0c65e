"""One intra-op thread for loops of small steps."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["few_threads", "SMALL_WORK"]

#: below this many multiply-adds per step a loop runs on one thread
SMALL_WORK = 2**20


@contextlib.contextmanager
def few_threads(work_per_step: int):
    """One intra-op thread for the duration of a loop of small steps, restored afterwards.

    A step of a small network is a few products of microseconds each; splitting them over threads
    gains nothing and costs a synchronisation per product, which on a busy 2-core machine (another
    process holding the other core) made runs 10-100x slower (Lyapunov loop at N = 200: 0.2 s ->
    20-40 s; a van der Pol fit: 7 s -> 66 s; measured).
    """
    n = torch.get_num_threads()
    if work_per_step >= SMALL_WORK or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
