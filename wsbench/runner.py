"""One run: load data -> method -> score heads -> write one record. Reruns skip finished work."""
from __future__ import annotations

import shutil
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from wsbench import params as P
from wsbench.api import DataSplits
from wsbench.context import RunContext, peak_rss_mb
from wsbench.discovery import Registry
from wsbench.errors import UserError
from wsbench.protocol import score_head, seed_everything
from wsbench.results import provenance, read_record, record_path, run_id, run_identity, write_record


@dataclass(frozen=True)
class RunSpec:
    method: str
    dataset: str
    seed: int
    profile: str
    params: dict
    data_params: dict

    @property
    def identity(self) -> dict:
        return run_identity(self.method, self.params, self.dataset, self.data_params, self.seed)

    @property
    def run_id(self) -> str:
        return run_id(self.identity)


def parse_seeds(text: str) -> list[int]:
    """"5" -> seeds 0..4; "3,7" -> seeds 3 and 7; "2-4" -> 2, 3, 4."""
    try:
        if "," in text:
            return [int(s) for s in text.split(",") if s.strip()]
        if "-" in text.strip("-"):
            lo, hi = text.split("-")
            return list(range(int(lo), int(hi) + 1))
        n = int(text)
    except ValueError:
        raise UserError(f"--seeds {text!r}: expected a count (5), a list (0,3,7) or a range (2-4)") from None
    if n < 1:
        raise UserError(f"--seeds {text!r}: need at least one seed")
    return list(range(n))


def plan(reg: Registry, methods: list[str], datasets: list[str], seeds: list[int], profile: str,
         overrides: list[str], data_overrides: list[str]) -> list[RunSpec]:
    """Every (method, data set, seed) run with its fully resolved, validated parameters."""
    method_over = P.parse_assignments(overrides, "--param")
    data_over = P.parse_assignments(data_overrides, "--data-param")
    specs = []
    for dname in datasets:
        dparams = P.resolve(reg.dataset(dname), data_over)
        for mname in methods:
            mparams = P.resolve(reg.method(mname), method_over, profile=profile, dataset=dname)
            specs += [RunSpec(mname, dname, s, profile, mparams, dparams) for s in seeds]
    return specs


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
    """Runs specs against one data root and results folder, loading each data set once."""

    def __init__(self, reg: Registry, data_root: Path, results: Path, device: torch.device,
                 force: bool = False, quiet: bool = False):
        self.reg, self.data_root, self.results = reg, data_root, results
        self.device, self.force, self.quiet = device, force, quiet
        self._data: dict[tuple, DataSplits] = {}

    def load(self, spec: RunSpec) -> DataSplits:
        key = (spec.dataset, tuple(sorted(spec.data_params.items())))
        if key not in self._data:
            self._data[key] = self.reg.dataset(spec.dataset)().load(self.data_root, spec.data_params)
        return self._data[key]

    def done(self, spec: RunSpec) -> dict | None:
        """The record of a run that already succeeded, or None."""
        record = read_record(record_path(self.results, spec.run_id))
        return record if record and record.get("status") == "ok" else None

    def run(self, spec: RunSpec) -> tuple[dict, bool]:
        """Return (record, ran): a finished run is not repeated unless forced."""
        if not self.force and (record := self.done(spec)):
            return record, False
        data = self.load(spec)
        record = {**base_record(spec),
                  "provenance": {**provenance(self.device), "data_checksums": data.checksums}}
        method = self.reg.method(spec.method)()
        ctx = RunContext(self.device, spec.seed, quiet=self.quiet,
                         checkpoint_dir=self.results / "checkpoints" / spec.run_id,
                         artifact_dir=self.results / "artifacts" / spec.run_id, data_root=self.data_root)
        start = time.perf_counter()
        if reason := method.unsupported(data.modality, spec.params):
            record.update(status="skipped", reason=reason)
        else:
            try:
                seed_everything(spec.seed)
                out = method.run(data, dict(spec.params), ctx)
                y_val, y_test = data.val.y.numpy(), data.test.y.numpy()
                record.update(status="ok", metrics=out.metrics,
                              heads={h: score_head(r, y_val, y_test) for h, r in out.heads.items()},
                              num_params=out.num_params)
            except Exception:
                record.update(status="failed", error=traceback.format_exc())
        record["cost"] = {"seconds": round(time.perf_counter() - start, 3), "stages": ctx.stages,
                          "peak_rss_mb": round(peak_rss_mb(), 1)}
        record["finished"] = now()
        write_record(self.results, record)
        if record["status"] == "ok":
            shutil.rmtree(ctx.checkpoint_dir, ignore_errors=True)
        return record, True


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def base_record(spec: RunSpec) -> dict:
    return {"run_id": spec.run_id, **spec.identity, "profile": spec.profile, "started": now()}


def failed_record(spec: RunSpec, error: str, log: str) -> dict:
    """The record of a run whose process died before it could write one itself."""
    return {**base_record(spec), "status": "failed", "error": error, "log": log, "finished": now()}


def summarize(record: dict) -> str:
    head = f"{record['method']} on {record['dataset']} seed {record['seed']}"
    if record["status"] != "ok":
        reason = record.get("reason") or record.get("error", "").strip().splitlines()[-1]
        return f"{head}: {record['status'].upper()} ({reason})"
    accs = ", ".join(f"{h} {100 * s['test_acc']:.2f}%" for h, s in record["heads"].items())
    return f"{head}: {accs} in {record['cost']['seconds']:.0f} s"

