"""Sweeps: the sweep file, run folders, results.csv, the three executors, resume after SIGKILL, failures."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml

from rnnscope.cli import main
from rnnscope.errors import ConfigError
from rnnscope.runs import SlurmOptions, SweepSpec, load_run, load_sweep, read_results, sweep, sweep_report
from rnnscope.training import load_checkpoint

TINY = {"model.hidden_size": 6, "training.batch_size": 4, "training.eval_every": 4, "training.eval_batch_size": 8,
        "task_params.duration": 100}


def _spec(**more):
    data = {"task": "flipflop", "grid": {"model.kind": ["rate", "gru"]}, "seeds": [0, 1],
            "set": {**TINY, "training.steps": 16, "training.batch_size": 8}}
    data.update(more)
    return data


def _no_children():
    """No process started by the sweep outlives it. multiprocessing's resource tracker is left out: the
    interpreter starts one per process for a spawn context, and it ends with this process."""
    def alive():
        out = []
        for c in psutil.Process().children(recursive=True):
            try:
                if c.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(c.cmdline()):
                    out.append(c)
            except psutil.NoSuchProcess:
                pass
        return out

    deadline = time.time() + 10
    while alive() and time.time() < deadline:  # a pool's processes may take a moment to exit
        time.sleep(0.2)
    assert not alive(), f"leaked processes: {alive()}"


def _comparable(out):
    """results.csv without the columns that say who ran a run and how long it took."""
    return [{k: v for k, v in row.items() if k not in ("worker", "wall_time_s")} for row in read_results(out)]


def test_the_three_executors_give_the_same_results(tmp_path):
    local = sweep(_spec(), tmp_path / "local", workers=1, progress=False)
    assert local.counts() == {"done": 4, "failed": 0, "pending": 0}
    assert local.jobs_run == 3  # the rate seeds as one ensemble, each GRU alone
    _no_children()
    dask = sweep(_spec(), tmp_path / "dask", executor="dask", workers=2, progress=False)
    _no_children()
    slurm = sweep(_spec(), tmp_path / "slurm", executor="slurm", slurm=SlurmOptions(cluster="local", time_min=5),
                  progress=False)
    _no_children()
    assert dask.counts() == slurm.counts() == local.counts()
    rows = _comparable(tmp_path / "local")
    assert [r["run"] for r in rows] == ["kind=rate,seed=0", "kind=rate,seed=1", "kind=gru,seed=0", "kind=gru,seed=1"]
    assert len({r["performance"] for r in rows}) == 4  # distinct numbers, worth comparing
    assert _comparable(tmp_path / "dask") == rows
    assert _comparable(tmp_path / "slurm") == rows
    workers = {name: {r["worker"] for r in read_results(tmp_path / name)} for name in ("local", "dask", "slurm")}
    assert all(w.startswith("dask tcp://") for w in workers["dask"])
    assert all(w.startswith("slurm ") for w in workers["slurm"]) and len(workers["slurm"]) == 3
    assert (tmp_path / "slurm" / "slurm").is_dir()  # submitit's job files
    # every run is an ordinary run folder with its log
    for row in rows:
        folder = tmp_path / "dask" / "runs" / row["run"]
        run = load_run(folder)
        assert run.config.model.kind == row["model.kind"] and run.config.seed == int(row["seed"]) == run.config.training.seed
        assert (folder / "log.txt").read_text().count("training") == 1
        assert json.loads((folder / "summary.json").read_text())["performance"] == pytest.approx(float(row["performance"]))
    frame = load_sweep(tmp_path / "local")
    assert list(frame.columns) == ["model.kind", "seed", "status", "performance", "steps", "wall_time_s", "worker",
                                   "error", "run"]
    assert (frame["status"] == "done").all() and frame["steps"].tolist() == [16, 16, 16, 16]
    # running it again trains nothing and changes no run
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "local" / "runs").rglob("*") if p.is_file()}
    again = sweep(_spec(), tmp_path / "local", workers=1, progress=False)
    assert again.jobs_run == 0 and again.counts()["done"] == 4
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "local" / "runs").rglob("*") if p.is_file()} == before


def test_dask_runs_on_an_existing_cluster_given_its_address(tmp_path):
    import distributed

    data = {"task": "flipflop", "seeds": [3], "set": {**TINY, "training.steps": 2}}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = sweep(data, tmp_path, executor="dask", scheduler=cluster.scheduler_address, progress=False)
        worker = next(iter(cluster.workers.values())).worker_address
    assert result.counts()["done"] == 1
    assert read_results(tmp_path)[0]["worker"] == f"dask {worker}"
    _no_children()


def test_a_sigkilled_sweep_finishes_what_it_left(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump(_spec(set={**TINY, "training.steps": 200, "training.checkpoint_every": 10,
                                                   "training.eval_every": 100, "training.stop_at_criterion": False})))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rnnscope.cli", "sweep", str(spec), "--out", str(out), "--workers", "1",
               "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    rate = [out / "runs" / f"kind=rate,seed={s}" for s in (0, 1)]
    gru = [out / "runs" / f"kind=gru,seed={s}" for s in (0, 1)]
    try:  # the jobs run in order on one worker: the rate ensemble first, then each GRU
        deadline = time.time() + 300
        while not ((gru[0] / "checkpoint.safetensors").is_file() and (gru[0] / "metrics.jsonl").is_file()):
            assert time.time() < deadline and proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool, mid-run
        proc.wait()
    _no_children()
    assert all((p / "result.json").is_file() for p in rate)
    assert not (gru[0] / "result.json").exists()
    killed_at = load_checkpoint(gru[0] / "checkpoint.safetensors").step
    assert 0 < killed_at < 200
    finished = {p: p.stat().st_mtime_ns for r in rate for p in r.rglob("*") if p.is_file()}
    assert main(command[3:]) == 0
    _no_children()
    assert {p: p.stat().st_mtime_ns for r in rate for p in r.rglob("*") if p.is_file()} == finished
    rows = {r["run"]: r for r in read_results(out)}
    assert all(r["status"] == "done" and r["steps"] == "200" for r in rows.values()), rows
    assert (gru[0] / "log.txt").read_text().count("training alone") == 2
    # the resumed run is the run an uninterrupted sweep gives
    reference = tmp_path / "reference"
    data = yaml.safe_load(spec.read_text())
    sweep({**data, "grid": {"model.kind": ["gru"]}}, reference, workers=1, progress=False)
    for name in ("kind=gru,seed=0", "kind=gru,seed=1"):
        a = load_checkpoint(out / "runs" / name / "checkpoint.safetensors").model_state
        b = load_checkpoint(reference / "runs" / name / "checkpoint.safetensors").model_state
        assert all(torch.equal(a[k], b[k]) for k in a), name
    _no_children()


def test_failures_are_recorded_and_retried_only_when_asked(tmp_path, capsys):
    data = {"task": "flipflop", "grid": {"training.learning_rate": [0.01, 1e30]}, "seeds": [0],
            "set": {**TINY, "training.steps": 4, "training.grad_clip": None, "model.kind": "gru"}}
    first = sweep(data, tmp_path, workers=1, progress=False)
    rows = {r["training.learning_rate"]: r for r in first.rows}
    assert rows[0.01]["status"] == "done"
    assert rows[1e30]["status"] == "failed" and "became" in rows[1e30]["error"]
    assert "became nan" in (tmp_path / "runs" / rows[1e30]["run"] / "log.txt").read_text().lower() or \
        "diverged" in (tmp_path / "runs" / rows[1e30]["run"] / "summary.json").read_text()
    assert sweep(data, tmp_path, workers=1, progress=False).jobs_run == 0
    # --retry-failed trains it again (and it fails again: its divergence does not depend on the attempt)
    assert main(["sweep", str(tmp_path), "--retry-failed", "--no-progress"]) == 1
    assert "failed: learning_rate=1e+30,seed=0" in capsys.readouterr().out
    assert (tmp_path / "runs" / "learning_rate=1e+30,seed=0" / "log.txt").read_text().count("training alone") == 2
    _no_children()


def test_the_sweep_file_is_checked_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="either 'task: NAME' or 'base: RUN.yaml'"):
        SweepSpec.from_dict({"grid": {}})
    with pytest.raises(ConfigError, match=r"Unknown key\(s\) grids"):
        SweepSpec.from_dict({"task": "flipflop", "grids": {}})
    with pytest.raises(ConfigError, match="must be a dotted config key"):
        SweepSpec.from_dict({"task": "flipflop", "grid": {"hidden_size": [4]}})
    with pytest.raises(ConfigError, match="non-empty list"):
        SweepSpec.from_dict({"task": "flipflop", "grid": {"model.hidden_size": []}})
    with pytest.raises(ConfigError, match="both swept"):
        SweepSpec.from_dict({"task": "flipflop", "grid": {"model.tau": [50.0]}, "set": {"model.tau": 20.0}})
    with pytest.raises(ConfigError, match="run hidden_size=0,seed=0"):
        sweep({"task": "flipflop", "grid": {"model.hidden_size": [4, 0]}}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    base = tmp_path / "run.yaml"
    base.write_text(yaml.safe_dump({"task": "flipflop", "model": {"hidden_size": 5}}))
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump({"base": "run.yaml", "grid": {"training.learning_rate": [0.1, 0.01]},
                                         "seeds": "0-2"}))
    spec = SweepSpec.from_file(spec_file)
    runs = spec.runs()
    assert len(runs) == 6 and runs[0].name == "learning_rate=0.1,seed=0" and runs[0].config.model.hidden_size == 5
    dry = sweep(spec, tmp_path / "dry", dry_run=True)
    assert dry.counts() == {"done": 0, "failed": 0, "pending": 6} and not (tmp_path / "dry").exists()


def test_a_folder_holds_one_sweep_and_one_driver(tmp_path, capsys):
    out = tmp_path / "out"
    data = {"task": "flipflop", "seeds": [0], "set": {**TINY, "training.steps": 1}}
    assert main(["sweep", _write(tmp_path / "a.yaml", data), "--out", str(out), "--dry-run"]) == 0
    assert "would train 1 (nothing written)" in capsys.readouterr().out
    out.mkdir()
    (out / "sweep.yaml").write_text(yaml.safe_dump(SweepSpec.from_dict(data).to_dict()))
    other = {**data, "seeds": [0, 1]}
    assert main(["sweep", _write(tmp_path / "b.yaml", other), "--out", str(out)]) == 2
    assert "holds another sweep (its sweep.yaml differs in seeds)" in capsys.readouterr().err
    import fcntl

    with open(out / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="Another sweep is running"):
            sweep(data, out)
    assert main(["sweep", str(out), "--partition", "gpu"]) == 2
    assert "need --executor slurm" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="needs executor='dask'"):
        sweep(data, out, scheduler="tcp://localhost:8786")


def test_report_tables_and_plots_each_swept_key(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    spec = SweepSpec.from_dict({"task": "flipflop", "grid": {"model.hidden_size": [4, 8], "model.kind": ["rate", "gru"]},
                                "seeds": [0, 1]})
    (out / "sweep.yaml").write_text(yaml.safe_dump(spec.to_dict()))
    header = "model.hidden_size,model.kind,seed,status,performance,steps,wall_time_s,worker,error,run\n"
    lines = [f"{h},{k},{s},done,{0.1 * h + 0.05 * s + (k == 'gru') * 0.2},10,1.0,w,," + f'"{h},{k},{s}"'
             for h in (4, 8) for k in ("rate", "gru") for s in (0, 1)]
    lines[-1] = '8,gru,1,failed,,3,1.0,w,"TrainingDivergedError: boom","8,gru,1"'
    (out / "results.csv").write_text(header + "\n".join(lines) + "\n")
    assert main(["sweep", str(out), "--report"]) == 0
    printed = capsys.readouterr().out
    assert "performance" in printed and "figure:" in printed
    report = sweep_report(out)
    by_point = {(r["model.hidden_size"], r["model.kind"]): r for r in report.rows}
    assert by_point[(4, "rate")]["performance"] == pytest.approx(0.425)
    assert by_point[(8, "gru")]["done"] == 1 and by_point[(8, "gru")]["failed"] == 1
    assert [p.name for p in report.figures] == ["performance_vs_model_hidden_size.png", "performance_vs_model_kind.png"]
    assert all(p.stat().st_size > 0 for p in report.figures)
    assert (out / "report" / "table.csv").read_text().count("\n") == 5


def _write(path: Path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)
