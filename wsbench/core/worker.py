"""One run in a process of its own, so that its time, CPU seconds and peak memory are its
own and a crash (out of memory, a segfault) takes down nothing but that run.

The parent passes a small JSON payload on the command line and waits; the child
writes the record itself. A child that dies without writing it gets a `failed`
record naming its exit status.
"""
from __future__ import annotations

import ctypes
import dataclasses
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from wsbench.core.records import read_record, record_path, write_record

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Signals that stop a run from outside (Ctrl-C, scancel, requeue, preemption): no `failed`
# record, the job's own bookkeeping says what happened; a SIGKILL (the out-of-memory
# killer) or a crash is the run's failure and gets one.
INTERRUPTS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


class RunInterrupted(KeyboardInterrupt):
    """A run's process was stopped from outside before it wrote its record."""


def die_with_parent() -> None:
    """Linux: the run's process is killed when the process that started it dies (a killed
    `wsbench run`, a preempted job), so no orphan finishes a run nobody waits for."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the child outlives a killed parent
        pass


def run_in_process(runner, spec) -> dict:
    from wsbench.core.runner import failed_record
    attempt = uuid.uuid4().hex
    payload = {"spec": dataclasses.asdict(spec), "attempt": attempt, "data_root": str(runner.data_root),
               "results": str(runner.results), "device": str(runner.device), "plugin_dirs": runner.reg.dirs,
               "quiet": runner.quiet, "threads": runner.threads}
    proc = subprocess.run([sys.executable, "-m", "wsbench.core.worker", json.dumps(payload)],
                          preexec_fn=die_with_parent)
    record = read_record(record_path(runner.results, spec.run_id))
    if record is not None and record.get("attempt") == attempt:
        return record
    if -proc.returncode in INTERRUPTS:
        raise RunInterrupted(f"the run's process was stopped by {signal.Signals(-proc.returncode).name}; "
                             f"its checkpoints are kept and the next run resumes from them")
    how = (f"was killed by signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
           else f"exited with status {proc.returncode}")
    record = failed_record(spec, f"the run's process {how} without writing its record", log=runner.log)
    write_record(runner.results, record)
    return record


def main(argv: list[str]) -> None:
    import torch

    from wsbench.core.discovery import discover
    from wsbench.core.runner import Runner, RunSpec
    payload = json.loads(argv[0])
    if payload["threads"] > 0:
        torch.set_num_threads(payload["threads"])
    runner = Runner(discover(payload["plugin_dirs"]), Path(payload["data_root"]), Path(payload["results"]),
                    torch.device(payload["device"]), quiet=payload["quiet"])
    runner.execute(RunSpec(**payload["spec"]), attempt=payload["attempt"])


if __name__ == "__main__":
    main(sys.argv[1:])
