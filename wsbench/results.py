"""Run records: one JSON file per run, named by a hash of what determines the run."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from wsbench.discovery import REPO_ROOT
from wsbench.fileio import atomic_write_json
from wsbench.protocol import PROTOCOL_VERSION

PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "tabulate", "wsbench")


def run_identity(method: str, params: dict, dataset: str, data_params: dict, seed: int) -> dict:
    return {"method": method, "params": params, "dataset": dataset, "data_params": data_params,
            "seed": seed, "protocol": PROTOCOL_VERSION}


def run_id(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def record_path(results: Path, rid: str) -> Path:
    return results / "runs" / f"{rid}.json"


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_record(results: Path, record: dict) -> Path:
    path = record_path(results, record["run_id"])
    atomic_write_json(path, record)
    return path


def load_records(results: Path) -> list[dict]:
    """Every readable record under results/runs; unreadable files are reported, not fatal."""
    records = []
    for path in sorted((results / "runs").glob("*.json")):
        record = read_record(path)
        if record is None:
            warnings.warn(f"skipping unreadable record {path}")
        else:
            records.append(record)
    return records


def code_version() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
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
