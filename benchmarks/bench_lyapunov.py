"""Full Lyapunov spectrum of a chaotic random network: rnnscope vs a straightforward numpy version.

Network: N = 400 tanh units, J_ij ~ N(0, g^2/N) with g = 2 and zero diagonal, tau = 1 ms, dt = 0.1 ms.
Both versions start from the same state (on the attractor, after a transient) and the same
orthonormal basis, run the same number of Euler steps and must give the same exponents.

The numpy baseline is what one writes first: build the N x N Jacobian of the Euler map every step,
multiply the basis by it, QR every step.

rnnscope's loop never builds the Jacobian (one ``addmm``: ``(1 - alpha) Q + alpha J (phi' Q)``) and
can re-orthonormalise every ``qr_every`` steps; the diagonal of a product of triangular factors is
the product of their diagonals, so the exponents are the same.

Run: ``python benchmarks/bench_lyapunov.py [--steps 300] [--repeats 3] [--threads 2]``. The variants run
round-robin and the best time of each is kept, so a busy machine penalises them alike.
"""

from __future__ import annotations

import argparse
import os
import time

import sys


def _threads_argument() -> int:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 2


os.environ["OPENBLAS_NUM_THREADS"] = str(_threads_argument())  # numpy's BLAS: as many threads as torch

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rnnscope.analysis import lyapunov_spectrum  # noqa: E402
from rnnscope.dynamics import simulate  # noqa: E402
from rnnscope.models import RateRNN  # noqa: E402

N, G, TAU, DT, SEED = 400, 2.0, 1.0, 0.1, 0


def numpy_spectrum(J: np.ndarray, x0: np.ndarray, Q0: np.ndarray, n_steps: int) -> np.ndarray:
    """Benettin's method, written plainly: full Jacobian each step, QR each step."""
    n = len(x0)
    eye = np.eye(n)
    x, Q = x0.copy(), Q0.copy()
    logs = np.zeros(Q.shape[1])
    for _ in range(n_steps):
        jac = (-eye + J * (1.0 - np.tanh(x) ** 2)[None, :]) / TAU  # d f / d x of tau dx/dt = -x + J tanh(x)
        M = eye + DT * jac  # Jacobian of the Euler map
        x = x + DT * (-x + J @ np.tanh(x)) / TAU
        Q, R = np.linalg.qr(M @ Q)
        d = np.diag(R)
        Q = Q * np.sign(d)
        logs += np.log(np.abs(d))
    return np.sort(logs / (n_steps * DT))[::-1]


def initial_basis(seed: int) -> np.ndarray:
    """The basis lyapunov_spectrum starts from when initial_state is given (see _initial_basis)."""
    gen = torch.Generator().manual_seed(seed)
    A = torch.stack([torch.randn(N, generator=gen, dtype=torch.float64) for _ in range(N)], dim=1).numpy()
    Q, R = np.linalg.qr(A)
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def best_of_round_robin(fns: dict, repeats: int) -> dict:
    """{name: (best wall seconds, best process CPU seconds, last output)}, the functions run in turn.

    CPU time (all threads of this process) is reported next to wall time because on a shared machine
    the wall time also counts the time other processes hold the cores.
    """
    best = {name: (float("inf"), float("inf"), None) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            out = fn()
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu), out)
    return best


def micro(fn, n: int = 20) -> float:
    fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and numpy BLAS threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = RateRNN(0, N, 0, tau=TAU, dt=DT, g=G, autapses=False, bias=False, seed=SEED, dtype=torch.float64)
    x_rand = torch.randn(N, generator=torch.Generator().manual_seed(123), dtype=torch.float64)
    with torch.no_grad():  # onto the attractor (100 tau)
        x0 = simulate(model, torch.zeros(1, 1000, 0, dtype=torch.float64), x_rand).states[0, -1]
    J = model.recurrent_matrix().detach().numpy().copy()
    Q0 = initial_basis(SEED)
    steps = args.steps

    fns = {"numpy (Jacobian + QR every step)": lambda: numpy_spectrum(J, x0.numpy(), Q0, steps)}
    for qr_every in (1, 10, 20, 50):
        fns[f"rnnscope (qr_every={qr_every})"] = lambda q=qr_every: lyapunov_spectrum(
            model, n_steps=steps, transient_steps=0, basis_transient_steps=0, initial_state=x0,
            qr_every=q, seed=SEED, progress=False).exponents.numpy()
    load = os.getloadavg()[0]
    best = best_of_round_robin(fns, args.repeats)
    t_np, c_np, ex_np = best.pop("numpy (Jacobian + QR every step)")
    rows = [("numpy (Jacobian + QR every step)", t_np, c_np, None)] + [(k, *v) for k, v in best.items()]

    print(f"Full Lyapunov spectrum, N={N}, g={G}, tau={TAU} ms, dt={DT} ms, {steps} steps, "
          f"best of {args.repeats}, {args.threads} thread(s), load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'':34s} {'wall ms/step':>12s} {'speed-up':>9s} {'CPU ms/step':>12s} {'speed-up':>9s} "
          f"{'max |diff| (1/ms)':>18s}")
    for name, t, c, ex in rows:
        diff = "" if ex is None else f"{np.abs(ex - ex_np).max():.2e}"
        print(f"{name:34s} {1e3 * t / steps:12.3f} {t_np / t:8.1f}x {1e3 * c / steps:12.3f} {c_np / c:8.1f}x "
              f"{diff:>18s}")
    print(f"largest exponents (numpy): {np.round(ex_np[:4], 4).tolist()} per ms; "
          f"mean {ex_np.mean():.4f} (log(1 - dt/tau)/dt = {np.log(1 - DT / TAU) / DT:.4f})")

    # where the time goes: the pieces of one step at this size
    Jt = torch.from_numpy(J)
    Qt = torch.from_numpy(Q0.copy())
    buf = torch.empty_like(Qt)
    a, tau = torch.geqrf(Qt)
    print("one step's pieces (median ms): "
          f"torch addmm {1e3 * micro(lambda: torch.addmm(Qt, Jt, Qt, beta=0.9, alpha=0.1, out=buf)):.2f}, "
          f"torch QR (geqrf {1e3 * micro(lambda: torch.geqrf(Qt)):.2f} + "
          f"householder_product {1e3 * micro(lambda: torch.linalg.householder_product(a, tau)):.2f}); "
          f"numpy matmul {1e3 * micro(lambda: J @ Q0):.2f}, numpy QR {1e3 * micro(lambda: np.linalg.qr(Q0)):.2f}, "
          f"numpy Jacobian build {1e3 * micro(lambda: np.eye(N) + DT * (-np.eye(N) + J * Q0[0][None, :])):.2f}")


if __name__ == "__main__":
    main()
