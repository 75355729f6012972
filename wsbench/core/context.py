"""What the harness hands a method during one run: device, seed, progress bars, stage timing,
checkpoints and the cost of shared products (INR zoos) the run uses; it also keeps the
harness's own artefacts (recovered shapes)."""
from __future__ import annotations

import io
import json
import resource
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from wsbench.core.fileio import atomic_write_bytes, atomic_write_json
from wsbench.core.timing import Clock, shared_cost


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB; each run has a process of its
    own (wsbench.core.worker), so this is the run's own peak. Linux's VmHWM belongs to the
    process's own memory map, whereas ru_maxrss carries over the parent's resident memory
    at fork through exec, so a large parent would inflate every run's figure."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 ** 2 if sys.platform == "darwin" else 1024)


ATTEMPTS_FILE = "attempts.json"
CODE_FILE = "code.json"  # the fingerprint of the code that wrote a run's checkpoints


def stale_code(checkpoint_dir: Path, code: dict[str, str]) -> str | None:
    """Why the checkpoints in this folder were written by code other than `code` (plugin file
    or wsbench version -> fingerprint), or None if they were not (or there are none)."""
    if not checkpoint_dir.is_dir() or not any(checkpoint_dir.iterdir()):
        return None
    try:
        written = json.loads((checkpoint_dir / CODE_FILE).read_text())
    except (OSError, ValueError):
        return "they name no code fingerprint"
    if not isinstance(written, dict):
        return "they name no code fingerprint"
    if changed := [k for k in sorted({*written, *code}) if written.get(k) != code.get(k)]:
        return f"{', '.join(changed)} changed"
    return None


def read_attempts(checkpoint_dir: Path | None) -> list[dict[str, float]]:
    """Wall and CPU seconds of earlier attempts of a run, each up to its last checkpoint."""
    try:
        doc = json.loads((checkpoint_dir / ATTEMPTS_FILE).read_text())
        return [*doc["earlier"], doc["last"]]
    except (OSError, ValueError, TypeError, KeyError):
        return []


@dataclass
class RunContext:
    device: torch.device
    seed: int
    quiet: bool = False
    checkpoint_dir: Path | None = None
    artifact_dir: Path | None = None
    data_root: Path | None = None  # where shared derived data (INR zoos) is kept
    code: dict[str, str] = field(default_factory=dict)  # fingerprint of the code run: plugin files, wsbench
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    shared: dict[str, dict[str, float]] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)  # this attempt of the run
    resumed: bool = False
    earlier: list[dict[str, float]] = field(default_factory=list)  # attempts before this one

    def __post_init__(self):
        """Checkpoints written by other code (a plugin edited since, another wsbench) would
        restore state that this code did not compute: they are removed, and the run starts
        afresh."""
        if self.checkpoint_dir is not None and (why := stale_code(self.checkpoint_dir, self.code)):
            self.log(f"checkpoints of {self.checkpoint_dir.name} were written by other code ({why}): "
                     f"starting afresh")
            shutil.rmtree(self.checkpoint_dir)
        self.earlier = read_attempts(self.checkpoint_dir)

    def shared_cost(self, name: str, total: dict[str, float], here: dict[str, float]) -> None:
        """Record a product shared between runs (an INR zoo): `total` is what building it
        cost (wall_s, cpu_s) whoever built it, `here` the part of it this run spent.
        Every run that uses it carries the total, so each run's cost is complete."""
        self.shared[name] = shared_cost(total, here)

    def progress(self, iterable: Iterable | None = None, desc: str = "", total: int | None = None,
                 unit: str = "it", initial: int = 0) -> tqdm:
        """A progress bar that stays silent when stderr is not a terminal (logs, CI)."""
        disable = self.quiet or not sys.stderr.isatty()
        return tqdm(iterable, desc=desc, total=total, unit=unit, initial=initial, leave=False,
                    disable=disable, dynamic_ncols=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage and record the peak memory reached by its end."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            cost = {"wall_s": round(time.perf_counter() - start, 3), "peak_rss_mb": round(peak_rss_mb(), 1)}
            if self.device.type == "cuda":
                cost["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
            self.stages[name] = cost

    def log(self, message: str) -> None:
        if not self.quiet:
            tqdm.write(message, file=sys.stderr)

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """Checkpoint a long stage so that a killed or requeued job resumes here, not from
        scratch; the time spent so far is kept beside it, so a resumed run's cost
        includes the attempts before it. Methods checkpoint through wsbench.train.loop."""
        if self.checkpoint_dir is not None:
            buffer = io.BytesIO()
            torch.save(state, buffer)
            atomic_write_json(self.checkpoint_dir / CODE_FILE, self.code)  # before the state it vouches for
            atomic_write_bytes(self.checkpoint_dir / f"{name}.pt", buffer.getvalue())
            atomic_write_json(self.checkpoint_dir / ATTEMPTS_FILE,
                              {"earlier": self.earlier, "last": self.clock.elapsed()})

    def load_state(self, name: str) -> dict[str, Any] | None:
        path = self.checkpoint_dir / f"{name}.pt" if self.checkpoint_dir is not None else None
        if path is None or not path.is_file():
            return None
        self.log(f"resuming {name} from {path}")
        self.resumed = True
        return torch.load(path, map_location=self.device, weights_only=False)

    def keep_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Write the harness's own artefact (recovered shapes) beside the record."""
        if self.artifact_dir is not None:
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            atomic_write_bytes(self.artifact_dir / f"{name}.npz", buffer.getvalue())
