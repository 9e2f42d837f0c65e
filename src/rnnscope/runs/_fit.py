"""Fit folders: ``rnnscope fit DATA`` writes one, :func:`load_fit` reads it back.

A fit folder holds ``config.yaml`` (the data file and every setting), one ``rank_K/`` folder per
rank tried (the trainer's ``checkpoint.safetensors`` and ``metrics.jsonl``), a copy of the chosen
rank's checkpoint and metrics at the top, ``summary.json`` (every score per rank: single-trial and
condition-average R^2, the split-half noise ceiling, the truncated-SVD reference; the chosen rank)
and ``figures/`` (R^2 vs rank; predicted vs recorded condition-averaged activity).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from .._validation import check_float, check_int
from .._version import __version__
from ..data import DataFit, NeuralData, Normalisation, RankSelection, nwb_contents, select_rank
from ..errors import CheckpointError, ConfigError
from ..models import RateRNN
from ..training import atomic_write_text, load_checkpoint, strict_json
from ._guards import check_output_folder, folder_lock

__all__ = ["fit_run", "fit_table", "load_fit", "read_data"]

CONFIG_NAME = "config.yaml"
SUMMARY_NAME = "summary.json"


#: read_nwb's options that ``rnnscope fit`` exposes, with their defaults and flags.
_NWB_OPTIONS = {"inputs": ((), "--inputs"), "input_window": (None, "--input-window"), "align": ("start_time", "--align"),
                "window_ms": (None, "--window-ms"), "source": ("units", "--source"), "rates": (False, "--rates")}


def read_data(
    path: str | Path,
    *,
    bin_ms: float | None = None,
    inputs: Sequence[str] = (),
    input_window: Sequence[str] | None = None,
    conditions: Sequence[str] | None = None,
    align: str = "start_time",
    window_ms: Sequence[float] | None = None,
    source: str = "units",
    rates: bool = False,
) -> NeuralData:
    """A data file as :class:`NeuralData`: ``.npz`` (:meth:`NeuralData.save`) or ``.nwb`` (needs
    ``bin_ms``; the other options are :func:`~rnnscope.data.read_nwb`'s and apply to NWB files only,
    except ``conditions``, which a ``.npz`` file must have)."""
    path = Path(path)
    nwb = {"inputs": tuple(inputs), "input_window": input_window, "align": align, "window_ms": window_ms,
           "source": source, "rates": rates}
    if path.suffix == ".nwb":
        if bin_ms is None:
            raise ConfigError(f"Reading the NWB file {path} needs a bin width: give --bin-ms (e.g. 20).")
        return NeuralData.from_nwb(path, bin_ms=bin_ms, conditions=conditions, **nwb)
    if path.suffix == ".npz":
        given = [flag for key, (default, flag) in _NWB_OPTIONS.items() if nwb[key] != default]
        if given or bin_ms is not None:
            flags = ", ".join(given + (["--bin-ms"] if bin_ms is not None else []))
            raise ConfigError(f"{flags} read an NWB file; the .npz file {path} holds binned activity and its inputs "
                              f"already (NeuralData.save). Give them with a .nwb file only.")
        return NeuralData.load(path)
    raise ConfigError(f"The data file {path} must be a .npz (rnnscope NeuralData) or a .nwb file.")


def _no_input_notice(path: Path | None, data: NeuralData) -> str | None:
    """The one notice for data without inputs: what the network then sees, and how to give inputs."""
    if data.n_inputs > 0:
        return None
    what = f"{path}" if path is not None else "the data"
    text = (f"{what} gives the network no inputs: it sees only its initial state, so it can fit only what is "
            f"the same on every trial. ")
    if path is not None and path.suffix == ".nwb":
        contents = nwb_contents(path)
        other = [c for c in contents.trial_columns if c not in contents.numeric_columns]
        columns = ", ".join(contents.trial_columns) or "none"
        columns += f" (not numeric, so not inputs: {', '.join(other)})" if other else ""
        series = f"; its TimeSeries: {', '.join(contents.series)}" if contents.series else ""
        return text + (f"Name the stimuli with --inputs (trial columns or TimeSeries, e.g. --inputs "
                       f"{(contents.numeric_columns or ('NAME',))[0]}, held between the columns of --input-window). "
                       f"The file's trial columns: {columns}{series}.")
    if path is None:
        return text + "Give the data its stimuli: NeuralData.from_arrays(..., inputs=...)."
    return text + "Save the stimuli as the file's 'inputs' (NeuralData.from_arrays(..., inputs=...).save(...))."


def fit_run(
    data: str | Path | NeuralData,
    out: str | Path,
    *,
    rank: int | str = "auto",
    ranks: Sequence[int] = (1, 2, 3, 4, 5),
    hidden_size: int | None = None,
    mapping: str = "linear",
    target: str = "single-trial",
    conditions: Sequence[str] | None = None,
    steps: int = 500,
    batch_size: int = 64,
    learning_rate: float = 1e-2,
    test_fraction: float = 0.2,
    stratify: str | None = None,
    tolerance: float = 0.005,
    tau: float = 100.0,
    bin_ms: float | None = None,
    inputs: Sequence[str] = (),
    input_window: Sequence[str] | None = None,
    align: str = "start_time",
    window_ms: Sequence[float] | None = None,
    source: str = "units",
    rates: bool = False,
    smooth_ms: float | None = None,
    seed: int = 0,
    progress: bool | None = None,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit low-rank networks to a data set and write a fit folder; returns the summary.

    ``rank="auto"`` fits every rank of ``ranks`` and chooses one (:func:`select_rank`); an integer
    fits that rank alone (still scored on held-out trials). ``target``, ``conditions`` and the
    training settings are those of :func:`~rnnscope.data.select_rank` and
    :func:`~rnnscope.data.fit_rnn`; ``bin_ms``, ``inputs``, ``input_window``, ``conditions``,
    ``align``, ``window_ms``, ``source`` and ``rates`` those of :func:`~rnnscope.data.read_nwb`;
    ``smooth_ms`` smooths the activity in time (a Gaussian of that std) before the fit.

    The trials are grouped into conditions by ``conditions``, or else by the trial columns given as
    ``inputs``; with a grouping the condition-average R^2 and the noise ceiling are scored.
    ``notify`` receives the notices of the fit (data without inputs), also kept in the summary.
    """
    own = "fit_run"
    out = check_output_folder(out, "--out")
    _refuse_existing_fit(out)
    path = None if isinstance(data, NeuralData) else Path(data)
    if isinstance(inputs, str):
        inputs = [inputs]
    if path is not None:
        data = read_data(path, bin_ms=bin_ms, inputs=inputs, input_window=input_window, conditions=conditions,
                         align=align, window_ms=window_ms, source=source, rates=rates)
    if smooth_ms is not None:
        data = data.smooth(check_float(own, "smooth_ms", smooth_ms, low=0))
    if hidden_size is not None:
        hidden_size = check_int(own, "hidden_size", hidden_size, low=1)
    if rank == "auto":
        rank_list = list(ranks)
    else:
        rank_list = [check_int(own, "rank", rank, low=1, high=hidden_size or data.n_neurons)]
    steps = check_int(own, "steps", steps, low=1)
    learning_rate = check_float(own, "learning_rate", learning_rate, low=0, low_inclusive=False)
    keys = list(conditions) if conditions is not None else [k for k in inputs if k in data.conditions] or None
    if target == "condition-average" and keys is None:
        raise ConfigError("--target condition-average averages the trials of each condition: name the trial columns "
                          "that define a condition with --conditions (e.g. --conditions coherence).")
    data.check_varies(own, "data")  # what the fit refuses is refused before any notice
    for k in rank_list:
        check_int(own, "ranks", k, low=1, high=hidden_size or data.n_neurons)
    config = {"data": str(path) if path is not None else "<NeuralData>", "rank": rank, "ranks": rank_list,
              "hidden_size": hidden_size or data.n_neurons, "mapping": mapping, "target": target, "conditions": keys,
              "steps": steps, "batch_size": batch_size, "learning_rate": learning_rate, "test_fraction": test_fraction,
              "stratify": stratify, "tolerance": tolerance, "tau": tau, "bin_ms": bin_ms, "inputs": list(inputs),
              "input_window": None if input_window is None else list(input_window), "align": align,
              "window_ms": None if window_ms is None else [float(w) for w in window_ms], "source": source,
              "rates": rates, "smooth_ms": smooth_ms, "seed": seed}
    with folder_lock(out):
        _refuse_existing_fit(out)  # a second `fit` may have finished it meanwhile
        notices = [n for n in (_no_input_notice(path, data),) if n is not None]  # once the fit will run
        for notice in notices:
            if notify is not None:
                notify(notice)
        sel = select_rank(data, rank_list, target=target, conditions=keys, test_fraction=test_fraction,
                          stratify=stratify, tolerance=tolerance, split_seed=seed, run_dir=out,
                          hidden_size=hidden_size, mapping=mapping, tau=tau, steps=steps, batch_size=batch_size,
                          learning_rate=learning_rate, seed=seed, progress=progress)
        atomic_write_text(out / CONFIG_NAME, yaml.safe_dump(config, sort_keys=False))
        chosen = out / f"rank_{sel.chosen_rank}"
        for name in ("checkpoint.safetensors", "metrics.jsonl"):
            shutil.copyfile(chosen / name, out / name)
        summary = {**sel.to_dict(), "n_trials": data.n_trials, "n_neurons": data.n_neurons,
                   "n_inputs": data.n_inputs, "input_names": list(data.input_names or ()), "dt": data.dt,
                   "mapping": mapping, "notices": notices,
                   "wall_time_s": round(sum(f.training.wall_time for f in sel.fits.values()), 2),
                   "library_version": __version__}
        _figures(sel, data, out, test_fraction, stratify or keys, seed)
        atomic_write_text(out / SUMMARY_NAME, strict_json(summary, indent=2))
        return summary


def _refuse_existing_fit(out: Path) -> None:
    if (out / CONFIG_NAME).exists():
        raise ConfigError(f"{out} already holds a fit; choose another --out.")


def fit_table(summary: dict[str, Any]) -> str:
    """The score table of a fit's summary (:meth:`RankSelection.table`)."""
    return RankSelection.from_dict(summary).table()


def _figures(sel: RankSelection, data: NeuralData, out: Path, test_fraction: float, stratify: Any, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    ceiling = sel.noise_ceiling
    panels = [("single-trial", "single trials", sel.r2_test_single_trial, ceiling and ceiling.single_trial),
              ("condition-average", "condition averages", sel.r2_test_condition_average,
               ceiling and ceiling.condition_average)]
    for ax, (target, title, r2, top) in zip(axes, panels):
        ax.set(xlabel="rank", ylabel="variance explained $R^2$", xticks=sel.ranks, title=title)
        if r2 is None:
            ax.text(0.5, 0.5, "no conditions given", ha="center", va="center", transform=ax.transAxes)
            continue
        ax.plot(sel.ranks, r2, "o-", label="fitted network (held out)")
        shown = list(r2)
        if target == sel.target:
            ax.plot(sel.ranks, sel.r2_train, "o--", alpha=0.6, label="fitted network (train)")
            ax.plot(sel.ranks, sel.svd_variance_captured, "s:",
                    label="truncated SVD: held-out variance\nin k components (not a prediction)")
            shown += list(sel.r2_train) + list(sel.svd_variance_captured)
        if top is not None:
            ax.axhline(top, color="k", ls="--", lw=0.9, label="split-half noise ceiling")
            shown.append(top)
        ax.axvline(sel.chosen_rank, color="0.6", lw=0.8)
        ax.set_ylim(min(0.0, *shown), max(shown) * 1.15 if max(shown) > 0 else 1.0)
        ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(figdir / "r2_vs_rank.png", dpi=100)
    plt.close(fig)
    _, test = data.split(test_fraction, seed=seed, stratify=stratify)
    fig = plot_predicted_vs_recorded(sel.best, test, keys=list(sel.conditions) if sel.conditions else None)
    fig.savefig(figdir / "predicted_vs_recorded.png", dpi=100)
    plt.close(fig)


def plot_predicted_vs_recorded(fit: DataFit, data: NeuralData, *, keys: Sequence[str] | None = None,
                               n_neurons: int = 4, max_conditions: int = 4):
    """Condition-averaged recorded (solid) and predicted (dashed) activity of a few neurons."""
    import matplotlib.pyplot as plt

    pred = fit.predict(data)
    if keys is None:
        keys = [k for k, v in data.conditions.items() if v.ndim == 1 and len(torch.unique(v)) <= 8][:1]
    rec_avg, table = data.condition_average(keys)
    pred_data = data._replace(activity=pred)
    pred_avg, _ = pred_data.condition_average(keys)
    n_neurons = min(n_neurons, data.n_neurons)
    var = rec_avg.double().var(dim=(0, 1))
    neurons = torch.argsort(var, descending=True)[:n_neurons].tolist()
    t = data.times.numpy() / 1000.0
    fig, axes = plt.subplots(1, n_neurons, figsize=(2.6 * n_neurons, 2.4), sharex=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_cond = min(max_conditions, rec_avg.shape[0])
    for ax, j in zip(axes[0], neurons):
        for c in range(n_cond):
            col = colours[c % len(colours)]
            label = ", ".join(f"{k}={float(table[k][c]):g}" for k in keys) if keys else "all trials"
            ax.plot(t, rec_avg[c, :, j].numpy(), color=col, lw=1.5, label=label)
            ax.plot(t, pred_avg[c, :, j].numpy(), color=col, lw=1.2, ls="--")
        name = data.neuron_names[j] if data.neuron_names else f"neuron {j}"
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6, loc="best")
    axes[0][0].set_ylabel("activity (solid: recorded, dashed: fit)", fontsize=7)
    fig.tight_layout()
    return fig


def load_fit(path: str | Path, rank: int | None = None) -> DataFit:
    """The fitted network of a fit folder (the chosen rank, or ``rank``) as a :class:`DataFit`.

    ``r2_train``/``r2_test`` come from ``summary.json``; ``training`` is None.
    """
    path = Path(path)
    if not (path / SUMMARY_NAME).is_file():
        raise CheckpointError(f"{path} is not a fit folder: it has no {SUMMARY_NAME} (written by rnnscope fit).")
    try:
        summary = json.loads((path / SUMMARY_NAME).read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            raise ValueError(f"a JSON {type(summary).__name__}, not an object")
    except ValueError as exc:  # not JSON, not UTF-8, not an object
        raise CheckpointError(f"{path / SUMMARY_NAME} is damaged: {exc}") from None
    k = summary["chosen_rank"] if rank is None else int(rank)
    if k not in summary["ranks"]:
        raise ConfigError(f"The fit in {path} tried ranks {summary['ranks']}; rank {k} is not among them.")
    ckpt = load_checkpoint(path / f"rank_{k}" / "checkpoint.safetensors")
    meta = ckpt.metadata.get("fit")
    if not meta:
        raise CheckpointError(f"The checkpoint of rank {k} in {path} lacks the fit metadata.")
    cfg = dict(meta["model_config"])
    model = RateRNN(cfg.pop("input_size"), cfg.pop("hidden_size"), cfg.pop("output_size"), **cfg)
    model.load_state_dict(ckpt.model_state, strict=True)
    i = summary["ranks"].index(k)
    return DataFit(model=model, rank=k, mapping=meta["mapping"], normalisation=Normalisation.from_dict(meta["normalisation"]),
                   r2_train=summary["r2_train"][i], r2_test=summary["r2_test"][i], training=None)
