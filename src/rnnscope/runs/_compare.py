"""``rnnscope compare A B``: load two run folders or data files and compare their activity."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_int
from ..analysis.similarity import METRICS, SimilarityResult, _pair, compare_activity
from ..data import NeuralData
from ..dynamics import simulate
from ..errors import CheckpointError, ConfigError, ShapeError
from ._folders import load_run

__all__ = ["ComparisonReport", "compare_sources"]


@dataclass
class ComparisonReport:
    """What ``rnnscope compare A B`` measured.

    Attributes:
        a, b: the two sources (run folders or data files).
        kind: ``"run-run"``, ``"run-data"``, ``"data-run"`` or ``"data-data"``.
        n_trials: trials compared; n_steps: time bins per trial.
        results: metric name -> :class:`SimilarityResult`.
        task: the task the runs were simulated on (None for two data files).
    """

    a: str
    b: str
    kind: str
    n_trials: int
    n_steps: int
    results: dict[str, SimilarityResult]
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "kind": self.kind, "task": self.task, "n_trials": self.n_trials,
                "n_steps": self.n_steps, "results": {k: r.to_dict() for k, r in self.results.items()}}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def table(self) -> str:
        """The scores with their permutation baselines, one metric per line."""
        head = f"{'metric':<18} {'score':>8}   permutation null (mean +- std), p-value"
        return "\n".join([head, *(r.line() for r in self.results.values())])


def _load_source(owner: str, name: str, path: str | Path):
    path = Path(path)
    if path.is_dir():
        return "run", load_run(path)
    if path.is_file() and path.suffix == ".npz":
        return "data", NeuralData.load(path)
    if not path.exists():
        raise CheckpointError(f"The {name!r} argument of {owner} ({path}) does not exist; give a run folder or a .npz data file.")
    raise CheckpointError(f"The {name!r} argument of {owner} ({path}) is neither a run folder nor a .npz data file "
              "(rnnscope.data.NeuralData).")


def _simulate_rates(model, inputs: torch.Tensor) -> np.ndarray:
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        traj = simulate(model, torch.as_tensor(inputs).to(dtype), noise=False)
        return model.rates(traj.states).to(torch.float64).numpy()


def compare_sources(
    a: str | Path,
    b: str | Path,
    *,
    metrics: Sequence[str] = METRICS,
    n_trials: int = 64,
    seed: int = 0,
    n_permutations: int = 200,
) -> ComparisonReport:
    """Compare two trained runs, a run and recorded data, or two data sets.

    - Two run folders: both networks are simulated without noise on the same ``n_trials`` trials of
      A's task (they must be trained on the same task, with the same dt); their firing rates are
      compared, cropped to the shortest trial.
    - A run and a ``.npz`` data file (:class:`~rnnscope.data.NeuralData`): the network is simulated
      on the data's inputs and its rates compared with the recorded activity.
    - Two data files: their activity is compared directly (same trials and time bins).

    Each metric comes with its permutation baseline (see the module docstring).
    """
    owner = "compare_sources"
    n_trials = check_int(owner, "n_trials", n_trials, low=4)
    seed = check_int(owner, "seed", seed, low=0)
    kind_a, src_a = _load_source(owner, "a", a)
    kind_b, src_b = _load_source(owner, "b", b)
    task_name = None
    if kind_a == "run" and kind_b == "run":
        ta, tb = src_a.task, src_b.task
        if ta.name != tb.name:
            raise ConfigError("rnnscope compare simulates both networks on the same trials, so they must share a task: "
                              f"{a} is trained on {ta.name!r}, {b} on {tb.name!r}. Compare each with data instead.")
        if not math.isclose(ta.dt, tb.dt) or ta.input_size != tb.input_size:
            raise ConfigError(f"The runs {a} and {b} use task {ta.name!r} with different settings (dt {ta.dt:g} vs "
                              f"{tb.dt:g} ms, input_size {ta.input_size} vs {tb.input_size}); trials of one do not "
                              "fit the other.")
        batch = ta.sample(n_trials, seed=seed)
        T = int(batch.lengths.min())
        X = _simulate_rates(src_a.model, batch.inputs)[:, :T]
        Y = _simulate_rates(src_b.model, batch.inputs)[:, :T]
        task_name = ta.name
    elif kind_a == "data" and kind_b == "data":
        X, Y = src_a, src_b
    else:
        run, data = (src_a, src_b) if kind_a == "run" else (src_b, src_a)
        if data.n_inputs != run.model.input_size:
            raise ShapeError(f"The data's inputs must have {run.model.input_size} channels to drive the network of "
                             f"{run.path} (input_size={run.model.input_size}). Got inputs of shape "
                             f"{tuple(data.inputs.shape)}.")
        if run.model.time == "continuous" and not math.isclose(data.dt, run.model.dt, rel_tol=1e-6):
            raise ConfigError(f"The data are binned at {data.dt:g} ms but the network of {run.path} steps at "
                              f"dt = {run.model.dt:g} ms; rebin the data (or train with --dt {data.dt:g}).")
        T = int(data.lengths.min()) if data.lengths is not None else data.n_time
        rates = _simulate_rates(run.model, data.inputs)[:, :T]
        X, Y = (rates, data) if kind_a == "run" else (data, rates)
        task_name = run.task.name
    X, Y = _pair(owner, X, Y)
    results = compare_activity(X, Y, metrics=metrics, n_permutations=n_permutations, seed=seed)
    return ComparisonReport(a=str(a), b=str(b), kind=f"{kind_a}-{kind_b}", n_trials=int(X.shape[0]),
                            n_steps=int(X.shape[1]) if X.ndim == 3 else 1, results=results, task=task_name)
