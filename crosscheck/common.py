"""What every cross-check against an authors' checkout shares: the batch (wsbench's own
INRs, fitted by wsbench's zoo recipe), float64, the comparison of logits and of training
losses, the throughput measurement and the committed result file.

A check script builds the authors' model from their checkout (given by path, never copied
into this project), converts its parameters into wsbench's model, and hands both sides to
`compare`. Each side brings its own preprocessing (canonicalisation, normalisation) inside
its forward function, so the check covers it too.
"""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from wsbench.core.contracts import Split
from wsbench.core.discovery import discover
from wsbench.core.fileio import atomic_write_json
from wsbench.core.params import resolve
from wsbench.core.paths import plugin_dirs
from wsbench.inr.fit import fit_in_chunks
from wsbench.inr.fields import Field
from wsbench.inr.siren import SirenLayout, pixel_grid
from wsbench.zoo.recipe import QUICK_ZOO, RECIPE

RESULTS = Path(__file__).resolve().parents[1] / "results" / "reference" / "crosscheck"
LOGIT_RTOL, LOSS_ATOL, STEPS = 1e-6, 1e-5, 20
# The training steps are compared a second time with this warm-up, so that they reach the full
# rate: a published warm-up of 1,000 steps or more leaves the first 20 at 2% of it or less.
SHORT_WARMUP = 10


def arguments(method: str, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"crosscheck/{method}.py", description=description)
    parser.add_argument("authors", type=Path, help="a checkout of the authors' repository (outside this project)")
    parser.add_argument("--batch", type=int, default=32, help="INRs per training step (default 32)")
    parser.add_argument("--out", type=Path, default=RESULTS / f"{method}.json",
                        help="where the result goes (default results/reference/crosscheck/<method>.json)")
    args = parser.parse_args()
    if not args.authors.is_dir():
        parser.error(f"{args.authors}: no such folder (give the authors' checkout)")
    return args


def checkout(path: Path) -> dict[str, str | None]:
    """Put the checkout on sys.path; its commit (None outside a git work tree)."""
    sys.path.insert(0, str(path.resolve()))
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return {"path": str(path.resolve()), "commit": done.stdout.strip() or None}


def registry():
    """The shipped plugins, as `wsbench` finds them."""
    return discover(plugin_dirs(Path(__file__).resolve().parents[1], []))


def digits_train() -> Split:
    """wsbench's digits training split as its data-set plugin loads it: images (N, 8, 8, 1)."""
    cls = registry().dataset("digits")
    return cls().load(Path(), resolve(cls, {})).train


def profile_mismatches(params: dict, published: dict) -> list[str]:
    """Where a resolved profile departs from the authors' published values, as `key: ours != theirs`."""
    return [f"{k}: {params.get(k)!r} != {v!r}" for k, v in published.items() if params.get(k) != v]


def wsbench_inrs(n: int, seed: int = 0) -> tuple[SirenLayout, torch.Tensor, torch.Tensor]:
    """n INRs of scikit-learn's digits (the first n training images of wsbench's split),
    fitted by the quick zoo recipe (DWSNet's initialisation and +0.5 offset, 400 Adam
    steps): the layout, the flat weights in float64 (n, P) and the labels."""
    train = digits_train()
    images = train.x[:n].reshape(n, 64, 1)
    layout = SirenLayout((2, 32, 32, 1))
    init = layout.init(n, torch.Generator().manual_seed(seed), scheme=QUICK_ZOO["inr_init_scheme"])
    weights, _ = fit_in_chunks(layout, Field(pixel_grid(8, 8), images, "mse"), init, QUICK_ZOO["inr_steps"],
                               RECIPE["inr_lr"].default, offset=QUICK_ZOO["inr_offset"])
    return layout, weights.double(), train.y[:n].long()


class EmptyModule(types.ModuleType):
    """A stand-in for a module an authors' import pulls in but the checked path never uses:
    any attribute is another empty module, and calling one returns one."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return EmptyModule(name)

    def __call__(self, *args, **kwargs):
        return EmptyModule("result")


def stand_in(*names: str, always: bool = False) -> None:
    """Empty modules for these names: where they cannot be imported, or `always` (a module of
    the checkout whose own imports need what is not installed)."""
    for name in names:
        if not always:
            try:
                importlib.import_module(name)
                continue
            except ImportError:
                pass
        sys.modules[name] = EmptyModule(name)


def without_verbose(warmup_class: type) -> type:
    """The authors' warm-up scheduler (ScaleGMN's and the neural graphs' share one shape) built
    without the `verbose` argument their __init__ passes, which torch 2.13's LRScheduler no
    longer takes; their schedule (get_lr) is theirs, untouched."""
    from torch.optim.lr_scheduler import LRScheduler

    class Warmup(warmup_class):
        def __init__(self, optimizer, warmup_steps=10000):
            self.warmup_steps = warmup_steps
            LRScheduler.__init__(self, optimizer)

    return Warmup


@dataclass
class Side:
    """One code's model: `logits(batch)` for a batch of wsbench's flat weights (each side's
    preprocessing inside), `train_step(batch, y)` one training step returning the loss."""

    logits: Callable[[torch.Tensor], torch.Tensor]
    train_step: Callable[[torch.Tensor, torch.Tensor], float]


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def compare(authors: Side, ours: Side, weights: torch.Tensor, labels: torch.Tensor, batch: int,
            steps: int = STEPS) -> dict[str, float]:
    """Equal logits on the whole batch, then `steps` training steps of both sides on the same
    minibatches (a fixed cycle through the INRs): the largest differences."""
    with torch.no_grad():
        logit_error = relative_error(ours.logits(weights), authors.logits(weights))
    order = torch.randperm(len(weights), generator=torch.Generator().manual_seed(0))
    losses = []
    for k in range(steps):
        idx = order[(k * batch + torch.arange(batch)) % len(weights)]
        losses.append((authors.train_step(weights[idx], labels[idx]), ours.train_step(weights[idx], labels[idx])))
    return {"max_logit_relative_error": logit_error,
            "max_loss_difference": max(abs(a - b) for a, b in losses),
            "losses_authors": [a for a, _ in losses], "losses_wsbench": [b for _, b in losses]}


def with_short_warmup(result: dict, short: dict) -> dict:
    """`result` with a second comparison from the same parameters at SHORT_WARMUP warm-up steps
    (`short`) under "short_warmup"; the largest loss difference is over both."""
    return {**result, "max_loss_difference": max(result["max_loss_difference"], short["max_loss_difference"]),
            "short_warmup": {"warmup_steps": SHORT_WARMUP,
                             **{k: v for k, v in short.items() if k != "max_logit_relative_error"}}}


def samples_per_second(step: Callable[[torch.Tensor, torch.Tensor], float], weights: torch.Tensor,
                       labels: torch.Tensor, batch: int, seconds: float = 5.0) -> float:
    """Training samples per second of one side's step in float32, one thread, after a warm-up step."""
    weights, threads = weights.float(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        step(weights[:batch], labels[:batch])
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            idx = torch.arange(done, done + batch) % len(weights)
            step(weights[idx], labels[idx])
            done += batch
        return done / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)


def report(method: str, args: argparse.Namespace, source: dict, configuration: dict, result: dict,
           rates: dict[str, float], adapter_version: int | None = None, adapter_params: dict | None = None) -> None:
    """Print the verdict and write the result file; exit 1 when a tolerance is broken.
    `adapter_version`: the version of the method plugin whose rows use the checked network
    and recipe (None while the adapter still uses another); `adapter_params`: the parameter
    values that choose it, where the plugin has more than one network."""
    ok = (result["max_logit_relative_error"] <= LOGIT_RTOL and result["max_loss_difference"] <= LOSS_ATOL
          and all(part.get("equal", True) for part in result.values() if isinstance(part, dict)))
    record = {"method": method, "authors": source, "configuration": configuration, "dtype": "float64",
              "batch": args.batch, "steps": len(result["losses_wsbench"]),
              "tolerances": {"logit_relative": LOGIT_RTOL, "loss_absolute": LOSS_ATOL}, **result,
              "samples_per_second": {**rates, "measured": "float32, one thread, one run"}, "equal": ok,
              "adapter_version": adapter_version, "adapter_params": adapter_params or {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, record)
    print(f"{method}: logits rel. error {result['max_logit_relative_error']:.2e}, "
          f"{record['steps']}-step losses within {result['max_loss_difference']:.2e}; "
          + "".join(f"{name} within {part['max_difference']:.2e}; " for name, part in result.items()
                    if isinstance(part, dict) and "max_difference" in part) +
          f"samples/s authors {rates['authors']:.1f}, wsbench {rates['wsbench']:.1f} -> "
          f"{'equal' if ok else 'DIFFERENT'} (written to {args.out})")
    sys.exit(0 if ok else 1)
