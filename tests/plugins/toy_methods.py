"""Tiny methods for harness tests: deterministic, instant, and failing, stalling, peeking at
held-out labels or returning malformed predictions on demand."""
import os
import time
from pathlib import Path

import numpy as np

from wsbench.api import HeadResult, Method, MethodOutput, Param


def guesses(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, num_classes, n)


class Oracle(Method):
    """Nearest class mean of the raw signals (it sees only the training labels)."""
    name = "oracle"
    params = {"fail_seed": Param(-1, "raise on this seed"),
              "stall_seed": Param(-1, "on this seed touch $TOY_MARKER and sleep (unless $TOY_FAST)"),
              "noise": Param(0.1, "fraction of predictions replaced by a random class"),
              "hog_mb": Param(0, "on seed 0, hold this many MB for a moment")}
    profiles = {"quick": {}, "smoke": {}}

    def run(self, data, params, ctx):
        if ctx.seed == params["fail_seed"]:
            raise RuntimeError(f"planned failure on seed {ctx.seed}")
        if ctx.seed == params["stall_seed"] and not os.environ.get("TOY_FAST"):
            Path(os.environ["TOY_MARKER"]).write_text(str(os.getpid()))
            time.sleep(120)
        if ctx.seed == 0 and params["hog_mb"]:
            np.ones(params["hog_mb"] << 17).sum()  # 8-byte floats, every page touched
        rng = np.random.default_rng(ctx.seed)
        x, y = data.train.x.flatten(1).numpy(), data.train.y.numpy()
        means = np.stack([x[y == c].mean(0) for c in range(data.num_classes)])

        def predict(split):
            pred = ((split.x.flatten(1).numpy()[:, None] - means[None]) ** 2).sum(-1).argmin(1)
            noisy = rng.random(len(pred)) < params["noise"]
            pred[noisy] = guesses(noisy.sum(), data.num_classes, rng)
            return pred
        epochs = [(predict(data.val), predict(data.test)) for _ in range(3)]
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
        zeros = HeadResult([np.zeros(len(data.val), np.int64)], [np.zeros(len(data.test), np.int64)])
        return MethodOutput(heads={"h": zeros}, metrics={"resumed_from": float(resumed_from)})


class Peeker(Method):
    """Tries to read the labels of a held-out split (`split`: val or test)."""
    name = "peeker"
    params = {"split": Param("test", "the split whose labels it reads", choices=("val", "test"))}
    profiles = {"quick": {}, "smoke": {}}

    def run(self, data, params, ctx):
        rng = np.random.default_rng(ctx.seed)
        pred = {s: guesses(len(getattr(data, s)), data.num_classes, rng) for s in ("val", "test")}
        pred[params["split"]] = getattr(data, params["split"]).y.numpy()  # a perfect score, if it got them
        return MethodOutput(heads={"h": HeadResult([pred["val"]], [pred["test"]])})


class Malformed(Method):
    """Returns one kind of malformed predictions on its second epoch (`kind`)."""
    name = "malformed"
    params = {"kind": Param("scalar", "what is wrong", choices=("scalar", "column", "short", "float", "range",
                                                                 "none"))}
    profiles = {"quick": {}, "smoke": {}}

    def run(self, data, params, ctx):
        rng = np.random.default_rng(ctx.seed)
        good = [guesses(len(data.val), data.num_classes, rng) for _ in range(2)]
        bad = {"scalar": np.int64(0), "column": good[1][:, None], "short": good[1][:1],
               "float": good[1].astype(np.float64), "range": good[1] + data.num_classes, "none": good[1]}
        val = [good[0], bad[params["kind"]]]
        return MethodOutput(heads={"h": HeadResult(val, [guesses(len(data.test), data.num_classes, rng)] * 2)})


class Artist(Method):
    """Keeps embeddings with `missing_rows` rows too few, and reports a NaN metric on demand."""
    name = "artist"
    params = {"missing_rows": Param(0, "test embedding rows left out", low=0),
              "nan_metric": Param(False, "report a metric that is NaN")}
    profiles = {"quick": {}, "smoke": {}}

    def run(self, data, params, ctx):
        z = {s: np.random.default_rng(0).normal(size=(len(getattr(data, s)), 2)).astype(np.float32)
             for s in ("val", "test")}
        z["test"] = z["test"][:len(z["test"]) - params["missing_rows"]]
        zeros = HeadResult([np.zeros(len(data.val), np.int64)], [np.zeros(len(data.test), np.int64)], embeddings=z)
        return MethodOutput(heads={"h": zeros}, metrics={"spread": float("nan") if params["nan_metric"] else 0.0})
