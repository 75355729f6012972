"""Submit sweeps through submitit: shared stages first, then the runs as one job array.

A job receives small plain arguments (a run's spec as a dict and folder paths) and
calls a function of this module, never a large pickle. Each run writes its own
record, so a crashed task loses nothing but itself, and a resubmission sends only
the runs that have no `ok` record and are not pending or running.
"""
from __future__ import annotations

import dataclasses
import getpass
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import submitit

from wsbench.discovery import Registry, discover
from wsbench.errors import UserError
from wsbench.fileio import atomic_write_json
from wsbench.report import config_labels
from wsbench.results import read_record, record_path, write_record
from wsbench.runner import Runner, RunSpec, failed_record, resolve_device
from wsbench.sweep import Sweep
from wsbench.zoo import Zoo, ZooSpec
from wsbench.zoo_method import ZooMethod, zoo_specs

CLUSTERS = ("slurm", "local", "debug")
ACTIVE = {"pending", "running"}


# ---- what a job runs -------------------------------------------------------------------------

class RunJob(submitit.helpers.Checkpointable):
    """One run in a job. On preemption or timeout submitit requeues the same call; the
    run then resumes from the checkpoints its long stages wrote (RunContext.save_state)."""

    def __call__(self, spec: dict, data_root: str, results: str, device: str, plugins: list[str],
                 threads: int) -> str:
        reg = discover(plugins)
        runner = Runner(reg, Path(data_root), Path(results), resolve_device(device), plugins=plugins, quiet=True,
                        threads=threads, log=job_log())
        record, _ = runner.run(RunSpec(**spec))
        print(f"{record['run_id']}: {record['status']}", file=sys.stderr, flush=True)
        return record["status"]


def job_log() -> str:
    """This job's stderr log ("" in the debug executor, which runs jobs in the calling process)."""
    return str(submitit.JobEnvironment().paths.stderr) if "SUBMITIT_FOLDER" in os.environ else ""


def prepare_job(name: str, source: str | None, data_params: dict, data_root: str, plugins: list[str]) -> str:
    reg = discover(plugins)
    reg.dataset(name)().prepare(Path(data_root), Path(source) if source else None, data_params)
    return name


def zoo_job(dataset: str, data_params: dict, spec: dict, data_root: str, plugins: list[str], device: str) -> str:
    reg = discover(plugins)
    data = reg.dataset(dataset)().load(Path(data_root), data_params)
    zoo = Zoo(ZooSpec(**spec), Path(data_root), getattr(data, spec["part"]), data.modality)
    zoo.fit(device=resolve_device(device))
    return zoo.spec.zoo_id


# ---- shared stages -----------------------------------------------------------------------------

@dataclass
class Stage:
    """Work that several runs share (data preparation, INR zoos), run once before them."""

    key: str
    fn: Callable
    args: tuple
    done: Callable[[], bool]


def data_stages(sweep: Sweep, reg: Registry, data_root: Path, plugins: list[str]) -> list[Stage]:
    stages = {}
    for spec in sweep.specs:
        cls = reg.dataset(spec.dataset)
        if cls.needs_prepare and spec.dataset not in stages:
            stages[spec.dataset] = Stage(
                f"prepare {spec.dataset}", prepare_job,
                (spec.dataset, sweep.sources.get(spec.dataset), spec.data_params, str(data_root), plugins),
                lambda cls=cls: cls().is_prepared(data_root))
    return [s for s in stages.values() if not s.done()]


def zoo_stages(specs: list[RunSpec], reg: Registry, data_root: Path, plugins: list[str],
               device: str) -> list[Stage]:
    """The unfinished INR zoos the zoo methods among these runs need, one stage each
    (their data must be prepared)."""
    stages: dict[str, Stage] = {}
    loaded: dict[str, object] = {}
    for spec in specs:
        if not issubclass(reg.method(spec.method), ZooMethod):
            continue
        key = f"{spec.dataset}{sorted(spec.data_params.items())}"
        if key not in loaded:
            loaded[key] = reg.dataset(spec.dataset)().load(data_root, spec.data_params)
        data = loaded[key]
        for part, zspec in zoo_specs(data, spec.params, spec.seed).items():
            if zspec.zoo_id in stages:
                continue
            zoo = Zoo(zspec, data_root, getattr(data, part), data.modality)
            if zoo.missing():
                stages[zspec.zoo_id] = Stage(
                    f"zoo {zspec.zoo_id} ({spec.dataset} {part}, {len(zoo.items)} INRs)", zoo_job,
                    (spec.dataset, spec.data_params, dataclasses.asdict(zspec), str(data_root), plugins, device),
                    lambda zoo=zoo: not zoo.missing())
    return list(stages.values())


def run_stages(stages: list[Stage], executor, log: Callable[[str], None]) -> None:
    """Submit stages together and wait for all of them; a failed stage stops the sweep."""
    jobs = []
    for stage in stages:
        log(f"  stage {stage.key} ...")
        jobs.append((stage, executor.submit(stage.fn, *stage.args)))
    for stage, job in jobs:
        try:
            job.result()
        except Exception as err:
            raise UserError(f"stage {stage.key} failed ({err}); log: {job.paths.stderr}") from None


# ---- executors and bookkeeping -------------------------------------------------------------------

def sweep_dir(results: Path, sweep: Sweep) -> Path:
    return results / "sweeps" / sweep.name


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


def read_jobs(path: Path) -> dict:
    record = read_record(path)
    return record if record else {"runs": {}}


def _table(cmd: list[str]) -> dict[str, str]:
    """Run a SLURM query printing `id|STATE` lines; {} when SLURM cannot be asked."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = (line.split("|", 1) for line in out.splitlines() if "|" in line)
    return {job_id.strip(): (raw.split() or ["UNKNOWN"])[0] for job_id, raw in rows}


def job_states(jobs: dict) -> dict[str, str]:
    """run id -> pending | running | ended (STATE), from squeue (one line per array
    task) and SLURM accounting, or from the process table for local jobs."""
    runs = jobs.get("runs", {})
    if jobs.get("cluster") == "slurm" and runs:
        queued = _table(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T"])
        ids = ",".join(sorted({r["job_id"] for r in runs.values()} - set(queued)))
        ended = _table(["sacct", "-j", ids, "-X", "-n", "--parsable2", "-o", "JobID,State"]) if ids else {}
        states = {}
        for rid, r in runs.items():
            word = queued.get(r["job_id"])
            states[rid] = ("pending" if word == "PENDING" else "running" if word else
                           f"ended ({ended.get(r['job_id'], 'UNKNOWN')})")
        return states

    def alive(pid: str) -> bool:  # local jobs are processes of this machine
        try:
            os.kill(int(pid.split("_")[0]), 0)
            return True
        except (OSError, ValueError):
            return False
    return {rid: "running" if jobs.get("cluster") == "local" and alive(r["job_id"]) else "ended"
            for rid, r in runs.items()}


def run_states(sweep: Sweep, results: Path) -> list[dict]:
    """One row per run of the sweep: done / failed / skipped / running / pending / not submitted."""
    jobs = read_jobs(sweep_dir(results, sweep) / "jobs.json")
    live = job_states(jobs)
    rows = []
    labels = config_labels([spec.identity for spec in sweep.specs])
    for spec, config in zip(sweep.specs, labels):
        record = read_record(record_path(results, spec.run_id))
        job = jobs["runs"].get(spec.run_id, {})
        row = {"run": spec.run_id, "method": spec.method, "config": config, "dataset": spec.dataset,
               "seed": spec.seed, "job": job.get("job_id", ""), "log": job.get("stderr", "")}
        if record and record.get("status") == "ok":
            row["state"] = "done"
        elif record and record.get("status") == "skipped":
            row["state"], row["reason"] = "skipped", record.get("reason", "")
        elif job and live.get(spec.run_id) in ACTIVE:
            row["state"] = live[spec.run_id]
        elif record:
            lines = record.get("error", "").strip().splitlines()
            row["state"], row["reason"] = "failed", lines[-1] if lines else ""
        elif job:
            row["state"], row["reason"] = "failed", f"job {live.get(spec.run_id, 'ended')} without a record"
        else:
            row["state"] = "not submitted"
        rows.append(row)
    return rows


# ---- submission -----------------------------------------------------------------------------------

def submit(sweep: Sweep, reg: Registry, kind: str, settings: dict, data_root: Path, results: Path,
           device: str, plugins: list[str], dry_run: bool = False, wait: bool = False,
           log: Callable[[str], None] = print) -> list[RunSpec]:
    """Submit the sweep's missing and failed runs; with `wait`, block until they end."""
    states = {row["run"]: row["state"] for row in run_states(sweep, results)}
    todo = [s for s in sweep.specs if states[s.run_id] not in {"done", "skipped", *ACTIVE}]
    stages = data_stages(sweep, reg, data_root, plugins) if todo else []
    # zoos can be listed only once their data is prepared (None: after the data stages)
    zoos = None if stages else zoo_stages(todo, reg, data_root, plugins, device)
    log(f"sweep {sweep.name}: {len(sweep.specs)} runs, {len(sweep.specs) - len(todo)} done or active, "
        f"{len(todo)} to submit, {len(stages) + len(zoos or [])} shared stages")
    if dry_run:
        for stage in stages + (zoos or []):
            log(f"  stage: {stage.key}")
        if stages and any(issubclass(reg.method(s.method), ZooMethod) for s in todo):
            log("  stage: the INR zoos, once the data is prepared")
        for spec in todo:
            log(f"  run {spec.run_id}: {spec.method} on {spec.dataset} seed {spec.seed} ({states[spec.run_id]})")
        return todo
    if not todo:
        return todo
    folder = sweep_dir(results, sweep)
    executor = make_executor(kind, folder / "logs", settings)
    run_stages(stages, executor, log)  # shared stages run once, before the runs that need them
    run_stages(zoos if zoos is not None else zoo_stages(todo, reg, data_root, plugins, device), executor, log)
    threads = int(settings.get("cpus_per_task") or 0)
    jobs = executor.map_array(RunJob(), [dataclasses.asdict(s) for s in todo], *(
        [value] * len(todo) for value in (str(data_root), str(results), device, plugins, threads)))
    book = read_jobs(folder / "jobs.json")
    book["cluster"] = kind
    for spec, job in zip(todo, jobs):
        book["runs"][spec.run_id] = {"job_id": str(job.job_id), "stdout": str(job.paths.stdout),
                                     "stderr": str(job.paths.stderr),
                                     "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(folder / "jobs.json", book)
    log(f"  submitted {len(jobs)} runs as {kind} job{'s' if len(jobs) > 1 else ''} "
        f"{jobs[0].job_id}{'..' + str(jobs[-1].job_id) if len(jobs) > 1 else ''}; logs in {folder / 'logs'}")
    if wait or kind != "slurm":
        wait_for(todo, jobs, results, log)
    return todo


def wait_for(specs: list[RunSpec], jobs: list, results: Path, log: Callable[[str], None],
             poll_seconds: float = 5.0) -> None:
    """Block until every job ends; a job that died without writing its record (killed,
    out of memory, cancelled) gets a `failed` record naming its final state and log."""
    pending = list(zip(specs, jobs))
    while pending:
        pending[0][1].done(force_check=True)  # one accounting query refreshes every job's state
        still = []
        for spec, job in pending:
            if not job.done():
                still.append((spec, job))
                continue
            if read_record(record_path(results, spec.run_id)) is None:
                write_record(results, failed_record(
                    spec, f"job {job.job_id} ended {job.state} without writing its record",
                    log=str(job.paths.stderr)))
                log(f"  job {job.job_id} ({spec.method} on {spec.dataset} seed {spec.seed}) ended {job.state}; "
                    f"log: {job.paths.stderr}")
        pending = still
        if pending:
            time.sleep(poll_seconds)
