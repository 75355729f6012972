"""Submit sweeps through submitit: shared stages first, then the runs as one job array.

A job receives one small plain argument (a run's request as JSON: its spec, the folders,
device, threads and plugin folders) and calls a function of this package, never a large
pickle. Each run writes its own
record, so a crashed task loses nothing but itself, and a resubmission sends only
the runs that have no `ok` record and are not pending or running.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import submitit

from wsbench.cluster.stages import data_stages, run_stages, shared_stages
from wsbench.cluster.status import ACTIVE, read_jobs, run_states, sweep_dir
from wsbench.cluster.sweepfile import Sweep
from wsbench.core.discovery import Registry
from wsbench.core.errors import UserError
from wsbench.core.fileio import atomic_write_json
from wsbench.core.records import RunRecord, current_record, summarize, write_record
from wsbench.core.request import Request
from wsbench.core.runner import Runner
from wsbench.core.spec import RunSpec

CLUSTERS = ("slurm", "local", "debug")


class RunJob(submitit.helpers.Checkpointable):
    """One run in a job. On preemption or timeout submitit requeues the same call; the
    run then resumes from the checkpoints its long stages wrote (wsbench.train.loop)."""

    def __call__(self, request: str) -> str:
        where = Request.from_json(request)
        runner = Runner(where.open(), dataclasses.replace(where, log=job_log()))
        spec = where.spec
        record, _ = runner.run(spec)
        if record is None:  # another live process owns the run (a resubmitted copy): it writes the record
            print(f"{spec.run_id}: run by {runner.lock(spec).describe_owner()}", file=sys.stderr, flush=True)
            return "owned elsewhere"
        print(f"{record['run_id']}: {record['status']}", file=sys.stderr, flush=True)
        return record["status"]


def job_log() -> str:
    """This job's stderr log ("" in the debug executor, which runs jobs in the calling process)."""
    return str(submitit.JobEnvironment().paths.stderr) if "SUBMITIT_FOLDER" in os.environ else ""


def make_executor(kind: str, folder: Path, settings: dict[str, Any]) -> submitit.AutoExecutor:
    if kind not in CLUSTERS:
        raise UserError(f"--cluster {kind!r}: choose one of {', '.join(CLUSTERS)}")
    if kind == "slurm" and shutil.which("sbatch") is None:
        raise UserError("--cluster slurm: `sbatch` is not on PATH (is SLURM installed and SLURM_CONF set?)")
    executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=kind)
    generic = {k: settings[k] for k in ("timeout_min", "mem_gb", "cpus_per_task", "gpus_per_node")
               if settings.get(k) is not None}
    slurm = {f"slurm_{k}": settings[k] for k in ("partition", "account", "qos", "array_parallelism")
             if settings.get(k) is not None}
    executor.update_parameters(name="wsbench", **generic, **slurm)
    return executor


def submit(sweep: Sweep, reg: Registry, kind: str, settings: dict, data_root: Path, results: Path,
           device: str, dry_run: bool = False, wait: bool = False,
           log: Callable[[str], None] = print) -> list[RunSpec]:
    """Submit the sweep's missing and failed runs; with `wait`, block until they end."""
    states = {row["run"]: row["state"] for row in run_states(sweep, results)}
    todo = [s for s in sweep.specs if states[s.run_id] not in {"done", "skipped", "unknown", *ACTIVE}]
    unknown = sum(state == "unknown" for state in states.values())
    if unknown:  # they may still be running: submitting them again would run them twice
        log(f"sweep {sweep.name}: {unknown} submitted runs not submitted again: SLURM could not be asked "
            f"where they stand (`wsbench status {sweep.path}` says why; is SLURM_CONF set?)")
    where = Request(str(data_root), str(results), device, reg.dirs, threads=int(settings.get("cpus_per_task") or 0),
                    quiet=True)
    prepare = data_stages(sweep, reg, where) if todo else []
    shared = shared_stages(todo, reg, where, int(settings.get("stage_jobs") or 1))
    log(f"sweep {sweep.name}: {len(sweep.specs)} runs, {len(sweep.specs) - len(todo)} done or active, "
        f"{len(todo)} to submit, {len(prepare) + len(shared)} shared stage jobs")
    if dry_run:
        for stage in prepare + shared:
            log(f"  stage: {stage.key}")
        for spec in todo:
            log(f"  run {spec.run_id}: {spec.method} on {spec.dataset} seed {spec.seed} ({states[spec.run_id]})")
        return todo
    if not todo:
        return todo
    folder = sweep_dir(results, sweep)
    executor = make_executor(kind, folder / "logs", settings)
    run_stages(prepare, executor, log)  # shared stages run once, before the runs that need them
    run_stages(shared, executor, log)  # after the data they load is prepared
    requests = [where.for_run(spec, "").to_json() for spec in todo]
    if kind == "local":
        parallel = local_parallelism(settings)
        log(f"  running {len(todo)} runs as local processes, {parallel} at a time; logs in {folder / 'logs'}")
        run_in_waves(todo, requests, executor, parallel, lambda pairs: book_jobs(folder, kind, pairs), results, log)
        return todo
    jobs = executor.map_array(RunJob(), requests)
    book_jobs(folder, kind, list(zip(todo, jobs)))
    log(f"  submitted {len(jobs)} runs as {kind} job{'s' if len(jobs) > 1 else ''} "
        f"{jobs[0].job_id}{'..' + str(jobs[-1].job_id) if len(jobs) > 1 else ''}; logs in {folder / 'logs'}")
    if wait or kind == "debug":
        for finished, job in enumerate(submitit.helpers.as_completed(jobs, poll_frequency=5.0), 1):
            report_end(todo[jobs.index(job)], job, f"  [{finished}/{len(todo)}]", results, log)
    return todo


def usable_cpus() -> int:
    """The CPUs this process may run on (inside a SLURM allocation: the allocation's, not the node's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local_parallelism(settings: dict) -> int:
    """Local runs at once: the array parallelism, but no more than the usable CPUs hold at
    `cpus_per_task` each (more would only share the same cores)."""
    fits = max(1, usable_cpus() // max(1, int(settings.get("cpus_per_task") or 1)))
    return max(1, min(int(settings.get("array_parallelism") or fits), fits))


def run_in_waves(specs: list[RunSpec], requests: list[str], executor, parallel: int,
                 book: Callable[[list], None], results: Path, log: Callable[[str], None],
                 poll_seconds: float = 2.0) -> None:
    """Start the runs as local jobs, at most `parallel` at once, each next one as one ends
    (submitit's local executor starts every job it is given at once)."""
    queue, running, finished = list(zip(specs, requests)), [], 0
    while queue or running:
        while queue and len(running) < parallel:
            spec, request = queue.pop(0)
            job = executor.submit(RunJob(), request)
            book([(spec, job)])
            running.append((spec, job))
        time.sleep(poll_seconds)
        for spec, job in [pair for pair in running if pair[1].done()]:
            running.remove((spec, job))
            finished += 1
            report_end(spec, job, f"  [{finished}/{len(specs)}]", results, log)


def book_jobs(folder: Path, kind: str, pairs: list) -> None:
    """Record which job runs which run (jobs.json), so status and resubmission can tell."""
    book = read_jobs(folder / "jobs.json")
    book["cluster"] = kind
    for spec, job in pairs:
        book["runs"][spec.run_id] = {"job_id": str(job.job_id), "stdout": str(job.paths.stdout),
                                     "stderr": str(job.paths.stderr),
                                     "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(folder / "jobs.json", book)


def report_end(spec: RunSpec, job, ended: str, results: Path, log: Callable[[str], None]) -> None:
    """Log a run as its job ends (the sweep's progress); a job that died without writing its
    record (killed, out of memory, cancelled) gets a `failed` record naming its final state and log."""
    record = current_record(results, spec.run_id)
    if record is None:
        write_record(results, RunRecord.died(spec, f"job {job.job_id} ended {job.state} without writing its "
                                                   f"record", log=str(job.paths.stderr)))
        log(f"{ended} job {job.job_id} ({spec.method} on {spec.dataset} seed {spec.seed}) ended "
            f"{job.state}; log: {job.paths.stderr}")
    else:
        log(f"{ended} {summarize(record)}")
