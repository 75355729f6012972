"""One run, in this process: load the data, run the method on the blinded splits, check and
score every head against the labels only the harness holds, account its cost, write its
record. wsbench.core.worker calls it in a process of its own."""
from __future__ import annotations

import shutil
import traceback
import uuid
from pathlib import Path

import torch

from wsbench.core import reconstruction
from wsbench.core.context import RunContext, peak_rss_mb
from wsbench.core.discovery import Registry
from wsbench.core.errors import ProtocolViolation, UserError
from wsbench.core.protocol import checked_embeddings, score_head, seed_everything
from wsbench.core.records import (RunRecord, keeps_embeddings, now, package_versions, provenance, write_embeddings,
                                  write_labels, write_predictions, write_record)
from wsbench.core.request import Request, resolve_device
from wsbench.core.spec import RunSpec


def checkpoint_dir(request: Request, spec: RunSpec) -> Path:
    """Where a run's long stages keep their checkpoints until its record is written."""
    return request.results_path / "checkpoints" / spec.run_id


def execute(reg: Registry, request: Request) -> dict:
    """Run `request.spec` here and write its record; return the record."""
    spec, results, data_root, device = request.spec, request.results_path, request.data_path, \
        resolve_device(request.device)
    plugins = reg.files(spec.method, spec.dataset)
    code = {**{f["file"]: f["sha256"] for f in plugins.values()}, "wsbench": package_versions()["wsbench"]}
    ctx = RunContext(device, spec.seed, quiet=request.quiet, checkpoint_dir=checkpoint_dir(request, spec),
                     artifact_dir=results / "artifacts" / spec.run_id, data_root=data_root, code=code)
    record = RunRecord.begin(spec, attempt=request.attempt or uuid.uuid4().hex)
    try:
        with ctx.stage("load_data"):
            data = reg.dataset(spec.dataset)().load(data_root, spec.data_params)
        record.provenance = {**provenance(device), "plugins": plugins, "data_checksums": data.checksums}
        ctx.shared.update(data.shared_costs)
        method = reg.method(spec.method)()
        record.weight_space = method.weight_space
        if reason := method.unsupported(data.modality, spec.params):
            record.update(status="skipped", reason=reason)
        else:
            seed_everything(spec.seed)
            out = method.run(data.blind(), dict(spec.params), ctx)
            record.update(status="ok", **score(request, data, out, ctx))
    except ProtocolViolation as err:
        record.update(status="failed", error=f"protocol violation: {err}")
    except UserError as err:  # bad input found inside the run (a corrupt file): its message, no traceback
        record.update(status="failed", error=str(err))
    except Exception:
        record.update(status="failed", error=traceback.format_exc())
    record.update(cost=run_cost(ctx), finished=now())
    write_record(results, record)
    if record.status == "ok":
        shutil.rmtree(ctx.checkpoint_dir, ignore_errors=True)
    return record.to_dict()


def score(request: Request, data, out, ctx: RunContext) -> dict:
    """Scores, kept predictions and reconstruction metrics of a method's output."""
    spec, results = request.spec, request.results_path
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
            "predictions": write_predictions(results, spec.run_id, kept),
            "embeddings": write_embeddings(results, spec.run_id, embeddings, keeps_embeddings(spec.seed, spec.tune)),
            "labels": write_labels(results, spec.dataset, y_val, y_test)}


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
