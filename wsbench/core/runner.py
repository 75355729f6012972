"""One run: load data -> method -> check and score heads -> write one record. Reruns skip
finished work. Each run executes in a process of its own (wsbench.core.worker), so its time,
CPU seconds and peak memory are its own; the harness keeps the held-out labels."""
from __future__ import annotations

import shutil
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from wsbench.core import params as P
from wsbench.core import reconstruction
from wsbench.core.context import RunContext, peak_rss_mb
from wsbench.core.discovery import Registry
from wsbench.core.lock import RunLock
from wsbench.core.errors import ProtocolViolation, UserError
from wsbench.core.protocol import checked_embeddings, score_head, seed_everything
from wsbench.core.records import (SCHEMA_VERSION, keeps_embeddings, package_versions, provenance, read_record,
                                  record_path, record_problem, run_id, run_identity, write_embeddings, write_labels,
                                  write_predictions, write_record)
from wsbench.core.worker import run_in_process


@dataclass(frozen=True)
class RunSpec:
    method: str
    dataset: str
    seed: int
    profile: str
    params: dict
    data_params: dict
    versions: dict = field(default_factory=dict)  # {"method": N, "dataset": N}
    tune: bool = False  # score validation only: no test accuracy, in no table

    @property
    def identity(self) -> dict:
        return run_identity(self.method, self.params, self.dataset, self.data_params, self.seed,
                            self.versions, self.tune)

    @property
    def run_id(self) -> str:
        return run_id(self.identity)


def make_spec(reg: Registry, method: str, dataset: str, seed: int, profile: str, params: dict,
              data_params: dict, tune: bool = False) -> RunSpec:
    versions = {"method": reg.method(method).version, "dataset": reg.dataset(dataset).version}
    return RunSpec(method, dataset, seed, profile, params, data_params, versions, tune)


def plan(reg: Registry, methods: list[str], datasets: list[str], seeds: list[int], profile: str,
         overrides: list[str], data_overrides: list[str], tune: bool = False) -> list[RunSpec]:
    """Every (method, data set, seed) run with its fully resolved, validated parameters."""
    for flag, names in (("--method", methods), ("--dataset", datasets)):
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise UserError(f"{flag} {repeated[0]} is given twice; name each once")
    method_over = P.parse_assignments(overrides, "--param")
    data_over = P.parse_assignments(data_overrides, "--data-param")
    specs = []
    for dname in datasets:
        dparams = P.resolve(reg.dataset(dname), data_over)
        for mname in methods:
            mparams = P.resolve(reg.method(mname), method_over, profile, dname, reg.dataset(dname).modality)
            specs += [make_spec(reg, mname, dname, s, profile, mparams, dparams, tune) for s in seeds]
    return specs


def writes_data_root(reg: Registry, specs: list[RunSpec]) -> bool:
    """Whether these runs write under the data root: caches of their data sets, or shared
    work of their methods (INR zoos)."""
    return any(reg.dataset(s.dataset).writes_data_root or reg.method(s.method)().shared_work(s.params, s.seed)
               is not None for s in specs)


def resolve_device(flag: str) -> torch.device:
    if flag == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if flag.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {flag}: no CUDA GPU is visible to torch")
    try:
        return torch.device(flag)
    except RuntimeError:
        raise UserError(f"--device {flag!r}: expected auto, cpu or cuda[:N]") from None


class Runner:
    """Runs specs against one data root and results folder, each in a process of its own."""

    def __init__(self, reg: Registry, data_root: Path, results: Path, device: torch.device,
                 force: bool = False, quiet: bool = False, threads: int = 0, log: str = ""):
        self.reg, self.data_root, self.results = reg, data_root, results
        self.device, self.force, self.quiet, self.threads = device, force, quiet, threads
        self.log = log  # where the runs' output goes (a job's log), named in records of runs that died

    def done(self, spec: RunSpec) -> dict | None:
        """The record of a run that already succeeded, or None."""
        record = read_record(record_path(self.results, spec.run_id))
        current = record is not None and record_problem(record) is None  # an older schema's is run again
        return record if current and record.get("status") == "ok" else None

    def checkpoint_dir(self, spec: RunSpec) -> Path:
        return self.results / "checkpoints" / spec.run_id

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
                shutil.rmtree(self.checkpoint_dir(spec), ignore_errors=True)
            return run_in_process(self, spec), True
        finally:
            lock.release()

    def wait_for_owner(self, spec: RunSpec, poll_s: float = 2.0) -> tuple[dict, bool]:
        """Wait until the process that owns a run ends it: (its record, False); or, if it
        died without one, (the record of running it here, True)."""
        lock = self.lock(spec)
        while True:
            while lock.held_by_other():
                time.sleep(poll_s)
            record = read_record(record_path(self.results, spec.run_id))
            if record is not None and record.get("status") in ("ok", "skipped"):
                return record, False
            record, ran = self.run(spec)
            if record is not None:
                return record, ran

    def execute(self, spec: RunSpec, attempt: str = "") -> dict:
        """The run itself, in this process: load, run the method on the blinded splits,
        check and score every head against the labels only the harness holds, record."""
        plugins = self.reg.files(spec.method, spec.dataset)
        code = {**{f["file"]: f["sha256"] for f in plugins.values()}, "wsbench": package_versions()["wsbench"]}
        ctx = RunContext(self.device, spec.seed, quiet=self.quiet, checkpoint_dir=self.checkpoint_dir(spec),
                         artifact_dir=self.results / "artifacts" / spec.run_id, data_root=self.data_root, code=code)
        record = {**base_record(spec), "attempt": attempt or uuid.uuid4().hex}
        try:
            with ctx.stage("load_data"):
                data = self.reg.dataset(spec.dataset)().load(self.data_root, spec.data_params)
            record["provenance"] = {**provenance(self.device), "plugins": plugins, "data_checksums": data.checksums}
            ctx.shared.update(data.shared_costs)
            method = self.reg.method(spec.method)()
            record["weight_space"] = method.weight_space
            if reason := method.unsupported(data.modality, spec.params):
                record.update(status="skipped", reason=reason)
            else:
                seed_everything(spec.seed)
                out = method.run(data.blind(), dict(spec.params), ctx)
                record.update(status="ok", **self.score(spec, data, out, ctx))
        except ProtocolViolation as err:
            record.update(status="failed", error=f"protocol violation: {err}")
        except UserError as err:  # bad input found inside the run (a corrupt file): its message, no traceback
            record.update(status="failed", error=str(err))
        except Exception:
            record.update(status="failed", error=traceback.format_exc())
        record["cost"] = run_cost(ctx)
        record["finished"] = now()
        write_record(self.results, record)
        if record["status"] == "ok":
            shutil.rmtree(ctx.checkpoint_dir, ignore_errors=True)
        return record

    def score(self, spec: RunSpec, data, out, ctx: RunContext) -> dict:
        """Scores, kept predictions and reconstruction metrics of a method's output."""
        y_val, y_test = data.val.y.numpy(), data.test.y.numpy()
        heads, kept, embeddings = {}, {}, {}
        sizes = {"val": len(y_val)} if spec.tune else {"val": len(y_val), "test": len(y_test)}
        for name, head in out.heads.items():
            heads[name], arrays = score_head(name, head, y_val, None if spec.tune else y_test, data.num_classes)
            kept.update(arrays)
            embeddings.update(checked_embeddings(name, head, sizes))
        if not heads:
            raise ProtocolViolation("the method returned no classifier heads")
        metrics = {"train_samples": float(len(data.train.y)), **out.metrics}  # budget curves count samples seen
        if out.reconstruction is not None and not spec.tune:  # a tuning run scores nothing on test
            with ctx.stage("reconstruction_metrics"):
                scores, figure = reconstruction.score(out.reconstruction, data.test, data.modality, ctx.device,
                                                      progress=ctx.progress)
            metrics.update(scores)
            if figure:
                ctx.keep_arrays("shapes", **figure)
        return {"heads": heads, "metrics": metrics, "num_params": out.num_params,
                "predictions": write_predictions(self.results, spec.run_id, kept),
                "embeddings": write_embeddings(self.results, spec.run_id, embeddings,
                                               keeps_embeddings(spec.seed, spec.tune)),
                "labels": write_labels(self.results, spec.dataset, y_val, y_test)}


def run_cost(ctx: RunContext) -> dict:
    """This run's complete cost: its own wall and CPU seconds (earlier attempts included),
    threads and peak memory, per stage, and the shared products it used; `pipeline_*`
    counts each shared product in full, once (the part built during this run is not
    counted twice)."""
    this = ctx.clock.elapsed()
    own = {k: round(this[k] + sum(a[k] for a in ctx.earlier), 3) for k in ("wall_s", "cpu_s")}
    shared = ctx.shared
    pipeline = {f"pipeline_{k}": round(own[k] + sum(s[k] - s[f"here_{k}"] for s in shared.values()), 3)
                for k in ("wall_s", "cpu_s")}
    return {**own, **pipeline, "threads": torch.get_num_threads(), "peak_rss_mb": round(peak_rss_mb(), 1),
            "attempts": len(ctx.earlier) + 1, "earlier_attempts": ctx.earlier, "resumed": ctx.resumed,
            "stages": ctx.stages, "shared": shared}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def base_record(spec: RunSpec) -> dict:
    return {"schema": SCHEMA_VERSION, "run_id": spec.run_id, **spec.identity, "profile": spec.profile,
            "started": now()}


def failed_record(spec: RunSpec, error: str, log: str) -> dict:
    """The record of a run whose process died before it could write one itself."""
    return {**base_record(spec), "status": "failed", "error": error, "log": log, "finished": now()}


def summarize(record: dict) -> str:
    head = f"{record['method']} on {record['dataset']} seed {record['seed']}"
    if record["status"] != "ok":
        reason = record.get("reason") or record.get("error", "").strip().splitlines()[-1]
        return f"{head}: {record['status'].upper()} ({reason})"
    if record.get("tune"):
        accs = ", ".join(f"{h} val {100 * s['val_acc']:.2f}%" for h, s in record["heads"].items())
        return f"{head} (tuning, no test accuracy): {accs} in {record['cost']['pipeline_wall_s']:.0f} s"
    accs = ", ".join(f"{h} {100 * s['test_acc']:.2f}%" for h, s in record["heads"].items())
    return f"{head}: {accs} in {record['cost']['pipeline_wall_s']:.0f} s"

