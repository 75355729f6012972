"""What crosses a process or job boundary (a run's own process, a submitit job, a sweep's
stage job): one request, serialised one way (JSON), and the receiving side's set-up,
written once: its CPU threads, and its plugins found again in the same folders."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from wsbench.core.discovery import Registry, discover
from wsbench.core.errors import UserError
from wsbench.core.spec import RunSpec


def resolve_device(flag: str) -> torch.device:
    """--device auto, cpu or cuda[:N] as a torch device; a GPU asked for and absent is an error."""
    if flag == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if flag.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {flag}: no CUDA GPU is visible to torch")
    try:
        return torch.device(flag)
    except RuntimeError:
        raise UserError(f"--device {flag!r}: expected auto, cpu or cuda[:N]") from None


@dataclass(frozen=True)
class Request:
    """Where and how to do wsbench work elsewhere, and, for a run, which run (its spec and
    this attempt's id, which the record it writes carries)."""

    data_root: str
    results: str
    device: str  # a --device flag, resolved where the work runs
    plugin_dirs: list[str]
    threads: int = 0  # CPU threads (0: torch's default)
    quiet: bool = False
    log: str = ""  # where the work's output goes (a job's log), named in records of runs that died
    spec: RunSpec | None = None
    attempt: str = ""

    def for_run(self, spec: RunSpec, attempt: str) -> Request:
        return dataclasses.replace(self, spec=spec, attempt=attempt)

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "spec": self.spec.to_dict() if self.spec else None})

    @classmethod
    def from_json(cls, text: str) -> Request:
        doc = json.loads(text)
        return cls(**{**doc, "spec": RunSpec.from_dict(doc["spec"]) if doc["spec"] else None})

    def open(self) -> Registry:
        """Set up the receiving process: its threads, and the plugins of the sender's folders."""
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        return discover(self.plugin_dirs)

    @property
    def data_path(self) -> Path:
        return Path(self.data_root)

    @property
    def results_path(self) -> Path:
        return Path(self.results)
