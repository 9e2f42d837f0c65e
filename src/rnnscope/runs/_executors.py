"""Where a sweep's jobs run: a local process pool, Dask, or SLURM through submitit.

Each backend takes the same jobs and yields ``(job, rows)`` as jobs finish, or ``(job, exception)``
when the job could not run to its end (a worker died, SLURM cancelled it, ...); rnnscope schedules
nothing itself.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._sweep import SlurmOptions, _Job, _row, run_job

__all__ = ["run_jobs"]

Outcome = list[dict[str, Any]] | BaseException


def run_jobs(jobs: Sequence[_Job], executor: str, *, out: Path, workers: int | None, scheduler: str | None,
             slurm: SlurmOptions | None) -> Iterator[tuple[_Job, Outcome]]:
    """Run ``jobs`` on ``executor``; yields each job with its rows (or the exception that ended it)
    as it finishes."""
    if not jobs:
        return iter(())
    if executor == "local":
        return _local(jobs, workers)
    if executor == "dask":
        return _dask(jobs, workers, scheduler)
    return _slurm(jobs, workers, slurm or SlurmOptions(), out)


def _local(jobs: Sequence[_Job], workers: int | None) -> Iterator[tuple[_Job, Outcome]]:
    """A pool of ``workers`` processes (started fresh, never forked from a process with torch's threads)."""
    n = min(workers or os.cpu_count() or 1, len(jobs))
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            error = future.exception()
            if isinstance(error, BrokenProcessPool):  # a worker died: these runs did not fail, they did not run
                yield job, [_pending(p, "a worker of the process pool died; run the sweep again") for p in job.paths]
            else:
                yield job, error if error is not None else future.result()


def _dask(jobs: Sequence[_Job], workers: int | None, scheduler: str | None) -> Iterator[tuple[_Job, Outcome]]:
    """A Dask cluster: the one at ``scheduler``, or a LocalCluster of ``workers`` single-threaded processes."""
    try:
        import distributed
    except ImportError:
        raise ConfigError("The dask executor needs Dask: pip install \"rnnscope[dask]\".") from None
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(n_workers=min(workers or os.cpu_count() or 1, len(jobs)),
                                           threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with distributed.Client(cluster if cluster is not None else scheduler) as client:
            futures = {client.submit(run_job, job, pure=False): job for job in jobs}
            for future in distributed.as_completed(list(futures)):
                job = futures[future]
                yield job, future.exception() if future.status == "error" else future.result()
    finally:
        if cluster is not None:
            cluster.close()


def _slurm(jobs: Sequence[_Job], workers: int | None, options: SlurmOptions, out: Path) -> Iterator[tuple[_Job, Outcome]]:
    """One SLURM job array through submitit (its local executor with ``cluster="local"``)."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("The slurm executor needs submitit: pip install \"rnnscope[slurm]\".") from None
    if options.cluster == "slurm" and submitit.AutoExecutor.which() != "slurm":
        raise ConfigError("The slurm executor found no SLURM here (no sbatch on the PATH). Run the sweep on the "
                          "cluster's login node, or use --executor local or dask.")
    folder = Path(options.log_folder) if options.log_folder is not None else out / "slurm"
    executor = submitit.AutoExecutor(folder=folder, cluster=options.cluster)
    params: dict[str, Any] = {"name": f"rnnscope-sweep-{out.name}", "timeout_min": options.time_min,
                              "cpus_per_task": options.cpus_per_task, "gpus_per_node": options.gpus_per_node}
    if options.cluster == "slurm":
        params["slurm_array_parallelism"] = workers or len(jobs)
        if options.partition is not None:
            params["slurm_partition"] = options.partition
    executor.update_parameters(**params)
    submitted = executor.map_array(run_job, list(jobs))
    index = {id(s): job for s, job in zip(submitted, jobs)}
    for done in submitit.helpers.as_completed(submitted, poll_frequency=1.0):
        job = index[id(done)]
        try:
            yield job, done.result()
        except Exception as exc:  # noqa: BLE001 - the job failed on SLURM's side (time limit, node failure)
            yield job, exc


def _pending(path: str, why: str) -> dict[str, Any]:
    return _row(Path(path), "pending", None, error=why)
