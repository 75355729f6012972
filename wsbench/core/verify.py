"""`wsbench verify`: recompute every stored number from raw predictions and labels.

For each record under RESULTS/runs: its identity hashes to its name and no other
record claims the same identity and seed; its predictions file matches its
checksum, and so does its embeddings file (one row per sample; seed 0's table runs must
keep one where they have embeddings, the others may leave it out); the labels it was
scored against match the prepared data at the data root (or, where that data set
is not prepared here, the stored labels file);
the data and split checksums match the data root; and the epoch choice and every
accuracy recompute exactly from the predictions.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wsbench.core.discovery import Registry
from wsbench.core.errors import DataNotPrepared, UserError
from wsbench.core.fileio import sha256_file
from wsbench.core.protocol import accuracy, select_epoch
from wsbench.core.records import keeps_embeddings, labels_sha, record_problem
from wsbench.core.spec import IDENTITY_KEYS, run_id


class _Labels:
    """Labels and checksums per (data set, data parameters), from the data root, loaded once."""

    def __init__(self, reg: Registry, data_root: Path):
        self.reg, self.data_root, self.cache = reg, data_root, {}

    def get(self, dataset: str, data_params: dict):
        key = (dataset, json.dumps(data_params, sort_keys=True))
        if key not in self.cache:
            try:
                data = self.reg.dataset(dataset)().load(self.data_root, data_params)
                self.cache[key] = (data.val.y.numpy(), data.test.y.numpy(), data.checksums)
            except DataNotPrepared:
                self.cache[key] = None
        return self.cache[key]


def check_record(path: Path, record: dict, results: Path, labels: _Labels) -> list[str]:
    """The problems of one record (empty when every number recomputes)."""
    where = f"{path.name} ({record.get('method')} on {record.get('dataset')} seed {record.get('seed')})"
    problems = []
    rid = run_id({k: record.get(k) for k in IDENTITY_KEYS})
    if rid != record.get("run_id") or path.stem != rid:
        problems.append(f"{where}: its identity hashes to {rid}, but it is named {path.stem} "
                        f"with run_id {record.get('run_id')}")
    if record.get("status") != "ok":
        return problems
    pred_path = results / record["predictions"]["file"]
    if not pred_path.is_file():
        return problems + [f"{where}: predictions file {pred_path} is missing"]
    if sha256_file(pred_path) != record["predictions"]["sha256"]:
        return problems + [f"{where}: predictions file {pred_path} does not match its checksum"]
    try:
        prepared = labels.get(record["dataset"], record["data_params"])
    except UserError as err:
        return problems + [f"{where}: cannot load its data set to check labels: {err}"]
    expected = record["labels"]["sha256"]
    if prepared is not None:
        y_val, y_test, checksums = prepared
        if checksums != record.get("provenance", {}).get("data_checksums"):
            problems.append(f"{where}: data checksums {record.get('provenance', {}).get('data_checksums')} differ "
                            f"from the data root's {checksums}")
    else:
        stored = results / record["labels"]["file"]
        if not stored.is_file():
            return problems + [f"{where}: data set not prepared here and labels file {stored} missing"]
        with np.load(stored) as f:
            y_val, y_test = f["val"], f["test"]
    for split, y in (("val", y_val), ("test", y_test)):
        if labels_sha(y) != expected[split]:
            problems.append(f"{where}: the {split} labels it was scored against differ from "
                            f"{'the prepared data' if prepared is not None else 'the stored labels'}")
    if problems:
        return problems
    sizes = {"val": len(y_val)} if record.get("tune") else {"val": len(y_val), "test": len(y_test)}
    problems += embedding_problems(where, record, results, sizes)
    with np.load(pred_path) as kept:
        for head, s in record["heads"].items():
            val = kept.get(f"val:{head}")
            if val is None or val.shape[1:] != y_val.shape:
                problems.append(f"{where}: head {head!r}: no validation predictions of the right shape")
                continue
            curve = [accuracy(p, y_val) for p in val]
            best = select_epoch(curve)
            if (best + 1, len(curve)) != (s["best_epoch"], s["epochs"]) or abs(curve[best] - s["val_acc"]) > 1e-12:
                problems.append(f"{where}: head {head!r}: predictions give epoch {best + 1} of {len(curve)} at val "
                                f"{curve[best]:.6f}; the record says epoch {s['best_epoch']} of {s['epochs']} at "
                                f"{s['val_acc']:.6f}")
            test = kept.get(f"test:{head}")
            if record.get("tune"):
                if test is not None or "test_acc" in s:
                    problems.append(f"{where}: head {head!r}: a tuning run with a test accuracy or predictions")
            elif test is None or test.shape != y_test.shape:
                problems.append(f"{where}: head {head!r}: no test predictions of the right shape")
            elif abs(accuracy(test, y_test) - s.get("test_acc", np.nan)) > 1e-12 or "test_acc" not in s:
                problems.append(f"{where}: head {head!r}: predictions give test accuracy "
                                f"{accuracy(test, y_test):.6f}; the record says {s.get('test_acc')}")
    return problems


def embedding_problems(where: str, record: dict, results: Path, sizes: dict[str, int]) -> list[str]:
    """The embeddings file, where the record has one: its checksum, and per head an array
    of the recorded width with one row per sample for each split in `sizes`; a run that
    should keep its file (seed 0, not tuning) and names none is a problem too."""
    entry = record.get("embeddings")
    if entry is None:
        return []
    if entry["file"] is None:
        if keeps_embeddings(record["seed"], bool(record.get("tune"))):
            return [f"{where}: names no embeddings file, but seed {record['seed']}'s runs keep theirs "
                    "(the figures and wsbench similarity read them)"]
        return []
    path = results / entry["file"]
    if not path.is_file():
        return [f"{where}: embeddings file {path} is missing"]
    if sha256_file(path) != entry["sha256"]:
        return [f"{where}: embeddings file {path} does not match its checksum"]
    problems = []
    with np.load(path) as kept:
        if extra := sorted(set(kept.files) - {f"{s}:{h}" for s in sizes for h in entry["width"]}):
            problems.append(f"{where}: embeddings file holds arrays the record does not name: {', '.join(extra)}")
        for head, width in entry["width"].items():
            for split, n in sizes.items():
                shape = kept[f"{split}:{head}"].shape if f"{split}:{head}" in kept.files else None
                if shape != (n, width):
                    problems.append(f"{where}: head {head!r}: {split} embeddings of shape {shape}, "
                                    f"expected ({n}, {width})")
    return problems


def verify(results: Path, data_root: Path, reg: Registry) -> tuple[int, list[str]]:
    """(records checked, problems found) for every record under results/runs."""
    paths = sorted((results / "runs").glob("*.json"))
    if not paths:
        raise UserError(f"no run records under {results / 'runs'}; point --results at a results folder")
    labels, problems, seen = _Labels(reg, data_root), [], {}
    for path in paths:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            problems.append(f"{path.name}: unreadable ({err})")
            continue
        if problem := record_problem(record):
            problems.append(f"{path.name}: {problem}")
            continue
        identity = json.dumps({k: record.get(k) for k in IDENTITY_KEYS}, sort_keys=True, default=str)
        if identity in seen:
            problems.append(f"{path.name}: claims the same identity and seed as {seen[identity]}")
        seen.setdefault(identity, path.name)
        problems += check_record(path, record, results, labels)
    return len(paths), problems
