"""Tiny methods for harness tests: deterministic, instant, and failing or stalling on demand."""
import os
import time
from pathlib import Path

import numpy as np

from wsbench.api import HeadResult, Method, MethodOutput, Param


class Oracle(Method):
    """Predicts the true labels, wrong on a seed-dependent fraction of samples."""
    name = "oracle"
    params = {"error": Param(0.1, "fraction of wrong predictions"),
              "fail_seed": Param(-1, "raise on this seed"),
              "stall_seed": Param(-1, "on this seed touch $TOY_MARKER and sleep (unless $TOY_FAST)")}
    profiles = {"quick": {}, "smoke": {}}

    def run(self, data, params, ctx):
        if ctx.seed == params["fail_seed"]:
            raise RuntimeError(f"planned failure on seed {ctx.seed}")
        if ctx.seed == params["stall_seed"] and not os.environ.get("TOY_FAST"):
            Path(os.environ["TOY_MARKER"]).write_text(str(os.getpid()))
            time.sleep(120)
        rng = np.random.default_rng(ctx.seed)

        def noisy(y):
            y = y.numpy().copy()
            wrong = rng.random(len(y)) < params["error"]
            y[wrong] = (y[wrong] + 1) % data.num_classes
            return y
        epochs = [(noisy(data.val.y), noisy(data.test.y)) for _ in range(3)]
        return MethodOutput(heads={"h": HeadResult([v for v, _ in epochs], [t for _, t in epochs])},
                            metrics={"calls": 1.0})


class Counter(Method):
    """Counts to `steps`, one step per `step_seconds`, checkpointing after every step."""
    name = "counter"
    params = {"steps": Param(20, "steps to count"), "step_seconds": Param(0.25, "sleep per step")}
    profiles = {"quick": {}, "smoke": {"steps": 2, "step_seconds": 0.0}}

    def run(self, data, params, ctx):
        state = ctx.load_state("count") or {"step": 0}
        resumed_from = state["step"]
        for step in range(resumed_from, params["steps"]):
            time.sleep(params["step_seconds"])
            ctx.save_state("count", {"step": step + 1})
        exact = HeadResult([data.val.y.numpy()], [data.test.y.numpy()])
        return MethodOutput(heads={"h": exact}, metrics={"resumed_from": float(resumed_from)})
