"""Many run folders trained in one process: the seeds of one configuration as an ensemble.

``rnnscope train TASK --seeds 0-15`` writes one ordinary run folder per seed (``OUT/seed-K/``) and
trains the K networks together as one :class:`~rnnscope.models.RateEnsemble` when their model can
(rate networks; each member's weights, batches and noise are those of the single run with its
seed), else one after another. :func:`train_folders` is the engine: it finishes every unfinished
run folder it is given, grouping those that can share an ensemble; sweeps call it for each job.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._validation import check_device
from ..errors import CheckpointError, ConfigError, TrainingDivergedError, TrainingInterruptedError
from ..models import RateEnsemble
from ..training import CHECKPOINT_NAME, METRICS_NAME, EnsembleTrainer, Trainer, atomic_write_text, load_checkpoint
from ._config import RunConfig
from ._folders import CONFIG_NAME, SUMMARY_NAME, read_run_config, report_run, resume_run, write_diverged
from ._guards import folder_lock, stop_on_signals

__all__ = ["parse_seeds", "seed_configs", "train_seeds", "resume_seeds", "train_folders", "run_finished",
           "can_share_ensemble"]

#: summary.json statuses of a run that is over (trained to its end, or stopped by divergence)
_OVER = ("criterion", "max_steps", "diverged")


def parse_seeds(text: str | Sequence[int]) -> list[int]:
    """Seeds from ``"0-15"`` (a range, both ends included), ``"0,3,7"`` (a list) or a mix (``"0-3,8"``),
    or a sequence of ints; each >= 0, none twice."""
    if isinstance(text, str):
        seeds: list[int] = []
        for part in text.split(","):
            match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
                raise ConfigError(f"--seeds takes a range such as 0-15 or a comma list such as 0,3,7. Got {text!r}.")
            lo = int(match[1])
            seeds.extend(range(lo, int(match[2] or lo) + 1))
    else:
        seeds = list(text)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ConfigError(f"The 'seeds' parameter must be a non-empty list of ints >= 0. Got {text!r} instead.")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"The 'seeds' parameter names a seed twice. Got {text!r}.")
    return seeds


def seed_configs(config: RunConfig, seeds: Sequence[int]) -> list[RunConfig]:
    """``config`` once per seed: the seed of the initial weights and of the training batches and noise."""
    return [replace(config, seed=s, training=replace(config.training, seed=s)) for s in seeds]


def can_share_ensemble(a: RunConfig, b: RunConfig) -> bool:
    """Whether runs ``a`` and ``b`` can train as members of one ensemble: rate networks with the same
    settings but their seeds."""
    if a.model.kind != "rate" or b.model.kind != "rate":
        return False
    strip = lambda c: {**c.to_dict(), "seed": None, "training": {**c.training.to_dict(), "seed": None}}  # noqa: E731
    return strip(a) == strip(b)


def run_finished(path: str | Path) -> bool:
    """Whether the run folder ``path`` is over: its ``summary.json`` says it trained to its end
    (criterion or the last step) or diverged."""
    summary = Path(path) / SUMMARY_NAME
    if not summary.is_file():
        return False
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("status") in _OVER
    except (json.JSONDecodeError, OSError):
        return False


def train_seeds(config: RunConfig, seeds: Sequence[int], out: str | Path, *, progress: bool | None = None,
                ensembles: bool = True) -> dict[int, dict[str, Any]]:
    """Train ``config`` once per seed into ``out/seed-K/`` (one ordinary run folder each), as one
    ensemble where the model allows (rate networks), else one after another; returns
    ``{seed: summary}``."""
    out = Path(out)
    seeds = parse_seeds(seeds)
    check_device("train_seeds", "device", config.device)  # trained here: refused before a folder is written
    configs = seed_configs(config, seeds)
    paths = [out / f"seed-{s}" for s in seeds]
    for p in paths:
        if (p / CONFIG_NAME).exists() or (p / CHECKPOINT_NAME).exists():
            raise ConfigError(f"{p} already holds a run. Continue the seeds with --resume {out}, or choose another --out.")
    for c, p in zip(configs, paths):
        p.mkdir(parents=True, exist_ok=True)
        atomic_write_text(p / CONFIG_NAME, c.to_yaml())
    return dict(zip(seeds, train_folders(paths, progress=progress, ensembles=ensembles)))


def resume_seeds(out: str | Path, *, steps: int | None = None, progress: bool | None = None) -> dict[int, dict[str, Any]]:
    """Finish the seeds in ``out/seed-K/`` that are not over (an interrupted :func:`train_seeds`).

    ``steps`` sets their number of training steps, and reopens the seeds that ended at their last
    step below it (as ``rnnscope train --resume DIR --steps N`` continues one run); seeds that reached
    the criterion or diverged stay as they are. Returns ``{seed: summary}`` for every seed."""
    out = Path(out)
    found = sorted((int(m[1]), p) for p in out.glob("seed-*") if (m := re.fullmatch(r"seed-(\d+)", p.name))
                   and (p / CONFIG_NAME).is_file())
    if not found:
        raise CheckpointError(f"{out} holds no seed-K/ run folders to resume.")
    paths = [p for _, p in found]
    if steps is not None:
        for p in paths:
            config = read_run_config(p)
            if run_finished(p):
                summary = json.loads((p / SUMMARY_NAME).read_text(encoding="utf-8"))
                if summary["status"] != "max_steps" or summary["steps"] >= steps:
                    continue
                (p / SUMMARY_NAME).unlink()
            atomic_write_text(p / CONFIG_NAME, replace(config, training=replace(config.training, steps=int(steps))).to_yaml())
    return dict(zip((s for s, _ in found), train_folders(paths, progress=progress)))


def train_folders(paths: Sequence[str | Path], *, progress: bool | None = None,
                  ensembles: bool = True) -> list[dict[str, Any]]:
    """Finish every run folder of ``paths`` (each holding its ``config.yaml``) that is not over; returns
    the summaries of all, in order (those already over read from their ``summary.json``).

    A folder with a checkpoint continues from it (exactly, see :meth:`Trainer.resume
    <rnnscope.training.Trainer.resume>`); one without starts afresh (metrics of an attempt killed
    before its first checkpoint are dropped). Folders whose runs can share an ensemble
    (:func:`can_share_ensemble`) and stand at the same step train together. A run that diverges is
    recorded in its ``summary.json`` (status ``"diverged"``) and the others go on; any other error
    propagates.
    """
    paths = [Path(p) for p in paths]
    with contextlib.ExitStack() as locks:
        for p in paths:  # a folder another process holds is refused, naming that process
            locks.enter_context(folder_lock(p))
        return _train_folders(paths, progress, ensembles)


def _train_folders(paths: list[Path], progress: bool | None, ensembles: bool) -> list[dict[str, Any]]:
    pending = [p for p in paths if not run_finished(p)]
    configs = {p: read_run_config(p) for p in pending}
    starts = {p: (load_checkpoint(p / CHECKPOINT_NAME).step if (p / CHECKPOINT_NAME).is_file() else 0) for p in pending}
    groups: list[list[Path]] = []
    for p in pending:
        for g in groups:
            if ensembles and starts[g[0]] == starts[p] and can_share_ensemble(configs[g[0]], configs[p]):
                g.append(p)
                break
        else:
            groups.append([p])
    for group in groups:
        for p in group:
            if not (p / CHECKPOINT_NAME).is_file():
                for stale in (METRICS_NAME, SUMMARY_NAME):
                    (p / stale).unlink(missing_ok=True)
                shutil.rmtree(p / "figures", ignore_errors=True)
        if len(group) == 1:
            try:
                resume_run(group[0], progress=progress)
            except TrainingDivergedError:
                pass  # recorded in its summary.json
        else:
            _train_ensemble(group, [configs[p] for p in group], progress)
    return [json.loads((p / SUMMARY_NAME).read_text(encoding="utf-8")) for p in paths]


def _train_ensemble(paths: list[Path], configs: list[RunConfig], progress: bool | None) -> None:
    task = configs[0].make_task()
    members = [c.model.build(task.input_size, task.output_size, task.dt, c.seed) for c in configs]
    trainer = EnsembleTrainer(RateEnsemble(members), task, [c.training for c in configs], run_dirs=paths,
                              device=configs[0].device, progress=progress,
                              checkpoint_metadata=[{"run_config": c.to_dict()} for c in configs])
    if all((p / CHECKPOINT_NAME).is_file() for p in paths):
        trainer.resume()
    try:
        with stop_on_signals(trainer):
            results = trainer.fit()
    except TrainingInterruptedError as exc:
        raise TrainingInterruptedError(f"{exc} Continue with: rnnscope train --resume {paths[0].parent}",
                                       step=exc.step, signal_name=exc.signal_name) from None
    for k, (path, config, result) in enumerate(zip(paths, configs, results)):
        if result.stopped == "diverged":
            write_diverged(config, path, result.steps, trainer.message(k) or "diverged")
            continue
        alone = Trainer(trainer.member(k), task, config.training, device=config.device, progress=False)
        report_run(alone, config, path, result, extra={"ensemble_size": len(paths)})
