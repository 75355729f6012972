"""Run records: one JSON file per run (the RunRecord model builds and checks it), named by
a hash of what determines the run, with its per-sample predictions beside it and the labels
they were scored against.

    RESULTS/runs/<run id>.json             the record
    RESULTS/predictions/<run id>.npz       validation predictions of every epoch, test of the selected one
    RESULTS/embeddings/<run id>.npz        each head's validation and test embeddings (float16), seed 0 only
    RESULTS/labels/<data set>-<sha>.npz    the validation and test labels, stored once per content
"""
from __future__ import annotations

import io
import json
import platform
import subprocess
import sys
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from wsbench.core.paths import SOURCE_TREE
from wsbench.core.errors import Notice
from wsbench.core.fileio import atomic_write_bytes, atomic_write_json, sha256_bytes
from wsbench.core.spec import RunSpec

PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "tabulate", "wsbench")
# 2: labels, predictions, versions, tune flag, complete per-run cost; 3: embeddings
SCHEMA_VERSION = 3
STATUSES = ("ok", "failed", "skipped")
FINISHED = ("ok", "skipped")  # a run with such a record is not run again (unless forced)


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("record", message)


class RunRecord(BaseModel):
    """One run's record: the fields every record holds, whatever its status, checked here;
    the rest (identity, heads, cost, provenance, files) is kept as written."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    schema_: StrictInt = Field(alias="schema")
    run_id: StrictStr
    method: StrictStr
    dataset: StrictStr
    seed: StrictInt
    status: StrictStr

    @model_validator(mode="after")
    def _readable(self) -> RunRecord:
        """What this wsbench reads: its schema, a known status, an ok record's scored heads,
        an embeddings entry of a known form."""
        if self.schema_ != SCHEMA_VERSION:
            raise _problem(f"record schema {self.schema_}, this wsbench reads {SCHEMA_VERSION} (rerun it)")
        if self.status not in STATUSES:
            raise _problem(f"status {self.status!r} is none of {', '.join(STATUSES)}")
        heads = self.get("heads")
        if self.status == "ok" and (not isinstance(heads, dict) or not heads
                                    or not all(isinstance(h, dict) and "val_acc" in h for h in heads.values())):
            raise _problem("an ok record without scored heads")
        if problem := embeddings_problem(self.get("embeddings")):
            raise _problem(problem)
        return self

    def get(self, key: str, default: Any = None) -> Any:
        """A field beyond the checked ones, as written (None where absent)."""
        return (self.__pydantic_extra__ or {}).get(key, default)

    @classmethod
    def begin(cls, spec: RunSpec, **fields: Any) -> RunRecord:
        """A run's record as it starts: its identity, profile and start time; the run adds the rest."""
        return cls.model_construct(schema=SCHEMA_VERSION, run_id=spec.run_id, **spec.identity, profile=spec.profile,
                                   started=now(), **fields)

    @classmethod
    def died(cls, spec: RunSpec, error: str, log: str) -> RunRecord:
        """The record of a run whose process died before it could write one itself."""
        return cls.begin(spec, status="failed", error=error, log=log, finished=now())

    def update(self, **fields: Any) -> None:
        for key, value in fields.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_path(results: Path, rid: str) -> Path:
    return results / "runs" / f"{rid}.json"


def read_record(path: Path) -> dict | None:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_record(results: Path, record: dict | RunRecord) -> Path:
    """Write a record atomically, once the model has checked it (a wrong one is a harness bug)."""
    doc = record.to_dict() if isinstance(record, RunRecord) else record
    if problem := record_problem(doc):
        raise ValueError(f"refusing to write run record {doc.get('run_id')}: {problem}")
    path = record_path(results, doc["run_id"])
    atomic_write_json(path, doc)
    return path


# What every run record holds, whatever its status (the model's checked fields); an `ok` one also has its heads.
RECORD_FIELDS = tuple(f.alias or name for name, f in RunRecord.model_fields.items())


def record_problem(doc: Any) -> str | None:
    """Why a parsed JSON document is not a run record this wsbench reads, or None."""
    if not isinstance(doc, dict):
        return f"a JSON {type(doc).__name__}, not a run record"
    try:
        RunRecord.model_validate(doc)
    except ValidationError as err:
        errors = err.errors()
        if missing := [str(e["loc"][0]) for e in errors if e["type"] == "missing"]:
            return f"not a run record (no {', '.join(missing)})"
        if wrong := [str(e["loc"][0]) for e in errors if e["loc"]]:
            return f"not a run record ({', '.join(f'{k} is {doc[k]!r}' for k in wrong)})"
        return errors[0]["msg"]
    return None


def current_record(results: Path, rid: str) -> dict | None:
    """The record of a run that this wsbench reads, or None (none yet, unreadable, or an
    older schema's, which is run again)."""
    record = read_record(record_path(results, rid))
    return record if record is not None and record_problem(record) is None else None


def finished(record: dict | None) -> bool:
    """The one rule for "this run is done": a current record that succeeded or was skipped
    (the method does not apply); a failed run, or one with no current record, is run again."""
    return record is not None and record_problem(record) is None and record["status"] in FINISHED


def summarize(record: dict) -> str:
    """One line for the console: the run, its status or accuracies, and its time."""
    head = f"{record['method']} on {record['dataset']} seed {record['seed']}"
    if record["status"] != "ok":
        reason = record.get("reason") or record.get("error", "").strip().splitlines()[-1]
        return f"{head}: {record['status'].upper()} ({reason})"
    if record.get("tune"):
        accs = ", ".join(f"{h} val {100 * s['val_acc']:.2f}%" for h, s in record["heads"].items())
        return f"{head} (tuning, no test accuracy): {accs} in {record['cost']['pipeline_wall_s']:.0f} s"
    accs = ", ".join(f"{h} {100 * s['test_acc']:.2f}%" for h, s in record["heads"].items())
    return f"{head}: {accs} in {record['cost']['pipeline_wall_s']:.0f} s"


def load_records(results: Path) -> list[dict]:
    """Every readable run record under results/runs; any other file there is named in a
    warning and skipped (`wsbench verify` fails on it)."""
    records = []
    for path in sorted((results / "runs").glob("*.json")):
        record = read_record(path)
        problem = "unreadable JSON" if record is None else record_problem(record)
        if problem:
            warnings.warn(f"skipping {path}: {problem}", Notice)
        else:
            records.append(record)
    return records


def labels_sha(y: np.ndarray) -> str:
    """Checksum of a label vector's values (int64), independent of how it is stored."""
    return sha256_bytes(np.ascontiguousarray(y, dtype=np.int64).tobytes())


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def write_labels(results: Path, dataset: str, y_val: np.ndarray, y_test: np.ndarray) -> dict:
    """Store the labels a run was scored against (once per content); returns the record's entry."""
    sha = {"val": labels_sha(y_val), "test": labels_sha(y_test)}
    name = f"labels/{dataset}-{sha256_bytes((sha['val'] + sha['test']).encode())[:16]}.npz"
    if not (results / name).is_file():
        atomic_write_bytes(results / name, _npz({"val": y_val.astype(np.int64), "test": y_test.astype(np.int64)}))
    return {"file": name, "sha256": sha}


def write_predictions(results: Path, rid: str, kept: dict[str, np.ndarray]) -> dict:
    """Store a run's per-sample predictions; returns the record's entry (path and checksum)."""
    data = _npz(kept)
    name = f"predictions/{rid}.npz"
    atomic_write_bytes(results / name, data)
    return {"file": name, "sha256": sha256_bytes(data)}


# The one seed whose table runs store their embeddings: the figures and `wsbench similarity`
# read no other, and every seed's files would make most of a repository that keeps its results.
EMBEDDINGS_SEED = 0
NOT_KEPT = f"not kept: only seed {EMBEDDINGS_SEED}'s runs keep their embeddings (figures, wsbench similarity)"


def keeps_embeddings(seed: int, tune: bool) -> bool:
    """Whether a run stores its embeddings file (tuning runs feed neither figures nor similarity)."""
    return seed == EMBEDDINGS_SEED and not tune


def write_embeddings(results: Path, rid: str, kept: dict[str, np.ndarray], keep: bool) -> dict | None:
    """Store a run's per-sample embeddings ("<split>:<head>" -> float16 (N, D)) where `keep`;
    returns the record's entry: path, checksum and each head's width, or, not kept, the
    widths with file None and why; None when no head has any."""
    if not kept:
        return None
    width = {key.split(":", 1)[1]: int(a.shape[1]) for key, a in kept.items() if key.startswith("val:")}
    if not keep:
        return {"file": None, "width": width, "note": NOT_KEPT}
    data = _npz(kept)
    name = f"embeddings/{rid}.npz"
    atomic_write_bytes(results / name, data)
    return {"file": name, "sha256": sha256_bytes(data), "width": width}


def embeddings_problem(entry: Any) -> str | None:
    """Why a record's `embeddings` entry is none of: null (no head has any), a kept file
    (file, sha256, width) or one not kept (file null, width)."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("width"), dict):
        return f"embeddings entry {entry!r} has no width per head"
    if entry.get("file") is None:
        return None
    if not isinstance(entry["file"], str) or not isinstance(entry.get("sha256"), str):
        return f"embeddings entry names file {entry['file']!r} without a sha256"
    return None


def code_version() -> dict[str, Any]:
    """The git commit of wsbench's source checkout (none for an installed wheel)."""
    if SOURCE_TREE is None:
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(SOURCE_TREE), *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD") or None,
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def provenance(device: torch.device) -> dict[str, Any]:
    return {"code": code_version(), "packages": package_versions(), "python": sys.version.split()[0],
            "device": device_description(device), "host": platform.node(), "command": sys.argv}
