"""Wall and CPU time of a piece of work, and the cost entry of a product shared between runs.

Low in the package (no other wsbench import), so data sets, zoos and the run context
measure the same way.
"""
from __future__ import annotations

import time


class Clock:
    """Wall and CPU seconds (all threads of this process) since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> dict[str, float]:
        return {"wall_s": round(time.perf_counter() - self.wall, 3), "cpu_s": round(time.process_time() - self.cpu, 3)}


def shared_cost(total: dict[str, float], here: dict[str, float]) -> dict[str, float]:
    """A shared product's cost entry: `total` is what building it took (wall_s, cpu_s),
    whoever built it; `here` the part of it that this run spent."""
    return {**total, "here_wall_s": here["wall_s"], "here_cpu_s": here["cpu_s"]}
