"""Where each run of a sweep stands: done, failed, skipped, running, pending, unknown or not submitted,
from its record, the sweep's job book (results/sweeps/<name>/jobs.json) and SLURM's queue."""
from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

from wsbench.cluster.sweepfile import Sweep
from wsbench.core.records import current_record, finished, read_record
from wsbench.report.tables import config_labels

ACTIVE = {"pending", "running"}


def sweep_dir(results: Path, sweep: Sweep) -> Path:
    return results / "sweeps" / sweep.name


def read_jobs(path: Path) -> dict:
    record = read_record(path)
    return record if record else {"runs": {}}


def _ask(cmd: list[str]) -> tuple[dict[str, str], str]:
    """Run a SLURM query printing `id|STATE` lines: (id -> state, "") or, when SLURM
    cannot be asked, ({}, why), so that an unreachable scheduler never reads as ended jobs."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return {}, f"{cmd[0]}: {error}"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {}, f"{cmd[0]}: {lines[-1] if lines else f'exit status {done.returncode}'}"
    rows = (line.split("|", 1) for line in done.stdout.splitlines() if "|" in line)
    return {job_id.strip(): (raw.split() or ["UNKNOWN"])[0] for job_id, raw in rows}, ""


def job_states(jobs: dict) -> dict[str, tuple[str, str]]:
    """run id -> (pending | running | ended | unknown, detail), from squeue (one line per
    array task) and SLURM accounting, or from the process table for local jobs. The detail
    of an ended job is its final SLURM state; of an unknown one, why SLURM could not be asked."""
    runs = jobs.get("runs", {})
    if jobs.get("cluster") == "slurm" and runs:
        queued, trouble = _ask(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T"])
        if trouble:
            return {rid: ("unknown", trouble) for rid in runs}
        ids = ",".join(sorted({r["job_id"] for r in runs.values()} - set(queued)))
        ended = _ask(["sacct", "-j", ids, "-X", "-n", "--parsable2", "-o", "JobID,State"])[0] if ids else {}
        states = {}
        for rid, r in runs.items():
            word = queued.get(r["job_id"])
            states[rid] = (("pending", "") if word == "PENDING" else ("running", "") if word else
                           ("ended", ended.get(r["job_id"], "UNKNOWN")))
        return states

    def alive(pid: str) -> bool:  # local jobs are processes of this machine
        try:
            os.kill(int(pid.split("_")[0]), 0)
            return True
        except (OSError, ValueError):
            return False
    return {rid: ("running" if jobs.get("cluster") == "local" and alive(r["job_id"]) else "ended", "")
            for rid, r in runs.items()}


def run_states(sweep: Sweep, results: Path) -> list[dict]:
    """One row per run of the sweep: done / failed / skipped / running / pending / unknown
    (submitted, but SLURM cannot be asked) / not submitted."""
    jobs = read_jobs(sweep_dir(results, sweep) / "jobs.json")
    live = job_states(jobs)
    rows = []
    labels = config_labels([spec.identity for spec in sweep.specs])
    for spec, config in zip(sweep.specs, labels):
        record = current_record(results, spec.run_id)  # an older schema's is none: the runner runs it again
        job = jobs["runs"].get(spec.run_id, {})
        live_state, detail = live.get(spec.run_id, ("ended", ""))
        row = {"run": spec.run_id, "method": spec.method, "config": config, "dataset": spec.dataset,
               "seed": spec.seed, "job": job.get("job_id", ""), "log": job.get("stderr", "")}
        if finished(record) and record["status"] == "ok":
            row["state"] = "done"
        elif finished(record):
            row["state"], row["reason"] = "skipped", record.get("reason", "")
        elif job and live_state in ACTIVE:
            row["state"] = live_state
        elif job and live_state == "unknown":
            row["state"], row["reason"] = "unknown", f"SLURM could not be asked ({detail}); is SLURM_CONF set?"
        elif record:
            lines = record.get("error", "").strip().splitlines()
            row["state"], row["reason"] = "failed", lines[-1] if lines else ""
        elif job:
            row["state"], row["reason"] = "failed", f"job ended{f' ({detail})' if detail else ''} without a record"
        else:
            row["state"] = "not submitted"
        rows.append(row)
    return rows
