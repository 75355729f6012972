"""One run in a process of its own, so that its time, CPU seconds and peak memory are its
own and a crash (out of memory, a segfault) takes down nothing but that run.

The parent passes the run's request (JSON) on the command line and waits; the child
writes the record itself. A child that dies without writing it gets a `failed`
record naming its exit status.
"""
from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import uuid

from wsbench.core.execute import execute
from wsbench.core.records import RunRecord, read_record, record_path, write_record
from wsbench.core.request import Request

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


def run_in_process(request: Request) -> dict:
    """Run `request.spec` in a child process and return the record it wrote, or the
    `failed` record written here for a child that died without one."""
    request = request.for_run(request.spec, uuid.uuid4().hex)
    proc = subprocess.run([sys.executable, "-m", "wsbench.core.worker", request.to_json()],
                          preexec_fn=die_with_parent)
    record = read_record(record_path(request.results_path, request.spec.run_id))
    if record is not None and record.get("attempt") == request.attempt:
        return record
    if -proc.returncode in INTERRUPTS:
        raise RunInterrupted(f"the run's process was stopped by {signal.Signals(-proc.returncode).name}; "
                             f"its checkpoints are kept and the next run resumes from them")
    how = (f"was killed by signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
           else f"exited with status {proc.returncode}")
    record = RunRecord.died(request.spec, f"the run's process {how} without writing its record", log=request.log)
    write_record(request.results_path, record)
    return record.to_dict()


def main(argv: list[str]) -> None:
    request = Request.from_json(argv[0])
    execute(request.open(), request)


if __name__ == "__main__":
    main(sys.argv[1:])
