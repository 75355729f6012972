"""Runs specs against one data root and results folder: a finished run is not repeated
(unless forced), a run another live process owns is left to it (its lock), and each run
executes in a process of its own (wsbench.core.worker), so its time, CPU seconds and peak
memory are its own."""
from __future__ import annotations

import shutil
import time

from wsbench.core.discovery import Registry
from wsbench.core.execute import checkpoint_dir, execute
from wsbench.core.lock import RunLock
from wsbench.core.records import current_record, finished
from wsbench.core.request import Request
from wsbench.core.spec import RunSpec
from wsbench.core.worker import run_in_process


def writes_data_root(reg: Registry, specs: list[RunSpec]) -> bool:
    """Whether these runs write under the data root: caches of their data sets, or shared
    work of their methods (INR zoos)."""
    return any(reg.dataset(s.dataset).writes_data_root or reg.method(s.method)().shared_work(s.params, s.seed)
               is not None for s in specs)


class Runner:
    """Runs specs where `request` says (data root, results folder, device, threads), each in a
    process of its own."""

    def __init__(self, reg: Registry, request: Request, force: bool = False):
        self.reg, self.request, self.force = reg, request, force
        self.data_root, self.results = request.data_path, request.results_path

    def done(self, spec: RunSpec) -> dict | None:
        """The record of a finished run (wsbench.core.records.finished), or None."""
        record = current_record(self.results, spec.run_id)
        return record if finished(record) else None

    def lock(self, spec: RunSpec) -> RunLock:
        return RunLock(self.results / "locks" / f"{spec.run_id}.lock")

    def run(self, spec: RunSpec) -> tuple[dict | None, bool]:
        """Return (record, ran): a finished run is not repeated unless forced, and a run that
        another live process owns is left to it: (None, False)."""
        if not self.force and (record := self.done(spec)):
            return record, False
        self.reg.dataset(spec.dataset)().require_prepared(self.data_root)  # a user's mistake, named here
        lock = self.lock(spec)
        if not lock.acquire():
            return None, False
        try:
            if not self.force and (record := self.done(spec)):  # its owner finished it just now
                return record, False
            if self.force:  # a forced run starts from nothing, not from an earlier attempt's checkpoints
                shutil.rmtree(checkpoint_dir(self.request, spec), ignore_errors=True)
            return run_in_process(self.request.for_run(spec, "")), True
        finally:
            lock.release()

    def wait_for_owner(self, spec: RunSpec, poll_s: float = 2.0) -> tuple[dict, bool]:
        """Wait until the process that owns a run ends it: (its record, False); or, if it
        died without one, (the record of running it here, True)."""
        lock = self.lock(spec)
        while True:
            while lock.held_by_other():
                time.sleep(poll_s)
            if record := self.done(spec):
                return record, False
            record, ran = self.run(spec)
            if record is not None:
                return record, ran

    def execute(self, spec: RunSpec, attempt: str = "") -> dict:
        """The run itself, in this process (wsbench.core.execute)."""
        return execute(self.reg, self.request.for_run(spec, attempt))
