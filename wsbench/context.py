"""What the harness hands a method during one run: device, seed, progress bars, stage timing."""
from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import torch
from tqdm.auto import tqdm


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class RunContext:
    device: torch.device
    seed: int
    quiet: bool = False
    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    def progress(self, iterable: Iterable | None = None, desc: str = "", total: int | None = None,
                 unit: str = "it") -> tqdm:
        """A progress bar that stays silent when stderr is not a terminal (logs, CI)."""
        disable = self.quiet or not sys.stderr.isatty()
        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, disable=disable,
                    dynamic_ncols=True)

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
            cost = {"seconds": round(time.perf_counter() - start, 3), "peak_rss_mb": round(peak_rss_mb(), 1)}
            if self.device.type == "cuda":
                cost["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
            self.stages[name] = cost

    def log(self, message: str) -> None:
        if not self.quiet:
            tqdm.write(message, file=sys.stderr)
