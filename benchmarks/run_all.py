"""Run every benchmark and print its table: ``python benchmarks/run_all.py [--quick]``.

1-4: ``bench_training.py`` (training iteration vs torch.nn.RNN and the naive loop, memory, low rank,
trial generation vs neurogym); 5: ``bench_fixed_points.py`` (vs batched Adam on q); 6:
``bench_lyapunov.py`` (vs a straightforward numpy implementation). Each runs in its own process;
each figure in its table is a ratio measured side by side within that process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test of every benchmark)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    threads = ["--threads", str(args.threads)]
    runs = [
        ["bench_training.py", *threads, *(["--quick"] if args.quick else [])],
        ["bench_fixed_points.py", *threads, *(["--networks", "64-criterion", "--repeats", "1", "--draws", "1"]
                                              if args.quick else ["--networks", "64-criterion", "64-500steps",
                                                                  "256-criterion"])],
        ["bench_lyapunov.py", *threads, *(["--steps", "100", "--repeats", "1"] if args.quick else [])],
    ]
    failed = 0
    for cmd in runs:
        print(f"\n=== {' '.join(cmd)} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"[{cmd[0]}: {time.perf_counter() - t0:.0f} s, exit {rc}]", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
