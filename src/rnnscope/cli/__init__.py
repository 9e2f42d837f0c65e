"""The ``rnnscope`` command: a thin shell over library calls.

Each subcommand parses its options, builds a configuration and calls one library function. Every
error is printed as one clear line, never a traceback, and the exit code says what happened: 0 done,
1 a failure during the work (training diverged, a reproduction missed its reference, a disk full),
2 bad input (an option, a file or a folder refused before the work), 130 stopped by Ctrl-C and 143
by SIGTERM (after saving a checkpoint to resume from).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from .. import experiments
from .._version import __version__
from ..errors import ConfigError, RnnscopeError, TrainingDivergedError, TrainingInterruptedError
from ..analysis import METRICS
from ..runs import (
    MODEL_KINDS,
    SlurmOptions,
    analyse_run,
    build_run_config,
    check_output_folder,
    compare_sources,
    default_run_dir,
    evaluate_run,
    fit_run,
    fit_table,
    load_config_file,
    merge_config,
    parse_seeds,
    resume_run,
    resume_seeds,
    sweep,
    sweep_report,
    train_run,
    train_seeds,
    write_evaluation,
    write_index,
    yaml_load,
)
from ..tasks import available, load_tasks_module, task_class

__all__ = ["main"]

# option name -> (section, key, type)
_OPTIONS: list[tuple[str, str, str, type, str]] = [
    ("--model", "model", "kind", str, f"the kind of network: {', '.join(MODEL_KINDS)} (default rate)"),
    ("--hidden-size", "model", "hidden_size", int, "number of units"),
    ("--rank", "model", "rank", int, "low-rank connectivity of rank K (default: full rank)"),
    ("--tau", "model", "tau", float, "time constant in ms"),
    ("--time", "model", "time", str, "continuous or discrete"),
    ("--nonlinearity", "model", "nonlinearity", str, "tanh, relu, softplus, sigmoid or linear"),
    ("--noise-std", "model", "noise_std", float, "recurrent noise sigma_rec"),
    ("--dale", "model", "dale", float, "Dale's law with this fraction of excitatory units"),
    ("--steps", "training", "steps", int, "maximum training steps"),
    ("--batch-size", "training", "batch_size", int, "trials per step"),
    ("--lr", "training", "learning_rate", float, "learning rate"),
    ("--criterion", "training", "criterion", float, "stop when held-out performance reaches this"),
    ("--checkpoint-every", "training", "checkpoint_every", int, "steps between checkpoints"),
    ("--dt", "task_params", "dt", float, "time step of the task and the model, ms"),
]


def _yaml_value(raw: str) -> Any:
    """A --set value read as YAML (``1e-4`` is a float, as in config files); unparsable text stays text."""
    try:
        return yaml_load(raw)
    except yaml.YAMLError:
        return raw


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set takes SECTION.KEY=VALUE (e.g. training.rate_l2=0.001). Got {item!r}.")
        key, raw = item.split("=", 1)
        parts = key.split(".")
        if len(parts) == 1:
            out[parts[0]] = _yaml_value(raw)
            continue
        if len(parts) != 2 or parts[0] not in ("task_params", "model", "training"):
            raise ConfigError(f"--set keys are task_params.KEY, model.KEY, training.KEY, seed or device. Got {key!r}.")
        out.setdefault(parts[0], {})[parts[1]] = _yaml_value(raw)
    return out


def _train_config(args: argparse.Namespace) -> Any:
    data: dict[str, Any] = load_config_file(args.config) if args.config else {}
    if args.task is not None:
        data["task"] = args.task
    elif "task" not in data:
        raise ConfigError("Name a task (rnnscope train TASK) or give a --config file with 'task:'.")
    cli: dict[str, Any] = {}
    for flag, section, key, _typ, _help in _OPTIONS:
        value = getattr(args, _dest(flag))
        if value is not None:
            cli.setdefault(section, {})[key] = value
    if args.seed is not None:
        cli["seed"] = args.seed
    if args.device is not None:
        cli["device"] = args.device
    if args.tasks_module is not None:
        cli["tasks_module"] = args.tasks_module
    data = merge_config(merge_config(data, cli), _parse_set(args.set or []))
    return build_run_config(data, source=str(args.config) if args.config else "the command line")


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    perf = summary.get("performance")
    perf_s = "n/a" if perf is None else f"{perf:.3f}"
    print(f"task {summary['task']}: {summary['steps']} steps, {summary.get('wall_time_s', 0):.1f} s, "
          f"loss {summary.get('loss') or float('nan'):.4g}, performance {perf_s} ({summary.get('status')})")
    print(f"run folder: {out}  (summary.json, metrics.jsonl, checkpoint.safetensors, figures/)")


def _load_tasks_module(args: argparse.Namespace) -> None:
    """Import the --tasks-module of a command, so that its tasks are known (a run's config.yaml
    records the one it was trained with; this one is for a file that has moved, or a run trained in
    Python)."""
    if getattr(args, "tasks_module", None) is not None:
        load_tasks_module(args.tasks_module, option="--tasks-module")


def _default_out(name: str, command: str) -> Path:
    """``runs/NAME``, or the first free ``runs/NAME-K`` when it is taken: said on stderr (one line), so
    that a second run never lands in a folder the user did not name without them knowing."""
    out = default_run_dir(name)
    if out != Path("runs") / name:
        print(f"rnnscope {command}: runs/{name} already holds a run, so this one goes to {out} (--out DIR to "
              f"choose the folder)", file=sys.stderr)
    return out


def cmd_tasks(args: argparse.Namespace) -> int:
    _load_tasks_module(args)
    names = available()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {task_class(name).summary}")
    return 0


def _ignored_by_resume(args: argparse.Namespace) -> list[str]:
    """The options given with --resume that it would ignore (the run keeps its own config.yaml)."""
    given = [flag for flag, *_ in _OPTIONS if flag != "--steps" and getattr(args, _dest(flag)) is not None]
    others = (("TASK", args.task), ("--config", args.config), ("--out", args.out), ("--seed", args.seed),
              ("--device", args.device), ("--set", args.set), ("--seeds", args.seeds))
    return [name for name, value in others if value is not None] + given


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def cmd_train(args: argparse.Namespace) -> int:
    progress = False if args.no_progress else None
    if args.resume:
        ignored = _ignored_by_resume(args)
        if ignored:
            raise ConfigError(f"--resume continues a run with its own config.yaml and takes only --steps, "
                              f"--tasks-module and --no-progress. Got {', '.join(ignored)}; to change them, train "
                              f"a new run.")
        _load_tasks_module(args)
        out = Path(args.resume)
        if not (out / "config.yaml").exists() and any(out.glob("seed-*/config.yaml")):
            return _print_seeds(resume_seeds(out, steps=args.steps, progress=progress), out)
        summary = resume_run(out, steps=args.steps, progress=progress)
    elif args.seeds is not None:
        if args.seed is not None:
            raise ConfigError("Give either --seed or --seeds, not both.")
        config = _train_config(args)
        seeds = parse_seeds(args.seeds)
        out = Path(args.out) if args.out else _default_out(config.task, "train")
        print(f"training {config.task} with {len(seeds)} seeds -> {out}/seed-K/", file=sys.stderr)
        return _print_seeds(train_seeds(config, seeds, out, progress=progress), out)
    else:
        config = _train_config(args)
        out = Path(args.out) if args.out else _default_out(config.task, "train")
        summary = train_run(config, out, progress=progress)
    _print_summary(summary, out)
    return 0


def _print_seeds(summaries: dict[int, dict[str, Any]], out: Path) -> int:
    for seed, summary in summaries.items():
        perf = summary.get("performance")
        print(f"seed {seed}: {summary['steps']} steps, performance {'n/a' if perf is None else f'{perf:.3f}'} "
              f"({summary.get('status')})")
    print(f"run folders: {out}/seed-K/  (each: summary.json, metrics.jsonl, checkpoint.safetensors, figures/)")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    target = Path(args.sweep)
    if target.is_dir():  # a sweep folder: report on it, or finish it with its own sweep.yaml
        if args.out is not None and Path(args.out) != target:
            raise ConfigError(f"{target} is a sweep folder; give no --out with it (or give its sweep file).")
        out, spec = target, target / "sweep.yaml"
        if not spec.is_file():
            raise ConfigError(f"{target} is not a sweep folder: it has no sweep.yaml.")
    else:
        out = Path(args.out) if args.out else Path("sweeps") / target.stem
        spec = target
    if args.report:
        report = sweep_report(out)
        print(report.table())
        for fig in report.figures:
            print(f"figure: {fig}")
        print(f"wrote {out / 'report' / 'table.csv'}")
        return 0
    slurm = None
    if args.executor == "slurm":
        slurm = SlurmOptions(partition=args.partition, time_min=args.time, cpus_per_task=args.cpus_per_task,
                             gpus_per_node=args.gpus, log_folder=args.log_folder, cluster=args.slurm_cluster)
    else:
        given = [flag for flag, value in (("--partition", args.partition), ("--log-folder", args.log_folder),
                                          ("--gpus", args.gpus or None)) if value is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} set SLURM jobs; they need --executor slurm.")
    result = sweep(spec, out, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                   dry_run=args.dry_run, retry_failed=args.retry_failed, ensembles=not args.no_ensembles,
                   slurm=slurm, progress=False if args.no_progress else None)
    counts = result.counts()
    if args.dry_run:
        for row in result.rows:
            print(f"{row['status']:>8}  {row['run']}")
        todo = counts["pending"] + (counts["failed"] if args.retry_failed else 0)
        print(f"{len(result.rows)} runs: {counts['done']} done, {counts['failed']} failed, {counts['pending']} pending; "
              f"would train {todo} (nothing written)")
        return 0
    print(f"{len(result.rows)} runs: {counts['done']} done, {counts['failed']} failed, {counts['pending']} pending "
          f"({result.jobs_run} jobs run now)")
    for row in result.rows:
        if row["status"] == "failed":
            print(f"  failed: {row['run']}: {row['error']}")
    print(f"results: {out / 'results.csv'}  (rnnscope sweep {out} --report for a table and plots)")
    return 0 if counts["failed"] == 0 and counts["pending"] == 0 else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    _load_tasks_module(args)
    report = evaluate_run(args.run_dir, n_trials=args.trials, seed=args.seed, device=args.device)
    print(json.dumps(report, indent=2), flush=True)  # before writing: a full disk loses no score
    write_evaluation(args.run_dir, report)
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    _load_tasks_module(args)
    report = analyse_run(args.run_dir, n_trials=args.trials, n_candidates=args.candidates,
                         seed=args.seed, progress=False if args.no_progress else None)
    out = Path(args.run_dir) / "analysis"
    for name, entry in report["conditions"].items():
        fp = entry["fixed_points"]
        print(f"{name}: {fp['count']} fixed points, by number of unstable directions {fp['by_n_unstable']}, "
              f"max q {fp['max_q']:.2g}" if fp["max_q"] is not None else f"{name}: no fixed point found")
        if "line_attractor" in entry:
            la = entry["line_attractor"]
            print(f"  line attractor: {la['fraction_passing']:.0%} of {la['points']} points pass; "
                  f"selection-vector overlaps {la['median_selection_vector_overlap']}")
    print(f"PCA: top 3 components explain {report['pca']['cumulative_top3']:.1%} of the variance")
    ly = report["lyapunov"]
    print(f"largest Lyapunov exponent: {ly['largest']:.4g} {ly['units']}")
    print(f"wrote {out / 'analysis.json'} and {out / 'report.html'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    config = build_run_config({"task": "flipflop", "seed": args.seed}, source="the demo")
    criterion = config.training.criterion or task_class("flipflop").default_criterion
    out = Path(args.out) if args.out else _default_out("demo", "demo")
    print(f"rnnscope demo: training a {config.model.hidden_size}-unit rate RNN on the 3-bit flip-flop "
          f"(Sussillo & Barak 2013) to performance >= {criterion}", file=sys.stderr)
    summary = train_run(config, out, progress=False if args.no_progress else None)
    _print_summary(summary, out)
    print(f"figure: {out / 'figures' / 'trials.png'}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    if args.name is None:
        names = experiments.available()
        width = max((len(n) for n in names), default=0)
        for name in names:
            summary, reference = experiments.summary_of(name)
            print(f"{name:<{width}}  {summary} ({reference})")
        return 0
    out = check_output_folder(Path(args.out) if args.out else Path("reproductions") / args.name, "--out")
    result = experiments.run(args.name, out, quick=args.quick, seed=args.seed,
                             progress=False if args.no_progress else None)
    for check in result.checks:
        print(check.line())
    for key, value in result.numbers.items():
        if isinstance(value, (int, float, str)):
            print(f"        {key}: {value:.4g}" if isinstance(value, float) else f"        {key}: {value}")
    for fig in result.figures:
        print(f"figure: {fig}")
    print(f"wrote {out / 'result.json'} and {write_index(out)}")
    return 0 if result.passed else 1


def cmd_compare(args: argparse.Namespace) -> int:
    metrics = None if args.metric == "all" else [args.metric]  # all: every metric that applies
    out = check_output_folder(Path(args.out) if args.out else Path("."), "--out")
    report = compare_sources(args.a, args.b, metrics=metrics, n_trials=args.trials, seed=args.seed,
                             n_permutations=args.permutations)
    out.mkdir(parents=True, exist_ok=True)
    path = report.save(out / "compare.json")
    task = f" on {report.task} trials" if report.task else ""
    print(f"{report.a} vs {report.b} ({report.kind}{task}; {report.n_trials} trials x {report.n_steps} time bins)")
    print(report.table())
    print(f"wrote {path}" + (f" and {write_index(out)}" if args.out else ""))
    return 0


def _names(text: str | None) -> list[str] | None:
    """A comma-separated list of names (--inputs, --conditions), None if not given."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"Give comma-separated names, e.g. coherence,context. Got {text!r}.")
    return names


def cmd_fit(args: argparse.Namespace) -> int:
    if args.rank == "auto":
        rank: int | str = "auto"
    else:
        try:
            rank = int(args.rank)
        except ValueError:
            raise ConfigError(f"--rank takes a positive integer or 'auto'. Got {args.rank!r}.") from None
    try:
        ranks = [int(k) for k in args.ranks.split(",") if k.strip()]
    except ValueError:
        raise ConfigError(f"--ranks takes comma-separated integers, e.g. 1,2,3. Got {args.ranks!r}.") from None
    out = Path(args.out) if args.out else Path("runs") / f"fit-{Path(args.data).stem}"
    summary = fit_run(args.data, out, rank=rank, ranks=ranks, hidden_size=args.hidden_size, mapping=args.mapping,
                      target=args.target, conditions=_names(args.conditions), steps=args.steps,
                      batch_size=args.batch_size, learning_rate=args.lr, test_fraction=args.test_fraction,
                      stratify=args.stratify, tolerance=args.tolerance, tau=args.tau, bin_ms=args.bin_ms,
                      inputs=_names(args.inputs) or (), input_window=args.input_window, align=args.align,
                      window_ms=args.window_ms, source=args.source, rates=args.rates, smooth_ms=args.smooth_ms,
                      seed=args.seed, progress=False if args.no_progress else None,
                      notify=lambda notice: print(f"rnnscope fit: note: {notice}", file=sys.stderr))
    inputs = f" ({', '.join(summary['input_names'])})" if summary["input_names"] else ""
    print(f"{summary['n_trials']} trials x {summary['n_neurons']} neurons, {summary['n_inputs']} inputs{inputs}, "
          f"dt {summary['dt']:g} ms")
    print(fit_table(summary))
    write_index(out)
    print(f"fit folder: {out}  (index.html, summary.json, config.yaml, checkpoint.safetensors, rank_K/, figures/)")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    print(f"wrote {write_index(args.folder)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rnnscope", description="Train recurrent networks on cognitive tasks and open the black box.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tasks_module_help = ("a Python file (my_tasks.py) or module that registers tasks of your own "
                         "(rnnscope.tasks.register)")
    t = sub.add_parser("tasks", help="list the tasks, one line each")
    t.add_argument("--tasks-module", metavar="FILE", help=tasks_module_help)
    t.set_defaults(func=cmd_tasks)

    tr = sub.add_parser("train", help="train a network on a task, writing a run folder")
    tr.add_argument("task", nargs="?", help="task name (see `rnnscope tasks`)")
    tr.add_argument("--config", help="YAML file with task, task_params, model, training, seed, device")
    tr.add_argument("--out", help="run folder (default: runs/TASK)")
    tr.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    tr.add_argument("--seed", type=int)
    tr.add_argument("--seeds", metavar="SEEDS",
                    help="train one network per seed, e.g. 0-15 or 0,3,7: OUT/seed-K/ each, rate networks as one "
                         "batched ensemble")
    tr.add_argument("--device", help="cpu, cuda, ...")
    tr.add_argument("--tasks-module", metavar="FILE",
                    help=tasks_module_help + "; recorded in config.yaml, so evaluate, analyse and --resume import "
                                             "it again")
    for flag, _section, _key, typ, helptext in _OPTIONS:
        tr.add_argument(flag, type=typ, help=helptext)
    tr.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                    help="any other setting, e.g. --set training.rate_l2=1e-3 --set task_params.coherences=[6.4,12.8]")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_train)

    sw = sub.add_parser("sweep", help="train a grid of runs x seeds (SWEEP.yaml) on a process pool, Dask or SLURM; "
                                      "resumable; --report summarises a sweep folder")
    sw.add_argument("sweep", metavar="SWEEP", help="a sweep file (task or base, grid, seeds, set), or a sweep folder")
    sw.add_argument("--out", help="the sweep folder (default: sweeps/NAME)")
    sw.add_argument("--executor", choices=["local", "dask", "slurm"], default="local",
                    help="local: a process pool (default); dask: a Dask cluster; slurm: a job array (submitit)")
    sw.add_argument("--workers", type=int, help="parallel jobs (local processes, LocalCluster workers, array parallelism)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786 (dask)")
    sw.add_argument("--dry-run", action="store_true", help="list the runs and what would train; write nothing")
    sw.add_argument("--retry-failed", action="store_true", help="train the failed runs again")
    sw.add_argument("--report", action="store_true", help="a table and plots of performance against each swept key")
    sw.add_argument("--no-ensembles", action="store_true", help="train every seed alone (not as one ensemble)")
    sw.add_argument("--partition", help="SLURM partition")
    sw.add_argument("--time", type=int, default=60, help="SLURM time limit per job, minutes (default 60)")
    sw.add_argument("--cpus-per-task", type=int, default=1, help="SLURM CPUs (and torch threads) per job")
    sw.add_argument("--gpus", type=int, default=0, help="SLURM GPUs per job")
    sw.add_argument("--log-folder", help="submitit's job files and logs (default: OUT/slurm)")
    sw.add_argument("--slurm-cluster", choices=["slurm", "local"], default="slurm",
                    help="local: submitit's local executor instead of SLURM (the same code path, for a test)")
    sw.add_argument("--no-progress", action="store_true")
    sw.set_defaults(func=cmd_sweep)

    ev = sub.add_parser("evaluate", help="re-score a trained run on fresh trials")
    ev.add_argument("run_dir")
    ev.add_argument("--trials", type=int, default=512)
    ev.add_argument("--seed", type=int, default=12345)
    ev.add_argument("--device")
    ev.add_argument("--tasks-module", metavar="FILE", help=tasks_module_help + " (default: the run's own)")
    ev.set_defaults(func=cmd_evaluate)

    an = sub.add_parser("analyse", aliases=["analyze"],
                        help="fixed points, state space, flow field and Lyapunov exponent of a trained run")
    an.add_argument("run_dir")
    an.add_argument("--trials", type=int, default=256, help="fresh trials to simulate")
    an.add_argument("--candidates", type=int, default=1024, help="starting states of the fixed-point search")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--tasks-module", metavar="FILE", help=tasks_module_help + " (default: the run's own)")
    an.add_argument("--no-progress", action="store_true")
    an.set_defaults(func=cmd_analyse)

    r = sub.add_parser("reproduce", help="run a classic result (e.g. chaos at g = 1); without NAME, list them")
    r.add_argument("name", nargs="?", help="reproduction name (see `rnnscope reproduce`)")
    r.add_argument("--out", help="output folder (default: reproductions/NAME)")
    r.add_argument("--quick", action="store_true", help="the short version the tests run")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=cmd_reproduce)

    cp = sub.add_parser("compare", help="similarity of two runs or data sets (CCA, Procrustes, RSA, DSA) vs permutation baselines")
    cp.add_argument("a", help="run folder or .npz data file")
    cp.add_argument("b", help="run folder or .npz data file")
    cp.add_argument("--metric", choices=[*METRICS, "all"], default="all")
    cp.add_argument("--trials", type=int, default=64, help="trials of the shared task to simulate (two runs)")
    cp.add_argument("--permutations", type=int, default=200, help="shuffled pairings of the baseline")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--out", help="folder for compare.json and its index.html page (default: the current folder, "
                                  "without a page)")
    cp.set_defaults(func=cmd_compare)

    ft = sub.add_parser("fit", help="fit low-rank networks to recorded activity (.npz or .nwb), choosing the rank")
    ft.add_argument("data", help="data file: .npz (rnnscope NeuralData) or .nwb (with --bin-ms)")
    ft.add_argument("--rank", default="auto", help="rank K, or 'auto' to choose among --ranks (default)")
    ft.add_argument("--ranks", default="1,2,3,4,5", help="ranks tried by --rank auto (default 1,2,3,4,5)")
    ft.add_argument("--hidden-size", type=int, help="units (default: the number of neurons)")
    ft.add_argument("--mapping", choices=["linear", "identity"], default="linear",
                    help="units to neurons: a learned linear readout, or one unit per neuron")
    ft.add_argument("--steps", type=int, default=500, help="training steps per rank")
    ft.add_argument("--batch-size", type=int, default=64)
    ft.add_argument("--lr", type=float, default=1e-2, help="learning rate (drops to 2e-3 for the last 40%% of steps)")
    ft.add_argument("--tau", type=float, default=100.0, help="time constant in ms")
    ft.add_argument("--test-fraction", type=float, default=0.2, help="held-out trials")
    ft.add_argument("--stratify", help="condition whose values are split evenly between train and test "
                                       "(default: those of --conditions)")
    ft.add_argument("--tolerance", type=float, default=0.005, help="held-out R2 a larger rank must gain")
    ft.add_argument("--target", choices=["single-trial", "condition-average"], default="single-trial",
                    help="fit single trials, or the condition averages of the trials grouped by --conditions")
    ft.add_argument("--conditions", metavar="NAMES",
                    help="comma-separated trial columns (conditions of a .npz) that define a condition: they "
                         "group the trials for --target condition-average, the condition-average R2 and the noise "
                         "ceiling (default: the trial columns of --inputs)")
    ft.add_argument("--bin-ms", type=float, help="bin width for .nwb files")
    nwb = ft.add_argument_group("NWB files", "how to read a .nwb file (rnnscope.data.read_nwb)")
    nwb.add_argument("--inputs", metavar="NAMES",
                     help="comma-separated stimuli the network receives: trial columns (one number per trial, held "
                          "during --input-window) or TimeSeries names")
    nwb.add_argument("--input-window", nargs=2, metavar=("ONSET", "OFFSET"),
                     help="two trial columns (s) between which the trial-column inputs are on "
                          "(default: the whole trial)")
    nwb.add_argument("--align", default="start_time", help="trial column (s) that time 0 of each trial is aligned to")
    nwb.add_argument("--window-ms", nargs=2, type=float, metavar=("BEGIN", "END"),
                     help="time window around --align covered by the bins, ms (default: 0 to the longest trial)")
    nwb.add_argument("--source", default="units",
                     help="'units' (bin the spike times of the units table) or the name of a TimeSeries")
    nwb.add_argument("--rates", action="store_true", help="spikes per second instead of counts per bin")
    ft.add_argument("--smooth-ms", type=float,
                    help="smooth the activity with a Gaussian of this std (ms) before fitting")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--out", help="fit folder (default: runs/fit-DATA)")
    ft.add_argument("--no-progress", action="store_true")
    ft.set_defaults(func=cmd_fit)

    ix = sub.add_parser("index", help="write FOLDER/index.html: one page of the results in a folder (run, fit, "
                                      "reproduction, comparison, sweep)")
    ix.add_argument("folder")
    ix.set_defaults(func=cmd_index)

    d = sub.add_parser("demo", help="train a small network on the 3-bit flip-flop (the README's first command)")
    d.add_argument("--out", help="run folder (default: runs/demo)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(func=cmd_demo)
    return p


def _version() -> str:
    return f"rnnscope {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"rnnscope {args.command}"
    with _notes_to_stderr(prefix):
        try:
            return int(args.func(args) or 0)
        except TrainingInterruptedError as exc:
            print(f"{prefix}: {exc}", file=sys.stderr)
            number = getattr(signal, exc.signal_name, None)
            return 128 + int(number) if isinstance(number, signal.Signals) else 1
        except TrainingDivergedError as exc:  # a failure during the work, not bad input
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 1
        except RnnscopeError as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 2
        except (OSError, MemoryError) as exc:  # the machine failed the work: a full disk, a lost folder
            print(f"{prefix}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130


@contextlib.contextmanager
def _notes_to_stderr(prefix: str) -> Iterator[None]:
    """Print what the library logs at level INFO (the work starting once its input is checked, a
    history started afresh, ...) as one line each on stderr."""
    logger = logging.getLogger("rnnscope")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prefix}: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
