"""Work several runs of a sweep share, done once in jobs of its own before the runs:
preparing a data set, and the shared work that methods declare (an INR zoo).

The submit host loads no data: a method describes its shared work from its parameters
alone (Method.shared_work), and the stage's job loads the data and does it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wsbench.cluster.sweepfile import Sweep
from wsbench.core.context import RunContext
from wsbench.core.discovery import Registry
from wsbench.core.errors import UserError
from wsbench.core.request import Request, resolve_device
from wsbench.core.spec import RunSpec


@dataclass
class Stage:
    """Work that several runs share, run once before them."""

    key: str
    fn: Callable
    args: tuple


def prepare_job(request: str, name: str, source: str | None, data_params: dict) -> str:
    where = Request.from_json(request)
    where.open().dataset(name)().prepare(where.data_path, Path(source) if source else None, data_params)
    return name


def shared_job(request: str, method: str, dataset: str, data_params: dict, work: dict[str, Any], piece: int,
               pieces: int) -> str:
    where = Request.from_json(request)
    reg = where.open()  # the job's CPUs, as a run's job uses them
    data = reg.dataset(dataset)().load(where.data_path, data_params)
    ctx = RunContext(resolve_device(where.device), seed=0, data_root=where.data_path)  # its log says what it fitted
    reg.method(method)().do_shared_work(data, work, ctx, piece, pieces)
    return f"{method} shared work on {dataset}, piece {piece + 1} of {pieces}, done"


def data_stages(sweep: Sweep, reg: Registry, where: Request) -> list[Stage]:
    """One stage per data set of the sweep that is not prepared yet."""
    stages = {}
    for spec in sweep.specs:
        dataset = reg.dataset(spec.dataset)()
        if spec.dataset not in stages and not dataset.is_prepared(where.data_path):
            stages[spec.dataset] = Stage(
                f"prepare {spec.dataset}", prepare_job,
                (where.to_json(), spec.dataset, sweep.sources.get(spec.dataset), spec.data_params))
    return list(stages.values())


def shared_stages(specs: list[RunSpec], reg: Registry, where: Request, jobs: int = 1) -> list[Stage]:
    """One stage per distinct shared work (on one data set) that these runs' methods declare,
    split into `jobs` jobs where the method's work splits (an INR zoo's shards); a stage
    whose work is already done finds it so and ends at once."""
    stages: dict[str, list[Stage]] = {}
    for spec in specs:
        method = reg.method(spec.method)()
        work = method.shared_work(spec.params, spec.seed)
        if work is None:
            continue
        key = json.dumps({"dataset": spec.dataset, "data_params": spec.data_params, "work": work}, sort_keys=True)
        if key not in stages:
            digest = hashlib.sha256(key.encode()).hexdigest()[:12]
            label = f"shared work {digest} of {spec.method} on {spec.dataset} ({', '.join(work)})"
            pieces = max(1, jobs) if method.shared_work_splits else 1
            stages[key] = [Stage(label + (f", piece {k + 1} of {pieces}" if pieces > 1 else ""), shared_job,
                                 (where.to_json(), spec.method, spec.dataset, spec.data_params, work, k, pieces))
                           for k in range(pieces)]
    return [stage for pieces in stages.values() for stage in pieces]


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
