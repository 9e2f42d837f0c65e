"""Sweeps: many runs (grid points x seeds), each an ordinary run folder, on a process pool, Dask or SLURM.

A sweep file::

    task: flipflop                 # or base: run.yaml (a run config, as for `rnnscope train --config`)
    grid:                          # the Cartesian product of these dotted config keys
      model.hidden_size: [16, 32]
      training.learning_rate: [0.01, 0.003]
    seeds: [0, 1, 2]               # every grid point with each seed (model and training seeds); or "0-9"
    set:                           # fixed overrides for every run
      training.steps: 500

gives ``DIR/sweep.yaml`` (the sweep, to check a rerun against), one run folder per grid point and
seed under ``DIR/runs/`` (named from the point and the seed, e.g.
``hidden_size=16,learning_rate=0.01,seed=0``), and ``DIR/results.csv`` with one row per run.

**The folders are the truth.** A job writes each of its runs' row into the run's folder
(``result.json``) when the run ends, and the driver rebuilds ``results.csv`` from the folders after
every job, so a sweep killed at any moment (the driver, a worker, the whole machine) leaves every
finished run recorded. Running the same command again trains nothing that is done and changes no
finished run; a run with a checkpoint continues from it (exactly: batches and noise are functions of
the seed and the step), one without starts afresh; failed runs are retried only with
``retry_failed``. A lock on ``DIR`` refuses a second driver, and one on each run folder a second
process training it.

**Seeds as ensembles.** The seeds of one grid point whose model can share an ensemble (rate
networks, :class:`~rnnscope.models.RateEnsemble`) are one job that trains them together; other
runs are one job each. The grouping and the thread count per job (one) are the same on every
executor, so every executor gives the same numbers.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import os
import re
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._validation import check_bool, check_choice, check_int
from ..errors import ConfigError
from ..training import atomic_write_text
from ._config import RunConfig, build_run_config, load_config_file, merge_config, yaml_load
from ._ensemble import can_share_ensemble, parse_seeds, run_finished, train_folders
from ._folders import CONFIG_NAME, SUMMARY_NAME
from ._guards import folder_locks

__all__ = ["SweepSpec", "SweepRun", "SlurmOptions", "SweepResult", "sweep", "load_sweep", "read_results",
           "RESULT_COLUMNS", "EXECUTORS"]

#: The executors a sweep runs on.
EXECUTORS = ("local", "dask", "slurm")
#: The columns of results.csv after the swept keys.
RESULT_COLUMNS = ("seed", "status", "performance", "steps", "wall_time_s", "worker", "error", "run")
SPEC_NAME = "sweep.yaml"
RESULTS_NAME = "results.csv"
RUN_RESULT_NAME = "result.json"
LOG_NAME = "log.txt"
_SECTIONS = ("task_params", "model", "training")
_TOP_KEYS = ("task", "device")


# ---------------------------------------------------------------------------------------------- the sweep file
@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its folder name, grid point, seed and resolved configuration."""

    name: str
    point: dict[str, Any]
    seed: int
    config: RunConfig


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base configuration, the grid, the seeds and the fixed overrides.

    Attributes:
        base: the run configuration every run starts from (plain data, as in a run config file).
        grid: dotted key -> the values it takes, in order (``model.hidden_size``, ``training.learning_rate``,
            ``task_params.dt``, ``task``, ...), or a section -> mappings of its keys that vary together
            (``model: [{kind: rate, time: discrete}, {kind: gru}]``); the runs are the Cartesian product,
            the first key slowest.
        seeds: every grid point runs with each of these (the seed of the weights and of the batches).
        set: dotted key -> a value every run gets.
    """

    base: Mapping[str, Any]
    grid: Mapping[str, list[Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    set: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        own = "SweepSpec"
        if not isinstance(self.base, Mapping) or not isinstance(self.base.get("task"), str):
            raise ConfigError(f"The 'base' parameter of {own} must be a run configuration naming a task. "
                              f"Got {self.base!r} instead.")
        if not isinstance(self.grid, Mapping):
            raise ConfigError(f"The 'grid' parameter of {own} must map dotted keys to lists of values. "
                              f"Got {self.grid!r} instead.")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"The grid key {key!r} must have a non-empty list of values. Got {values!r} instead.")
            _check_key(key, "grid", values)
            if len({json.dumps(v, sort_keys=True, default=str) for v in values}) != len(values):
                raise ConfigError(f"The grid key {key!r} lists a value twice: {values!r}.")
        if not isinstance(self.set, Mapping):
            raise ConfigError(f"The 'set' parameter of {own} must map dotted keys to values. Got {self.set!r} instead.")
        for key, value in self.set.items():
            _check_key(key, "set", [value])
            if key in self.grid:
                raise ConfigError(f"The key {key!r} is both swept (grid) and fixed (set); keep one.")
        if not isinstance(self.seeds, (str, list, tuple)):
            raise ConfigError(f"The 'seeds' parameter of {own} must be a list of ints or a range such as '0-9'. "
                              f"Got {self.seeds!r} instead.")
        object.__setattr__(self, "seeds", tuple(parse_seeds(self.seeds if isinstance(self.seeds, str)
                                                            else list(self.seeds))))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "the sweep", folder: Path | None = None) -> SweepSpec:
        """From the plain data of a sweep file (``folder``: where a ``base:`` path is relative to)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source} must be a mapping (task or base, grid, seeds, set). Got {type(data).__name__}.")
        unknown = sorted(set(data) - {"task", "base", "grid", "seeds", "set"})
        if unknown:
            raise ConfigError(f"Unknown key(s) {', '.join(unknown)} in {source}. Accepted keys: base, grid, seeds, set, task.")
        if ("task" in data) == ("base" in data):
            raise ConfigError(f"{source} must give either 'task: NAME' or 'base: RUN.yaml' (a run configuration), "
                              f"not {'both' if 'task' in data else 'neither'}.")
        if "task" in data:
            base: Mapping[str, Any] = {"task": data["task"]}
        elif isinstance(data["base"], Mapping):  # already resolved (a sweep.yaml written by a sweep)
            base = data["base"]
        else:
            path = Path(str(data["base"]))
            base = load_config_file(path if path.is_absolute() or folder is None else folder / path)
        seeds = data.get("seeds", [0])
        return cls(base=dict(base), grid=dict(data.get("grid") or {}), seeds=seeds, set=dict(data.get("set") or {}))

    @classmethod
    def from_file(cls, path: str | Path) -> SweepSpec:
        """Read a sweep file (YAML)."""
        path = Path(path)
        return cls.from_dict(load_config_file(path), source=str(path), folder=path.parent)

    def to_dict(self) -> dict[str, Any]:
        """The sweep with its base configuration inlined (what ``DIR/sweep.yaml`` holds)."""
        return {"base": dict(self.base), "grid": {k: list(v) for k, v in self.grid.items()},
                "seeds": list(self.seeds), "set": dict(self.set)}

    @property
    def swept(self) -> list[str]:
        """The swept keys, in order."""
        return list(self.grid)

    def runs(self) -> list[SweepRun]:
        """Every run: each grid point (the first key varying slowest) with each seed; configurations
        are validated here, before anything is written."""
        names = _short_names(self.swept)
        runs, seen = [], {}
        for values in itertools.product(*self.grid.values()):
            point = dict(zip(self.swept, values))
            data = dict(self.base)
            for key, value in [*self.set.items(), *point.items()]:
                data = merge_config(data, _nested(key, value))
            for seed in self.seeds:
                label = ",".join([*(f"{names[k]}={_slug(v)}" for k, v in point.items()), f"seed={seed}"])
                seeded = merge_config(data, {"seed": seed, "training": {"seed": seed}})
                try:
                    config = build_run_config(seeded, source=f"the sweep's run {label}")
                except ConfigError as exc:  # a constructor's message names the argument, not the run
                    raise ConfigError(f"The sweep's run {label}: {exc}") from None
                if label in seen:  # two values that print alike (0.1 and "0.1")
                    label = f"{label},{len(seen)}"
                seen[label] = True
                runs.append(SweepRun(name=label, point=point, seed=seed, config=config))
        return runs


def _check_key(key: Any, where: str, values: list[Any]) -> None:
    """A dotted key (``model.hidden_size``), ``task`` or ``device``, or a section name whose values are
    mappings of its keys (``model: [{kind: rate, time: discrete}, {kind: gru}]`` sweeps several keys together)."""
    parts = key.split(".") if isinstance(key, str) else []
    section = len(parts) == 1 and parts[0] in _SECTIONS and all(isinstance(v, Mapping) for v in values)
    ok = section or (len(parts) == 1 and parts[0] in _TOP_KEYS) or (len(parts) == 2 and parts[0] in _SECTIONS and parts[1])
    if not ok:
        raise ConfigError(f"The {where} key {key!r} must be a dotted config key: task_params.KEY, model.KEY, "
                          f"training.KEY, task or device, or a section (model, training, task_params) whose values "
                          f"are mappings of its keys (seeds go under 'seeds:').")


def _nested(key: str, value: Any) -> dict[str, Any]:
    section, _, name = key.partition(".")
    return {section: {name: value}} if name else {section: value}


def _short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each key's last part, or the whole dotted key where two keys share their last part."""
    last = [k.rpartition(".")[2] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def _slug(value: Any) -> str:
    """A value as a piece of a folder name: numbers as written (0.003, 1e-05), the items of a list or the
    values of a mapping joined by '-', anything else reduced to letters, digits and ``._+-``."""
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple, Mapping)):
        text = "-".join(_slug(v) for v in (value.values() if isinstance(value, Mapping) else value))
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)[:40]


# ---------------------------------------------------------------------------------------------- executors' options
@dataclass(frozen=True)
class SlurmOptions:
    """Where and how a sweep's jobs run on SLURM (through submitit, as one job array).

    Attributes:
        partition: the SLURM partition (None: the cluster's default).
        time_min: the time limit of each job, minutes.
        cpus_per_task: CPUs of each job (also its torch threads).
        gpus_per_node: GPUs of each job.
        log_folder: where submitit keeps its job files and logs (None: ``DIR/slurm``).
        cluster: ``"slurm"``, or ``"local"`` for submitit's local executor (the same code path on a
            machine without SLURM: the tests use it).
    """

    partition: str | None = None
    time_min: int = 60
    cpus_per_task: int = 1
    gpus_per_node: int = 0
    log_folder: str | Path | None = None
    cluster: str = "slurm"

    def __post_init__(self) -> None:
        own = "SlurmOptions"
        if self.partition is not None and not isinstance(self.partition, str):
            raise ConfigError(f"The 'partition' parameter of {own} must be a string. Got {self.partition!r} instead.")
        object.__setattr__(self, "time_min", check_int(own, "time_min", self.time_min, low=1))
        object.__setattr__(self, "cpus_per_task", check_int(own, "cpus_per_task", self.cpus_per_task, low=1))
        object.__setattr__(self, "gpus_per_node", check_int(own, "gpus_per_node", self.gpus_per_node, low=0))
        check_choice(own, "cluster", self.cluster, ("slurm", "local"))


# ---------------------------------------------------------------------------------------------- a job (runs on a worker)
@dataclass(frozen=True)
class _Job:
    """What a worker receives: the run folders to finish (several: the seeds of one ensemble)."""

    paths: tuple[str, ...]
    executor: str
    threads: int = 1
    ensembles: bool = True


def _worker_label(executor: str) -> str:
    """Which process runs this: host and pid, the Dask worker, or the SLURM job (array index included)."""
    if executor == "dask":
        from distributed import get_worker

        return f"dask {get_worker().address}"
    if executor == "slurm":
        import submitit

        return f"slurm {submitit.JobEnvironment().job_id}"
    return f"{socket.gethostname()}:{os.getpid()}"


class _Tee(io.TextIOBase):
    """Writes to several files at once (a job's output goes into the log of each of its runs)."""

    def __init__(self, files: Sequence[io.TextIOBase]) -> None:
        self.files = files

    def write(self, text: str) -> int:
        for f in self.files:
            f.write(text)
            f.flush()
        return len(text)


def run_job(job: _Job) -> list[dict[str, Any]]:
    """Train the runs of ``job`` (on whichever worker runs it) and return their rows of results.csv;
    each row is also written to its run folder. An error fails the job's runs, never the worker."""
    import torch

    torch.set_num_threads(job.threads)
    worker = _worker_label(job.executor)
    paths = [Path(p) for p in job.paths]
    with folder_locks(paths) as held:
        rows = {p: _row(p, "pending", worker, error="another process is training this run") for p in paths}
        if not held:
            return list(rows.values())
        logs = [open(p / LOG_NAME, "a", encoding="utf-8") for p in held]  # noqa: SIM115
        tee = _Tee(logs)
        start = time.perf_counter()
        error = None
        try:
            what = f"an ensemble of {len(held)}" if len(held) > 1 else "alone"
            tee.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {worker}: training {what}: "
                      f"{', '.join(p.name for p in held)}\n")
            with contextlib.redirect_stdout(tee), contextlib.redirect_stderr(tee), warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = lambda msg, cat, fn, ln, *a: tee.write(f"{fn}:{ln}: {cat.__name__}: {msg}\n")
                try:
                    train_folders(held, progress=False, ensembles=job.ensembles)
                except Exception as exc:  # noqa: BLE001 - recorded as the runs' failure; the sweep goes on
                    error = f"{type(exc).__name__}: {exc}"
                    tee.write(traceback.format_exc())
            for p in held:  # a run of the job may be over even when a later one failed
                if run_finished(p):
                    rows[p] = _row_from_summary(p, worker)
                else:
                    rows[p] = _row(p, "failed", worker, wall=time.perf_counter() - start,
                                   error=error or "the run ended without a summary")
                atomic_write_text(p / RUN_RESULT_NAME, json.dumps(rows[p], indent=2))
            ends = ", ".join(f"{p.name} {rows[p]['status']}" for p in held)
            tee.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {worker}: {ends}\n")
        finally:
            for f in logs:
                f.close()
    return list(rows.values())


def _row(path: Path, status: str, worker: str | None, *, error: str | None = None, wall: float | None = None,
         performance: float | None = None, steps: int | None = None) -> dict[str, Any]:
    return {"run": path.name, "status": status, "performance": performance, "steps": steps,
            "wall_time_s": None if wall is None else round(wall, 2), "worker": worker, "error": error}


def _row_from_summary(path: Path, worker: str | None) -> dict[str, Any]:
    """The row of a run whose summary.json is written: done, or failed when its loss diverged."""
    summary = json.loads((path / SUMMARY_NAME).read_text(encoding="utf-8"))
    diverged = summary.get("status") == "diverged"
    return _row(path, "failed" if diverged else "done", worker, error=summary.get("message") if diverged else None,
                wall=summary.get("wall_time_s"), performance=summary.get("performance"), steps=summary.get("steps"))


# ---------------------------------------------------------------------------------------------- the driver
@dataclass
class SweepResult:
    """What :func:`sweep` did: the sweep folder, its rows (one per run) and the jobs it ran."""

    path: Path
    rows: list[dict[str, Any]]
    jobs_run: int = 0
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        """Runs by status (done, failed, pending)."""
        out = {"done": 0, "failed": 0, "pending": 0}
        for row in self.rows:
            out[row["status"]] = out.get(row["status"], 0) + 1
        return out


def sweep(spec: SweepSpec | str | Path | Mapping[str, Any], out: str | Path, *, executor: str = "local",
          workers: int | None = None, scheduler: str | None = None, dry_run: bool = False,
          retry_failed: bool = False, ensembles: bool = True, slurm: SlurmOptions | None = None,
          progress: bool | None = None) -> SweepResult:
    """Run a sweep into folder ``out``: train every run that is not done, as jobs on ``executor``.

    Args:
        spec: a :class:`SweepSpec`, a sweep file, or its plain data; None-like reruns are done by
            passing the folder's own ``sweep.yaml``.
        out: the sweep folder (``sweep.yaml``, ``runs/``, ``results.csv``).
        executor: ``"local"`` (a process pool on this machine, one torch thread per worker),
            ``"dask"`` (``distributed.Client(scheduler)``, or a ``LocalCluster`` of ``workers``
            processes when no scheduler is given) or ``"slurm"`` (a submitit job array; see ``slurm``).
        workers: parallel jobs (local: processes, default the CPU count; dask LocalCluster: workers;
            slurm: the array's parallelism, default unlimited).
        scheduler: the address of a running Dask scheduler (``tcp://host:8786``); dask only.
        dry_run: only say what would run (writes nothing).
        retry_failed: run the failed runs again (from their last checkpoint, if any).
        ensembles: train the seeds of a grid point as one ensemble where the model allows.
        slurm: SLURM settings (partition, time, CPUs, GPUs, log folder); slurm only.
        progress: a progress bar over runs; default: only when stderr is a terminal.

    Returns:
        A :class:`SweepResult`; ``results.csv`` holds the same rows (:func:`load_sweep` reads it).
    """
    own = "sweep"
    check_choice(own, "executor", executor, EXECUTORS)
    if workers is not None:
        workers = check_int(own, "workers", workers, low=1)
    if scheduler is not None and (executor != "dask" or not isinstance(scheduler, str)):
        raise ConfigError(f"The 'scheduler' parameter of {own} is the address of a Dask scheduler and needs "
                          f"executor='dask'. Got scheduler={scheduler!r} with executor={executor!r} instead.")
    if slurm is not None and (executor != "slurm" or not isinstance(slurm, SlurmOptions)):
        raise ConfigError(f"The 'slurm' parameter of {own} takes SlurmOptions and needs executor='slurm'. "
                          f"Got {type(slurm).__name__} with executor={executor!r} instead.")
    for name, flag in (("dry_run", dry_run), ("retry_failed", retry_failed), ("ensembles", ensembles)):
        check_bool(own, name, flag)
    out = Path(out)
    spec = _as_spec(spec)
    runs = spec.runs()  # every configuration validated before anything is written
    _check_same_sweep(out, spec)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if dry_run:
        return SweepResult(out, [_status(out, spec, r) for r in runs], dry_run=True)
    out.mkdir(parents=True, exist_ok=True)
    with _sweep_lock(out):
        atomic_write_text(out / SPEC_NAME, yaml.safe_dump(spec.to_dict(), sort_keys=False))
        for r in runs:
            _prepare(out, r)
        rows = {r.name: _status(out, spec, r) for r in runs}
        todo = [r for r in runs if rows[r.name]["status"] == "pending"
                or (retry_failed and rows[r.name]["status"] == "failed")]
        if retry_failed:
            for r in todo:
                _reopen(out / "runs" / r.name)
        jobs = _jobs(out, todo, executor, slurm.cpus_per_task if slurm else 1, ensembles)
        _write_results(out, spec, rows.values())
        from ._executors import run_jobs

        done = len(runs) - len(todo)
        bar = None
        if show and jobs:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(runs), initial=done, desc=f"sweep ({executor})", unit="run", file=sys.stderr,
                       dynamic_ncols=True)
        try:
            for job, result in run_jobs(jobs, executor, out=out, workers=workers, scheduler=scheduler, slurm=slurm):
                for p in job.paths:
                    name = Path(p).name
                    if isinstance(result, BaseException):  # the worker or the job itself failed
                        row = _row(Path(p), "failed", None, error=f"{type(result).__name__}: {result}")
                        atomic_write_text(Path(p) / RUN_RESULT_NAME, json.dumps(row, indent=2))
                    else:
                        row = next(r for r in result if r["run"] == name)
                    rows[name] = _with_point(spec, next(r for r in runs if r.name == name), row)
                _write_results(out, spec, rows.values())
                if bar is not None:
                    bar.update(len(job.paths))
                    bar.set_postfix(failed=sum(r["status"] == "failed" for r in rows.values()))
        finally:
            if bar is not None:
                bar.close()
        return SweepResult(out, list(rows.values()), jobs_run=len(jobs))


def _as_spec(spec: Any) -> SweepSpec:
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return SweepSpec.from_file(spec)
    if isinstance(spec, Mapping):
        return SweepSpec.from_dict(spec)
    raise ConfigError(f"The 'spec' parameter of sweep must be a SweepSpec, a sweep file or a mapping. "
                      f"Got {type(spec).__name__} instead.")


def _check_same_sweep(out: Path, spec: SweepSpec) -> None:
    if not (out / SPEC_NAME).is_file():
        if out.exists() and any(out.iterdir()):
            raise ConfigError(f"{out} exists and is not a sweep folder (no {SPEC_NAME}); choose another --out.")
        return
    stored = SweepSpec.from_dict(yaml_load((out / SPEC_NAME).read_text(encoding="utf-8")), source=str(out / SPEC_NAME))
    if stored.to_dict() != spec.to_dict():
        differ = [k for k in ("base", "grid", "seeds", "set") if stored.to_dict()[k] != spec.to_dict()[k]]
        raise ConfigError(f"{out} holds another sweep (its {SPEC_NAME} differs in {', '.join(differ)}). Rerun it "
                          f"with its own sweep file (or `rnnscope sweep {out}`), or choose another --out.")


@contextlib.contextmanager
def _sweep_lock(out: Path) -> Iterator[None]:
    import fcntl

    with open(out / ".lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"Another sweep is running in {out} (its lock is held); wait for it to end.") from None
        yield


def _prepare(out: Path, run: SweepRun) -> None:
    """The run's folder with its config.yaml; refuse one whose config.yaml says otherwise."""
    folder = out / "runs" / run.name
    path = folder / CONFIG_NAME
    if path.is_file():
        stored = build_run_config(load_config_file(path), source=str(path))
        if stored.to_dict() != run.config.to_dict():
            raise ConfigError(f"{path} differs from the configuration the sweep gives this run now (the library's "
                              f"defaults may have changed); run the sweep into a new folder.")
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, run.config.to_yaml())


def _status(out: Path, spec: SweepSpec, run: SweepRun) -> dict[str, Any]:
    """The run's row as its folder says: done or failed (its result.json), else pending."""
    folder = out / "runs" / run.name
    if (folder / RUN_RESULT_NAME).is_file():
        row = json.loads((folder / RUN_RESULT_NAME).read_text(encoding="utf-8"))
        if row.get("status") in ("done", "failed"):
            return _with_point(spec, run, row)
    if run_finished(folder):  # trained to its end, killed before its row was written
        row = _row_from_summary(folder, None)
        atomic_write_text(folder / RUN_RESULT_NAME, json.dumps(row, indent=2))
        return _with_point(spec, run, row)
    return _with_point(spec, run, _row(folder, "pending", None))


def _with_point(spec: SweepSpec, run: SweepRun, row: Mapping[str, Any]) -> dict[str, Any]:
    return {**run.point, "seed": run.seed, **{k: row.get(k) for k in RESULT_COLUMNS if k != "seed"}, "run": run.name}


def _reopen(folder: Path) -> None:
    """A failed run made pending again: its row and a diverged summary go (its checkpoint stays)."""
    (folder / RUN_RESULT_NAME).unlink(missing_ok=True)
    if run_finished(folder):
        (folder / SUMMARY_NAME).unlink()


def _jobs(out: Path, todo: Sequence[SweepRun], executor: str, threads: int, ensembles: bool) -> list[_Job]:
    """One job per ensemble (the seeds of a grid point that can share one), one per other run."""
    groups: list[list[SweepRun]] = []
    for r in todo:
        for g in groups:
            if ensembles and g[0].point == r.point and can_share_ensemble(g[0].config, r.config):
                g.append(r)
                break
        else:
            groups.append([r])
    return [_Job(tuple(str(out / "runs" / r.name) for r in g), executor, threads, ensembles) for g in groups]


# ---------------------------------------------------------------------------------------------- results.csv
def _write_results(out: Path, spec: SweepSpec, rows: Any) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*spec.swept, *RESULT_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in writer.fieldnames})
    atomic_write_text(out / RESULTS_NAME, buffer.getvalue())


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def read_results(out: str | Path) -> list[dict[str, str]]:
    """The rows of ``out/results.csv`` as text (no pandas needed)."""
    path = Path(out) / RESULTS_NAME
    if not path.is_file():
        raise ConfigError(f"{out} is not a sweep folder: it has no {RESULTS_NAME}.")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_sweep(out: str | Path):
    """``out/results.csv`` as a pandas DataFrame: one row per run, the swept keys, ``seed``,
    ``status``, ``performance``, ``steps``, ``wall_time_s``, ``worker``, ``error`` and ``run``.

    Needs pandas (``pip install "rnnscope[dask]"`` or ``pip install pandas``).
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the test extra
        raise ConfigError("load_sweep needs pandas: pip install pandas (or rnnscope[dask]).") from None
    read_results(out)  # a clear error for a folder that is not a sweep
    return pd.read_csv(Path(out) / RESULTS_NAME, keep_default_na=True)
