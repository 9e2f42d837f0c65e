"""The tutorials, executed once per pytest session: their test runs each one, the docs site renders the
executed copies (so the site shows the outputs that the test produced)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import rnnscope

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
#: Each tutorial must run top to bottom within this many seconds (on 2 CPU cores).
BUDGET_S = 180.0


class ExecutedTutorials:
    """Executes a tutorial on demand (in a fresh folder, as a reader would), once per session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seconds: dict[str, float] = {}
        self._done: dict[str, Path] = {}

    def __call__(self, notebook: Path) -> Path:
        if notebook.name not in self._done:
            nbformat = pytest.importorskip("nbformat", reason="the docs extra (pip install -e '.[docs]') runs the tutorials")
            nbclient = pytest.importorskip("nbclient", reason="the docs extra (pip install -e '.[docs]') runs the tutorials")
            nb = nbformat.read(notebook, as_version=4)
            workdir = self.folder / "work" / notebook.stem
            workdir.mkdir(parents=True)
            env = dict(os.environ)
            env.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures into the notebook
            # the kernel imports the rnnscope under test, wherever it is (a relative PYTHONPATH would not
            # survive the kernel's own working folder)
            source = str(Path(rnnscope.__file__).resolve().parents[1])
            env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
            client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                             resources={"metadata": {"path": str(workdir)}})
            start = time.perf_counter()
            client.execute(env=env)  # the kernel's environment (nbclient passes it to start_kernel)
            self.seconds[notebook.name] = time.perf_counter() - start
            out = self.folder / "executed" / notebook.name
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out)
            self._done[notebook.name] = out
        return self._done[notebook.name]


