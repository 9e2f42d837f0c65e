"""Grid cells from path integration (Sorscher et al. 2019, 2023; Cueva & Wei 2018; Banino et al. 2018).

``grid-cells``: train a ReLU network without biases to path-integrate onto difference-of-softmax
place cells (:class:`~rnnscope.tasks.place_cell_integration.PlaceCellIntegration`), then measure its
units' spatial rate maps and grid scores (:func:`~rnnscope.analysis.grid_scores`), the decoding error,
and the fraction of units with score60 above 0.3.
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from .. import tasks
from ..analysis import GridScores, RateMaps, grid_scores, rate_maps
from ..dynamics import simulate
from ..models import ElmanRNN
from ..plotting import plot_grid_score_histogram, plot_grid_units
from ..training import Trainer, TrainingConfig
from ._registry import Check, Reproduction, register

_SORSCHER = "Sorscher et al. 2019, 2023"


@dataclass(frozen=True)
class GridCellSetup:
    """One configuration of the grid-cell reproduction.

    Attributes:
        hidden_size: number of ReLU units (Sorscher et al.: 4096).
        n_place_cells: place cells (512).
        box_size: side of the box in m (2.2).
        place_cell_width: m (0.12).
        steps: Adam steps (1e5), each on a fresh batch.
        batch_size: trajectories per step (200).
        learning_rate: Adam's step size (1e-4).
        weight_decay: the coefficient of ``sum(W_hh^2)`` in the loss (1e-4).
        map_trials: trajectories whose positions and states make the rate maps.
        bins: rate-map bins per side.
    """

    hidden_size: int = 4096
    n_place_cells: int = 512
    box_size: float = 2.2
    place_cell_width: float = 0.12
    steps: int = 100_000
    batch_size: int = 200
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    map_trials: int = 5_000
    bins: int = 32


#: The paper's configuration (Sorscher et al.'s code defaults): a GPU job.
FULL = GridCellSetup()
#: The CPU configuration run by ``--quick`` (see docs/brain_comparisons.md for the measurements by size).
QUICK = GridCellSetup(hidden_size=128, n_place_cells=128, box_size=1.4, steps=600, batch_size=100,
                      learning_rate=3e-3, map_trials=3000, bins=20)


def _save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    path.write_bytes(buf.getvalue())
    return path


def train_grid_network(setup: GridCellSetup, *, seed: int = 0, device: str | None = None,
                       progress: bool = False) -> tuple[ElmanRNN, tasks.AbstractTask, dict]:
    """Train Sorscher et al.'s network on their task under ``setup``: a discrete-time ReLU network
    without biases (torch's ``nn.RNN``), Adam, the cross-entropy of the place-cell code, and the
    weight decay ``weight_decay * sum(W_hh^2)`` (the trainer's ``weight_l2`` penalises the mean of the
    squares, so it is given ``weight_decay * H^2``). No gradient clipping, as in the paper."""
    task = tasks.make("place_cell_integration", n_place_cells=setup.n_place_cells, box_size=setup.box_size,
                      place_cell_width=setup.place_cell_width)
    model = ElmanRNN(task.input_size, setup.hidden_size, task.output_size, nonlinearity="relu", bias=False,
                     dt=task.dt, seed=seed)
    cfg = TrainingConfig(steps=setup.steps, batch_size=setup.batch_size, learning_rate=setup.learning_rate,
                         grad_clip=None, weight_l2=setup.weight_decay * setup.hidden_size**2,
                         eval_every=max(setup.steps // 10, 1), eval_batch_size=500, stop_at_criterion=False,
                         seed=seed)
    t0 = time.perf_counter()
    result = Trainer(model, task, cfg, device=device, progress=progress).fit()
    info = {"steps": result.steps, "seconds": round(time.perf_counter() - t0, 1), "loss": result.loss,
            **{k: float(v) for k, v in result.evaluation.items()}}
    return model, task, info


def grid_analysis(model: ElmanRNN, task: tasks.AbstractTask, setup: GridCellSetup, *,
                  seed: int = 1) -> tuple[RateMaps, GridScores, dict]:
    """Rate maps of every unit over ``setup.map_trials`` fresh trajectories (noise off), their grid
    scores, and the decoding error on them."""
    batch = task.sample(setup.map_trials, seed=seed)
    device = next(model.parameters()).device
    with torch.no_grad():
        traj = simulate(model, batch.inputs.to(device), noise=False)
    states = traj.states[:, 1:].cpu()
    positions = batch.conditions["position"][:, 1:]
    maps = rate_maps(positions, states, bins=setup.bins, box=task.box_size)
    scores = grid_scores(maps)
    evaluation = task.evaluate(traj.outputs.cpu(), batch)
    active = states.amax(dim=(0, 1)) > 0
    return maps, scores, {"decoding_error_cm": evaluation["decoding_error_cm"],
                          "target_error_cm": evaluation["target_error_cm"],
                          "fraction_active_units": float(active.double().mean())}


def _summary(scores: GridScores) -> dict:
    s60 = scores.score60[torch.isfinite(scores.score60)]
    return {"fraction_grid_score60_above_0.3": scores.fraction_above(0.3),
            "fraction_score90_above_0.3": scores.fraction_above(0.3, "score90"),
            "median_score60": float(s60.median()) if s60.numel() else float("nan"),
            "best_score60": float(s60.max()) if s60.numel() else float("nan")}


@register("grid-cells",
          summary="Grid-like units in a ReLU network trained to path-integrate onto place cells",
          reference="Sorscher et al. 2019, 2023")
def grid_cells(out: Path, *, quick: bool, seed: int, progress: bool) -> Reproduction:
    """Quick: the CPU configuration :data:`QUICK` (128 units, 128 place cells, a 1.4 m box, 600
    steps of 100 trajectories at a learning rate of 3e-3; about a minute on 2 free cores, 5 minutes
    measured on a shared machine). Full: the paper's configuration :data:`FULL` (4096 units, 512
    place cells, 1e5 steps of 200 trajectories), a GPU job (it runs on CUDA when torch sees a GPU):
    about 5e11 floating-point operations per step, an estimated 12 days on a 2-core CPU.

    The untrained network of the same shape is the control: its decoding error and its grid scores
    are measured the same way.
    """
    setup = QUICK if quick else FULL
    device = None if quick else ("cuda" if torch.cuda.is_available() else None)
    # the control: the same network, untrained
    task = tasks.make("place_cell_integration", n_place_cells=setup.n_place_cells, box_size=setup.box_size,
                      place_cell_width=setup.place_cell_width)
    control = ElmanRNN(task.input_size, setup.hidden_size, task.output_size, nonlinearity="relu", bias=False,
                       dt=task.dt, seed=seed)
    if device is not None:
        control.to(device)
    _, control_scores, control_info = grid_analysis(control, task, setup, seed=seed + 1)

    model, task, info = train_grid_network(setup, seed=seed, device=device, progress=progress)
    maps, scores, measured = grid_analysis(model, task, setup, seed=seed + 1)
    numbers = {"setup": asdict(setup), "training": info, **measured, **_summary(scores),
               "untrained": {**control_info, **_summary(control_scores)}}
    figures = [_save(plot_grid_units(maps, scores, n=8), out / "grid_units.png")]
    fig = Figure(figsize=(8.8, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_grid_score_histogram(scores, ax1)
    ax1.set_title("trained", fontsize=9)
    plot_grid_score_histogram(control_scores, ax2)
    ax2.set_title("untrained", fontsize=9)
    figures.append(_save(fig, out / "grid_score_histogram.png"))
    scores.save(out / "grid_scores")

    untrained = numbers["untrained"]
    checks = [
        Check("decoding error (cm): below 60 % of the untrained network's", measured["decoding_error_cm"],
              0.0, 0.6 * untrained["decoding_error_cm"], source=_SORSCHER),
        Check("untrained decoding error over a fifth of the box (1 = yes): the task is not trivial",
              float(untrained["decoding_error_cm"] > 20 * setup.box_size), 1.0, 0.0, source="control"),
        Check("fraction of units with score60 > 0.3 above the untrained network's (difference)",
              numbers["fraction_grid_score60_above_0.3"] - untrained["fraction_grid_score60_above_0.3"],
              0.5, 0.49, source=_SORSCHER),
    ]
    if not quick:
        checks.append(Check("decoding error (cm) within twice the place-cell decoder's floor",
                            measured["decoding_error_cm"], 0.0, 2 * measured["target_error_cm"], source=_SORSCHER))
    return Reproduction("grid-cells", checks=checks, numbers=numbers, figures=figures)
