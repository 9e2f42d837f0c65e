"""examples/torch_gru_fixed_points.py at a tiny size: a GRU trained in plain PyTorch, opened with
from_torch, has the flip-flop's 8 stable memories (and the script writes its figure)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "torch_gru_fixed_points.py"


def test_the_example_finds_the_eight_memories_of_a_small_gru(tmp_path):
    # 16 units, 300 steps: about 10 s of training on one core (held-out performance ~0.98)
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--units", "16", "--steps", "300"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("fixed points by number of unstable"))
    counts = ast.literal_eval(line[line.index("{"):line.index("}") + 1])
    assert counts.get(0, 0) >= 8 and counts.get(1, 0) >= 12, proc.stdout
    assert (tmp_path / "gru_fixed_points.png").stat().st_size > 10_000
